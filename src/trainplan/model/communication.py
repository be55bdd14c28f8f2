r"""Communication inside the layers: tensor and context parallelism, per layer and micro-batch.

Tensor parallelism (TP) all-reduces activations inside every layer [1]_
(all-gather + reduce-scatter pairs under sequence parallelism [2]_); context
parallelism (CP) passes key/value chunks around a ring behind the attention
core [3]_. Both happen for every layer of every micro-batch, so their exposed
part enters the stage times (:func:`~trainplan.model.pipeline.stage_times`).
The communication outside the layers (data parallelism / ZeRO, pipeline
point-to-point) is :mod:`~trainplan.model.step_communication`. Collective
times come from :mod:`~trainplan.model.collectives` on the link each group
spans (:mod:`~trainplan.model.topology`).

Each dimension returns a :class:`DimensionComm`: per-step totals (bytes sent
per GPU, time before overlap, time left exposed) and the per-layer,
per-micro-batch exposed time the stage times need.

References
----------
.. [1] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3.
.. [2] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198, Sec. 4.2.2 and 5.
.. [3] H. Liu, M. Zaharia, P. Abbeel, "Ring Attention with Blockwise
   Transformers for Near-Infinite Context", arXiv:2310.01889.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model import collectives as co
from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.compute import LayerCompute
from trainplan.model.config import Architecture, Layout, Links
from trainplan.model.constants import (
    ACTIVATION_BYTES,
    BACKWARD_PER_FORWARD,
    COLLECTIVES_PER_ALLREDUCE,
    CP_EXCHANGES_BACKWARD,
    CP_EXCHANGES_FORWARD,
    KEY_VALUE_TENSORS,
    TP_COLLECTIVES_BACKWARD,
    TP_COLLECTIVES_FORWARD,
)
from trainplan.model.expert_dispatch import expert_dispatch
from trainplan.model.moe_recompute import moe_block_recomputed
from trainplan.model.topology import flat_bandwidth, place_group


def exposed_after_overlap(comm_s: ArrayLike, window_s: ArrayLike,
                          efficiency: ArrayLike) -> NDArrayFloat:
    r"""
    Communication left exposed when it overlaps a compute window.

    A fraction :math:`\eta` of the shorter of the two is hidden. When the window
    is long enough the remainder :math:`(1 - \eta)\,c` still shows
    (communication kernels take SMs and memory bandwidth from the compute they
    overlap); when it is too short, everything beyond :math:`\eta\,w` shows.

    Parameters
    ----------
    comm_s : array_like
        Communication time, :math:`c` [s].
    window_s : array_like
        Compute it may hide behind, :math:`w` [s].
    efficiency : array_like
        Overlap efficiency, :math:`\eta` [-].

    Returns
    -------
    numpy.ndarray
        Exposed time [s].

    Notes
    -----
    .. math::

       c_{exposed} = c - \eta \min(c, w)

    References
    ----------
    .. [1] S. Li et al., "PyTorch Distributed: Experiences on Accelerating Data
       Parallel Training", VLDB 13(12), 2020, arXiv:2006.15704 (gradient
       reduction overlapped with the backward).
    """
    comm = np.asarray(comm_s, dtype=np.float64)
    return comm - as_float(efficiency) * np.minimum(comm, as_float(window_s))


@dataclass(frozen=True)
class DimensionComm:
    """Communication of one parallel dimension."""

    bytes_per_step: NDArrayFloat
    """Bytes sent per GPU per step [bytes]."""
    time_s: NDArrayFloat
    """Time per step before overlap [s]."""
    exposed_s: NDArrayFloat
    """Time per step not hidden by compute [s]."""
    exposed_layer_s: NDArrayFloat | None = None
    """TP, CP: one layer, one micro-batch, exposed (inside the stage times) [s]."""
    exposed_after_stages_s: NDArrayFloat | None = None
    """DP: the exposed time the step adds after the pipeline; the rest of ``exposed_s``
    (ZeRO-3 gathers) lies inside the stage times [s]."""


def tensor_parallel(arch: Architecture, layout: Layout, links: Links, layer: LayerCompute,
                    algorithm: ArrayLike, comm_overlap: ArrayLike,
                    async_backward: ArrayLike) -> DimensionComm:
    r"""
    Tensor-parallel communication: per layer, per micro-batch, then per step.

    Parameters
    ----------
    arch, layout, links : Architecture, Layout, Links
        The model; degrees (the TP group is :math:`t` consecutive ranks), sequence
        parallelism, recomputation; the links and the overlap efficiency :math:`\eta`.
    layer : LayerCompute
        One layer's compute (the windows the collectives can hide behind).
    algorithm : array_like of int
        :class:`~trainplan.model.choices.Algorithm` of the TP group.
    comm_overlap, async_backward : array_like of bool
        Collectives overlapped with the adjacent GEMMs (forward and recompute behind
        :math:`t_{lin}`, backward behind :math:`2 t_{lin}`); else, with
        ``async_backward``, the backward behind the column-parallel forward GEMMs.

    Returns
    -------
    DimensionComm

    Notes
    -----
    With :math:`n = b\,(s/c)\,h` 16-bit activations per collective and
    :math:`T_{ar}` the all-reduce time (:math:`2 T_{ag}`, an all-gather plus a
    reduce-scatter, under sequence parallelism), one layer runs 2 collectives
    forward, 2 backward and 2 more under full recomputation of a share :math:`\rho` of the
    layers (one more, the MLP's, where ``recompute_moe`` recomputes the MoE blocks, a share
    :math:`\phi` of the layers); over :math:`m` micro-batches and :math:`L/p` layers:

    .. math::

       t = m \frac{L}{p} (4 + 2 [\text{full}] \rho + [\text{moe}] \phi)\, T_{ar}, \quad
       V = m \frac{L}{p} (4 + 2 [\text{full}] \rho + [\text{moe}] \phi)\,
           \frac{2 (t - 1)}{t} n

    References
    ----------
    .. [1] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3.
    .. [2] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.2.2 and 5.
    """
    group = place_group(layout.tp, 1.0, links)
    msg = layout.tokens_microbatch * arch.hidden * ACTIVATION_BYTES
    args = (msg, layout.tp, group.members, group.domains, group.intra_byte_s,
            links.nic_byte_s_per_gpu, links.latency_in_s, links.latency_out_s)
    pair = np.where(layout.seq_parallel,
                    COLLECTIVES_PER_ALLREDUCE * co.allgather_s(algorithm, *args),
                    co.allreduce_s(algorithm, *args))
    share = layout.full_recompute_share     # layers whose forward is recomputed
    # a recomputed MoE block repeats the MLP's one of the forward's two collectives
    share = share + np.where(moe_block_recomputed(arch, layout),
                             arch.moe_share / TP_COLLECTIVES_FORWARD, 0.0)
    fwd = TP_COLLECTIVES_FORWARD * pair
    bwd = TP_COLLECTIVES_BACKWARD * pair
    rec = share * fwd
    exposed_layer = _tp_exposed_layer(fwd, bwd, rec, layer, comm_overlap, async_backward,
                                      links.overlap_efficiency)
    collectives = (TP_COLLECTIVES_FORWARD + TP_COLLECTIVES_BACKWARD
                   + share * TP_COLLECTIVES_FORWARD)   # all-reduce equivalents per layer
    volume_layer = collectives * co.allreduce_volume_bytes(msg, layout.tp)
    m, layers = layout.n_microbatches, layout.layers_per_stage
    return DimensionComm(bytes_per_step=m * layers * volume_layer,
                         time_s=m * layers * (fwd + bwd + rec),
                         exposed_s=m * layers * exposed_layer, exposed_layer_s=exposed_layer)


def _tp_exposed_layer(fwd, bwd, rec, layer, comm_overlap, async_backward, eta):
    """Exposed TP time of one layer, one micro-batch: forward, recompute and backward."""
    overlap = np.asarray(comm_overlap).astype(bool)
    lin = layer.linear_forward_s
    exposed_fwd = np.where(overlap, exposed_after_overlap(fwd, lin, eta), fwd)
    exposed_rec = np.where(overlap, exposed_after_overlap(rec, lin, eta), rec)
    bwd_hiding = np.where(overlap, BACKWARD_PER_FORWARD * lin,
                          np.where(np.asarray(async_backward).astype(bool),
                                   layer.column_parallel_forward_s, 0.0))
    return exposed_fwd + exposed_rec + exposed_after_overlap(bwd, bwd_hiding, eta)


def context_parallel(arch: Architecture, layout: Layout, links: Links,
                     layer: LayerCompute) -> DimensionComm:
    r"""
    Context-parallel ring exchange of keys and values, hidden behind attention.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Degrees (the CP group has stride :math:`t`), recomputation.
    links : Links
        Links and the overlap efficiency.
    layer : LayerCompute
        One layer's compute (the attention core is the window).

    Returns
    -------
    DimensionComm

    Notes
    -----
    Each of the :math:`c - 1` ring steps passes one rank's keys and values,
    :math:`2\,b\,(s/c)\,k_v\,(h/a)` 16-bit elements over :math:`t`, on one
    neighbour link (a single peer link of a mesh; across domains the sending
    GPU's own NIC share, not the :math:`g_{in}` shares of a collective):

    .. math::

       t_{fwd} = (c - 1) \left(\frac{n_{kv}}{\beta} + \alpha\right)

    The backward passes twice the forward traffic and full recomputation
    repeats the forward: :math:`t = (1 + 2 + [\text{full}])\, t_{fwd}`.

    References
    ----------
    .. [1] H. Liu, M. Zaharia, P. Abbeel, "Ring Attention with Blockwise Transformers
       for Near-Infinite Context", arXiv:2310.01889.
    """
    cp, tp = layout.cp, layout.tp
    group = place_group(cp, tp, links)
    ring_link = np.where(links.mesh, links.peer_byte_s, group.intra_byte_s)
    # point-to-point ring: a hop that leaves the domain is one GPU's send on its own NIC share
    bandwidth = flat_bandwidth(1.0, group.domains, ring_link, links.nic_byte_s_per_gpu)
    kv_chunk = (KEY_VALUE_TENSORS * layout.micro_batch * layout.seq_local * arch.n_kv_heads
                * (arch.hidden / arch.n_heads) * ACTIVATION_BYTES / tp)
    fwd_bytes = np.where(cp > 1, (cp - 1.0) * kv_chunk, 0.0)
    latency = (np.where(group.domains > 1, links.latency_out_s, links.latency_in_s)
               * np.maximum(cp - 1.0, 0.0))
    fwd = np.where(cp > 1, fwd_bytes / bandwidth + latency, 0.0)
    rec = layout.full_recompute_share * CP_EXCHANGES_FORWARD
    total_layer = fwd * (CP_EXCHANGES_FORWARD + CP_EXCHANGES_BACKWARD + rec)
    exposed_layer = exposed_after_overlap(total_layer, layer.attention_forward_s
                                          + layer.attention_backward_s, links.overlap_efficiency)
    volume_layer = fwd_bytes * (CP_EXCHANGES_FORWARD + CP_EXCHANGES_BACKWARD + rec)
    m, layers = layout.n_microbatches, layout.layers_per_stage
    return DimensionComm(bytes_per_step=m * layers * volume_layer,
                         time_s=m * layers * total_layer,
                         exposed_s=m * layers * exposed_layer, exposed_layer_s=exposed_layer)


def expert_parallel(arch: Architecture, layout: Layout, links: Links,
                    layer: LayerCompute) -> DimensionComm:
    r"""
    Expert-parallel communication: token dispatch and combine, per layer and per step.

    Parameters
    ----------
    arch : Architecture
        The model (experts, top-k, share of MoE layers).
    layout : Layout
        ``ep``, ``etp``, micro-batches, ``moe_a2a_overlap``.
    links : Links
        Links and the overlap efficiency.
    layer : LayerCompute
        One layer's computation: the window another micro-batch's all-to-all can hide in.

    Returns
    -------
    DimensionComm

    Notes
    -----
    Per layer and micro-batch :math:`c_{ep}` from
    :func:`~trainplan.model.expert_dispatch.expert_dispatch`; exposed whole (the dispatch waits on
    the router, the expert GEMMs on the dispatch), or, when the framework overlaps one
    micro-batch's all-to-all with another's computation,
    :func:`exposed_after_overlap` against the layer's computation. Per step, over the
    busiest stage's :math:`\lceil L/p \rceil` layers and :math:`m` micro-batches.

    References
    ----------
    .. [1] DeepSeek-AI, arXiv:2412.19437, Sec. 3.2.1 (DualPipe overlaps the all-to-all
       of one chunk with the computation of another).
    .. [2] NVIDIA Megatron-Core MoE README (``--overlap-moe-expert-parallel-comm``).
    """
    comm = expert_dispatch(arch, layout, links)
    exposed = np.where(layout.moe_a2a_overlap,
                       exposed_after_overlap(comm.time_layer_s, layer.total_s,
                                             links.overlap_efficiency),
                       comm.time_layer_s)
    per_step = layout.layers_per_stage * layout.n_microbatches
    return DimensionComm(bytes_per_step=comm.bytes_per_layer * per_step,
                         time_s=comm.time_layer_s * per_step, exposed_s=exposed * per_step,
                         exposed_layer_s=exposed)
