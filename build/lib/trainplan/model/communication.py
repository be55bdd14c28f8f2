r"""Communication of one training step, by dimension: time, volume and what overlap leaves.

Tensor parallelism (TP) all-reduces activations inside every layer [1]_
(all-gather + reduce-scatter pairs under sequence parallelism [2]_); context
parallelism (CP) passes key/value chunks around a ring behind the attention
core; data parallelism (DP) reduces gradients once per step, and ZeRO [3]_
reduce-scatters them and gathers parameters (every micro-batch at stage 3);
pipeline parallelism (PP) sends activations and their gradients between
stages. Collective times come from :mod:`~trainplan.model.collectives` on the
link each group spans (:mod:`~trainplan.model.topology`).

Each function returns per-step totals (bytes sent per GPU, time before overlap,
time left exposed) and the per-micro-batch pieces the stage times need.

References
----------
.. [1] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3.
.. [2] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198, Sec. 4.2.2 and 5.
.. [3] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Sec. 5 and 7.
.. [4] H. Liu, M. Zaharia, P. Abbeel, "Ring Attention with Blockwise
   Transformers for Near-Infinite Context", arXiv:2310.01889.
.. [5] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 2.2 and 4.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model import collectives as co
from trainplan.model._array import ArrayLike, NDArrayBool, NDArrayFloat, as_float
from trainplan.model.choices import Recompute
from trainplan.model.compute import LayerCompute, StageCompute
from trainplan.model.config import Architecture, Layout, Links
from trainplan.model.constants import (
    ACTIVATION_BYTES,
    BACKWARD_PER_FORWARD,
    COLLECTIVES_PER_ALLREDUCE,
    CP_EXCHANGES_BACKWARD,
    CP_EXCHANGES_FORWARD,
    KEY_VALUE_TENSORS,
    PARAM_BYTES,
    PP_TRANSFERS_PER_MICROBATCH,
    TP_COLLECTIVES_BACKWARD,
    TP_COLLECTIVES_FORWARD,
    ZERO3_GATHERS,
)
from trainplan.model.topology import domains_spanned, flat_bandwidth, place_group


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
    Tensor-parallel communication: per layer, per micro-batch, then per step [1]_ [2]_.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Degrees (the TP group is the :math:`t` consecutive ranks), sequence parallelism,
        recomputation.
    links : Links
        Links and the overlap efficiency.
    layer : LayerCompute
        One layer's compute (the windows the collectives can hide behind).
    algorithm : array_like of int
        :class:`~trainplan.model.choices.Algorithm` of the TP group.
    comm_overlap : array_like of bool
        Collectives overlapped with the adjacent GEMMs (userbuffers): forward and
        recompute hide behind :math:`t_{lin}`, backward behind :math:`2 t_{lin}`.
    async_backward : array_like of bool
        Without ``comm_overlap``, the backward all-reduce runs behind the
        weight-gradient GEMMs of the column-parallel layers.

    Returns
    -------
    DimensionComm

    Notes
    -----
    With :math:`n = b\,s/c\,h` 16-bit activations per collective and
    :math:`T_{ar}` the all-reduce time (an all-gather plus a reduce-scatter,
    :math:`2 T_{ag}`, under sequence parallelism), one layer runs 2 collectives
    forward, 2 backward and 2 more under full recomputation; the volume is
    :math:`(4 + 2 [\text{full}])\, 2 \frac{t-1}{t} n` per layer.
    """
    group = place_group(layout.tp, 1.0, links)
    msg = layout.tokens_microbatch * arch.hidden * ACTIVATION_BYTES
    args = (msg, layout.tp, group.members, group.domains, group.intra_byte_s,
            links.nic_byte_s_per_gpu, links.latency_in_s, links.latency_out_s)
    pair = np.where(layout.seq_parallel,
                    COLLECTIVES_PER_ALLREDUCE * co.allgather_s(algorithm, *args),
                    co.allreduce_s(algorithm, *args))
    full = layout.recompute == Recompute.FULL
    fwd = TP_COLLECTIVES_FORWARD * pair
    bwd = TP_COLLECTIVES_BACKWARD * pair
    rec = np.where(full, fwd, 0.0)
    overlap, eta = np.asarray(comm_overlap).astype(bool), links.overlap_efficiency
    lin = layer.linear_forward_s
    exposed_fwd = np.where(overlap, exposed_after_overlap(fwd, lin, eta), fwd)
    exposed_rec = np.where(overlap, exposed_after_overlap(rec, lin, eta), rec)
    bwd_hiding = np.where(overlap, BACKWARD_PER_FORWARD * lin,
                          np.where(np.asarray(async_backward).astype(bool),
                                   layer.column_parallel_forward_s, 0.0))
    exposed_layer = exposed_fwd + exposed_rec + exposed_after_overlap(bwd, bwd_hiding, eta)
    collectives = TP_COLLECTIVES_FORWARD + TP_COLLECTIVES_BACKWARD + np.where(
        full, TP_COLLECTIVES_FORWARD, 0.0)   # all-reduce equivalents per layer
    volume_layer = collectives * co.allreduce_volume_bytes(msg, layout.tp)
    m, layers = layout.n_microbatches, layout.layers_per_stage
    return DimensionComm(bytes_per_step=m * layers * volume_layer,
                         time_s=m * layers * (fwd + bwd + rec),
                         exposed_s=m * layers * exposed_layer, exposed_layer_s=exposed_layer)


def context_parallel(arch: Architecture, layout: Layout, links: Links,
                     layer: LayerCompute) -> DimensionComm:
    r"""
    Context-parallel ring exchange of keys and values, hidden behind attention [4]_.

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
    neighbour link (a single peer link of a mesh):

    .. math::

       t_{fwd} = (c - 1) \left(\frac{n_{kv}}{\beta} + \alpha\right)

    The backward passes twice the forward traffic and full recomputation
    repeats the forward: :math:`t = (1 + 2 + [\text{full}])\, t_{fwd}`.
    """
    cp, tp = layout.cp, layout.tp
    group = place_group(cp, tp, links)
    ring_link = np.where(links.mesh, links.peer_byte_s, group.intra_byte_s)
    bandwidth = flat_bandwidth(group.members, group.domains, ring_link, links.nic_byte_s_per_gpu)
    kv_chunk = (KEY_VALUE_TENSORS * layout.micro_batch * layout.seq_local * arch.n_kv_heads
                * (arch.hidden / arch.n_heads) * ACTIVATION_BYTES / tp)
    fwd_bytes = np.where(cp > 1, (cp - 1.0) * kv_chunk, 0.0)
    latency = (np.where(group.domains > 1, links.latency_out_s, links.latency_in_s)
               * np.maximum(cp - 1.0, 0.0))
    fwd = np.where(cp > 1, fwd_bytes / bandwidth + latency, 0.0)
    rec = np.where(layout.recompute == Recompute.FULL, CP_EXCHANGES_FORWARD, 0.0)
    total_layer = fwd * (CP_EXCHANGES_FORWARD + CP_EXCHANGES_BACKWARD + rec)
    exposed_layer = exposed_after_overlap(total_layer, layer.attention_forward_s
                                          + layer.attention_backward_s, links.overlap_efficiency)
    volume_layer = fwd_bytes * (CP_EXCHANGES_FORWARD + CP_EXCHANGES_BACKWARD + rec)
    m, layers = layout.n_microbatches, layout.layers_per_stage
    return DimensionComm(bytes_per_step=m * layers * volume_layer,
                         time_s=m * layers * total_layer,
                         exposed_s=m * layers * exposed_layer, exposed_layer_s=exposed_layer)


@dataclass(frozen=True)
class ShardCollectives:
    """The collectives of the data-parallel / ZeRO group over the busiest stage [s], [bytes]."""

    param_bytes: NDArrayFloat
    """16-bit parameters of the stage [bytes]."""
    grad_bytes: NDArrayFloat
    """Gradients of the stage as reduced [bytes]."""
    param_allgather_s: NDArrayFloat
    grad_reduce_scatter_s: NDArrayFloat
    grad_allreduce_s: NDArrayFloat
    zero3_gathers: NDArrayFloat
    """Parameter gathers per micro-batch under ZeRO-3 (2, 3 with full recomputation)."""
    zero3_microbatch_s: NDArrayFloat
    """ZeRO-3 gathers and gradient reduce-scatter of one micro-batch (0 below stage 3)."""


def shard_collectives(layout: Layout, links: Links, params_per_gpu: ArrayLike,
                      algorithm: ArrayLike,
                      grad_reduce_bytes_per_param: ArrayLike) -> ShardCollectives:
    r"""
    Parameter all-gather and gradient reduction of the ZeRO / data-parallel group [3]_.

    Parameters
    ----------
    layout : Layout
        Degrees (the group is ``dp * cp`` ranks of stride :math:`t`), ZeRO stage,
        recomputation.
    links : Links
        Links.
    params_per_gpu : array_like
        Parameters of the busiest stage on one tensor-parallel rank, :math:`\Psi` [-].
    algorithm : array_like of int
        :class:`~trainplan.model.choices.Algorithm` of the group.
    grad_reduce_bytes_per_param : array_like
        Bytes per parameter of the gradient reduction [bytes].

    Returns
    -------
    ShardCollectives

    Notes
    -----
    ZeRO-3 gathers the stage's parameters for the forward and the backward (and
    the recomputed forward) and reduce-scatters its gradients, every
    micro-batch:

    .. math::

       t_{z3} = (2 + [\text{full}])\, T_{ag}(2 \Psi) + T_{rs}(q \Psi)
    """
    group = place_group(layout.shard_group, layout.tp, links)
    args = (layout.shard_group, group.members, group.domains, group.intra_byte_s,
            links.nic_byte_s_per_gpu, links.latency_in_s, links.latency_out_s)
    param_msg = params_per_gpu * PARAM_BYTES
    grad_msg = params_per_gpu * as_float(grad_reduce_bytes_per_param)
    ag_param = co.allgather_s(algorithm, param_msg, *args)
    rs_grad = co.allgather_s(algorithm, grad_msg, *args)
    gathers = ZERO3_GATHERS + np.where(layout.recompute == Recompute.FULL, 1.0, 0.0)
    zero3 = np.where(layout.zero_stage >= 3, gathers * ag_param + rs_grad, 0.0)
    return ShardCollectives(param_bytes=param_msg, grad_bytes=grad_msg,
                            param_allgather_s=ag_param, grad_reduce_scatter_s=rs_grad,
                            grad_allreduce_s=co.allreduce_s(algorithm, grad_msg, *args),
                            zero3_gathers=gathers, zero3_microbatch_s=zero3)


def zero3_exposed(layout: Layout, links: Links, shard: ShardCollectives, stages: StageCompute,
                  layer: LayerCompute) -> tuple[NDArrayFloat, NDArrayFloat, NDArrayFloat]:
    r"""
    ZeRO-3 communication of one micro-batch left exposed on the first, last and a middle stage.

    Prefetching hides the gathers behind the stage's compute
    (:func:`exposed_after_overlap` with the stage's compute time as the window; a
    middle stage's window is its layers only).

    Parameters
    ----------
    layout : Layout
        ZeRO stage, layers per stage.
    links : Links
        The overlap efficiency.
    shard : ShardCollectives
        The group's collectives (:func:`shard_collectives`).
    stages : StageCompute
        Compute of the first and last stages.
    layer : LayerCompute
        One layer's compute.

    Returns
    -------
    tuple of numpy.ndarray
        Exposed time on the first, last and a middle stage [s].
    """
    eta, z3 = links.overlap_efficiency, shard.zero3_microbatch_s
    middle = np.where(layout.zero_stage >= 3, exposed_after_overlap(
        z3, layout.layers_per_stage * layer.total_s, eta), 0.0)
    return (exposed_after_overlap(z3, stages.first_s, eta),
            exposed_after_overlap(z3, stages.last_s, eta), middle)


def data_parallel(layout: Layout, links: Links, layer: LayerCompute, shard: ShardCollectives,
                  zero3_exposed_first_s: ArrayLike, zero3_exposed_last_s: ArrayLike,
                  last_slowest: NDArrayBool, overlap_grad_reduce: ArrayLike,
                  overlap_param_gather: ArrayLike) -> DimensionComm:
    r"""
    Data-parallel / ZeRO communication of one step, and the part left exposed [3]_ [5]_.

    Parameters
    ----------
    layout : Layout
        ZeRO stage, group size, micro-batches, layers per stage.
    links : Links
        The overlap efficiency.
    layer : LayerCompute
        One layer's compute (the windows).
    shard : ShardCollectives
        The group's collectives (:func:`shard_collectives`).
    zero3_exposed_first_s, zero3_exposed_last_s : array_like
        ZeRO-3 time per micro-batch left exposed on the first and last stage [s].
    last_slowest : array_like of bool
        The last stage sets the pace.
    overlap_grad_reduce : array_like of bool
        The gradient reduction overlaps the last backward.
    overlap_param_gather : array_like of bool
        The parameter all-gather (ZeRO 1 and 2) overlaps the next forward.

    Returns
    -------
    DimensionComm
        ``exposed_s`` includes the ZeRO-3 gathers of every micro-batch, which lie
        inside the stage times; ``exposed_after_stages_s`` is the part the step adds.

    Notes
    -----
    Stage 0 all-reduces the gradients once per step; stage 1 reduce-scatters
    them and all-gathers the updated parameters; DeepSpeed's stage 2
    reduce-scatters after every micro-batch (each behind that micro-batch's
    backward); stage 3 moves everything per micro-batch (:func:`zero3_exposed`).
    """
    zero, m, eta = layout.zero_stage, layout.n_microbatches, links.overlap_efficiency
    grad_reduce = np.where(zero == 0, shard.grad_allreduce_s, shard.grad_reduce_scatter_s)
    grad_reduce = np.where(zero == 2, m * shard.grad_reduce_scatter_s, grad_reduce)
    windows = np.where(zero == 2, m, 1.0) * (layout.layers_per_stage * layer.backward_s)
    reduce_exposed = np.where(np.asarray(overlap_grad_reduce).astype(bool),
                              exposed_after_overlap(grad_reduce, windows, eta), grad_reduce)
    gather_needed = (zero == 1) | (zero == 2)
    ag_param = shard.param_allgather_s
    gather_exposed = np.where(np.asarray(overlap_param_gather).astype(bool), exposed_after_overlap(
        ag_param, layout.layers_per_stage * layer.forward_s, eta), ag_param)
    outside = np.where(zero >= 3, 0.0, reduce_exposed + np.where(gather_needed,
                                                                  gather_exposed, 0.0))
    outside = np.where(layout.shard_group > 1, outside, 0.0)
    inside = m * np.where(last_slowest, zero3_exposed_last_s, zero3_exposed_first_s)
    time = np.where(zero >= 3, m * shard.zero3_microbatch_s, np.where(
        layout.shard_group > 1, grad_reduce + np.where(gather_needed, ag_param, 0.0), 0.0))
    return DimensionComm(bytes_per_step=_data_parallel_bytes(layout, shard), time_s=time,
                         exposed_s=outside + inside, exposed_after_stages_s=outside)


def _data_parallel_bytes(layout, shard):
    """Bytes a GPU sends per step in the data-parallel / ZeRO group."""
    zero, m, g = layout.zero_stage, layout.n_microbatches, layout.shard_group
    grad_volume = np.where(zero == 0, co.allreduce_volume_bytes(shard.grad_bytes, g),
                           co.allgather_volume_bytes(shard.grad_bytes, g) * np.where(
                               zero == 2, m, 1.0))
    param_volume = np.where((zero == 1) | (zero == 2),
                            co.allgather_volume_bytes(shard.param_bytes, g), 0.0)
    zero3_volume = m * (shard.zero3_gathers * co.allgather_volume_bytes(shard.param_bytes, g)
                        + co.allgather_volume_bytes(shard.grad_bytes, g))
    volume = np.where(zero >= 3, zero3_volume, grad_volume + param_volume)
    return np.where(g > 1, volume, 0.0)


def pipeline_parallel(arch: Architecture, layout: Layout, links: Links) -> DimensionComm:
    r"""
    Pipeline point-to-point transfers of one step [5]_.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Degrees (stages are ``t c d`` ranks apart), micro-batches, chunks :math:`v`.
    links : Links
        Links.

    Returns
    -------
    DimensionComm
        ``exposed_s`` is the time on the critical path.

    Notes
    -----
    A transfer carries one micro-batch's activations, :math:`n = b (s/c) h / t`
    16-bit elements (scatter-gather / sequence-parallel), on the NIC when
    consecutive stages sit in different domains (the slowest hop sets the pace),
    else on the scale-up link:

    .. math::

       t_{exposed} = 2 (v m + p - 1)\,(\alpha + n/\beta), \quad
       t = 2 v m\,(\alpha + n/\beta), \quad V = 2 v m\, n
    """
    tp, pp, v, m = layout.tp, layout.pp, layout.vpp, layout.n_microbatches
    msg = layout.tokens_microbatch * arch.hidden * ACTIVATION_BYTES / tp
    cross = domains_spanned(pp, tp * layout.cp * layout.dp, links.domain_gpus) > 1
    bandwidth = np.where(cross, links.nic_byte_s_per_gpu,
                         np.where(links.mesh, links.peer_byte_s, links.scaleup_byte_s))
    one = co.p2p_s(msg, bandwidth, np.where(cross, links.latency_out_s, links.latency_in_s))
    multi, k = layout.pipelined, PP_TRANSFERS_PER_MICROBATCH
    return DimensionComm(bytes_per_step=np.where(multi, k * v * m * msg, 0.0),
                         time_s=np.where(multi, k * v * m * one, 0.0),
                         exposed_s=np.where(multi, k * (v * m + pp - 1.0) * one, 0.0))
