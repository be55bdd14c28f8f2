r"""Communication outside the layers: data parallelism / ZeRO and pipeline point-to-point.

Data parallelism (DP) reduces gradients once per step, and ZeRO [1]_
reduce-scatters them and gathers the parameters (every micro-batch at stage 3,
behind the stage's compute); pipeline parallelism (PP) sends each
micro-batch's activations and their gradients between stages [2]_. The
communication inside the layers (tensor and context parallelism) is
:mod:`~trainplan.model.communication`, whose overlap rule
(:func:`~trainplan.model.communication.exposed_after_overlap`) and result
(:class:`~trainplan.model.communication.DimensionComm`) this module shares.

References
----------
.. [1] S. Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
   Trillion Parameter Models", SC20, arXiv:1910.02054, Sec. 5 and 7.
.. [2] D. Narayanan et al., "Efficient Large-Scale Language Model Training on
   GPU Clusters Using Megatron-LM", SC21, arXiv:2104.04473, Sec. 2.2 and 4.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model import collectives as co
from trainplan.model._array import ArrayLike, NDArrayBool, NDArrayFloat, as_float
from trainplan.model.communication import DimensionComm, exposed_after_overlap
from trainplan.model.compute import LayerCompute, StageCompute
from trainplan.model.config import Architecture, Layout, Links
from trainplan.model.constants import (
    ACTIVATION_BYTES,
    BYTES_FP8,
    PARAM_BYTES,
    PP_TRANSFERS_PER_MICROBATCH,
    ZERO3_GATHERS,
)
from trainplan.model.topology import pipeline_hop_bandwidth, place_group


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
    zero3_call_latency_s: NDArrayFloat
    """Of which the latency and host time of the extra calls (synchronous: never hidden) [s]."""


def shard_collectives(layout: Layout, links: Links, params_per_gpu: ArrayLike,
                      algorithm: ArrayLike, grad_reduce_bytes_per_param: ArrayLike,
                      zero3_collectives_per_layer: ArrayLike = 1.0,
                      zero3_call_host_s: ArrayLike = 0.0) -> ShardCollectives:
    r"""
    Parameter all-gather and gradient reduction of the ZeRO / data-parallel group [1]_.

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
    zero3_collectives_per_layer : array_like, optional
        Separate collective calls per layer and pass under ZeRO-3, :math:`c` (1: one
        bucketed gather per layer, as FSDP; one per parameter tensor in 2021 DeepSpeed) [-].
    zero3_call_host_s : array_like, optional
        Host time of each extra per-parameter call, gather or reduce-scatter, that the GPU
        waits for (launch and synchronisation), :math:`t_h` [s]; DeepSpeed's 0.5 ms was
        measured on one 8-GPU node, where the ring latency it includes is 0.02 ms.

    Returns
    -------
    ShardCollectives

    Notes
    -----
    ZeRO-3 gathers the stage's parameters (16-bit, or their FP8 copy with
    ``fp8_param_gather``) for the forward and the backward and reduce-scatters its
    gradients, every micro-batch. A fully recomputed layer is gathered once for its
    recomputation and backward (FSDP wraps the checkpointed layer [4]_) or twice
    (DeepSpeed: ``zero3_recompute_regather``, :math:`r` [5]_):

    .. math::

       t_{z3} = (2 + r [\text{full}])\, T_{ag}(2 \Psi) + T_{rs}(q \Psi)
              + (3 + r [\text{full}]) (L_s c - 1)\, T_{ag}(0)

    Without resharding after the forward (``zero3_reshard_after_forward`` false, as
    TorchTitan and Llama 3 run FSDP with a pipeline) the stage is gathered once and its
    gradients reduce-scattered once per step, :math:`(T_{ag}(2\Psi) + T_{rs}(q\Psi)) / m`
    per micro-batch.

    The last term is the latency of the extra calls when the stage's :math:`L_s` layers
    are gathered in :math:`c` calls each rather than one (:math:`T_{ag}(0)`: a call that
    moves nothing, :math:`(g-1)\alpha` for a ring, plus the host time :math:`t_h` of a
    call the GPU waits for). DeepSpeed's 2021 ZeRO-3 gathered every parameter
    separately, about 0.5 ms a call with its launch and synchronisation [2]_; grouped
    gathers came in September 2021 [3]_.

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Sec. 5 and 7.
    .. [2] deepspeedai/DeepSpeed issue #1069, "Performance Degradation with ZERO Stage 3"
       (2021-06): one all-gather per parameter, each about 0.5 ms.
    .. [3] deepspeedai/DeepSpeed pull request #1188, "ZeRO3, improved parameter all-gather
       operation" (2021-09): grouped all-gathers.
    .. [4] facebookresearch/fairscale issue #777 (FSDP(checkpoint(module)): no all-gather
       for the backward after the recomputation); NVIDIA/Megatron-LM pull request #6153
       (Megatron-FSDP keeps recomputed parameters gathered until their backward).
    .. [5] deepspeedai/DeepSpeed issue #4784 (the recomputation runs ZeRO-3's pre-forward
       gather).
    """
    group = place_group(layout.shard_group, layout.tp, links)
    args = (layout.shard_group, group.members, group.domains, group.intra_byte_s,
            links.nic_byte_s_per_gpu, links.latency_in_s, links.latency_out_s)
    param_msg = params_per_gpu * np.where(layout.fp8 & layout.fp8_param_gather,
                                          BYTES_FP8, PARAM_BYTES)
    grad_msg = params_per_gpu * as_float(grad_reduce_bytes_per_param)
    ag_param = co.allgather_s(algorithm, param_msg, *args)
    rs_grad = co.allgather_s(algorithm, grad_msg, *args)
    gathers = ZERO3_GATHERS + np.where(layout.zero3_recompute_regather,
                                       layout.full_recompute_share, 0.0)
    calls = layout.layers_per_stage * as_float(zero3_collectives_per_layer)
    per_call = co.allgather_s(algorithm, 0.0, *args) + as_float(zero3_call_host_s)
    extra_calls = (gathers + 1.0) * np.maximum(calls - 1.0, 0.0) * per_call
    # without resharding the stage is gathered once and its gradients reduce-scattered once
    # per step: spread over the step's micro-batches
    per_step = np.where(layout.zero3_reshard, 1.0, 1.0 / layout.n_microbatches)
    gathers = np.where(layout.zero3_reshard, gathers, 1.0)
    extra_calls = np.where(layout.zero_stage >= 3, extra_calls * per_step, 0.0)
    zero3 = np.where(layout.zero_stage >= 3,
                     (gathers * ag_param + rs_grad) * per_step + extra_calls, 0.0)
    return ShardCollectives(param_bytes=param_msg, grad_bytes=grad_msg,
                            param_allgather_s=ag_param, grad_reduce_scatter_s=rs_grad,
                            grad_allreduce_s=co.allreduce_s(algorithm, grad_msg, *args),
                            zero3_gathers=gathers, zero3_microbatch_s=zero3,
                            zero3_call_latency_s=extra_calls)


def with_expert_collectives(shard: ShardCollectives, experts: ShardCollectives,
                            has_experts: ArrayLike) -> ShardCollectives:
    r"""
    The dense parameters' collectives plus the routed experts', where the stage holds experts.

    Parameters
    ----------
    shard : ShardCollectives
        :func:`shard_collectives` of the dense parameters over ``dp * cp`` [s], [bytes].
    experts : ShardCollectives
        :func:`shard_collectives` of the routed experts over the expert data-parallel
        group (``tp cp dp / (ep e_t)`` ranks of stride ``ep e_t``) [s], [bytes].
    has_experts : array_like of bool
        The stage holds routed experts [-].

    Returns
    -------
    ShardCollectives
        Sums of the two (the gather count of ``shard``).

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README: expert parameters are reduced over the expert
       data-parallel group, the others over the data-parallel group.
    """
    def add(name):
        return getattr(shard, name) + np.where(has_experts, getattr(experts, name), 0.0)

    return ShardCollectives(
        param_bytes=add("param_bytes"), grad_bytes=add("grad_bytes"),
        param_allgather_s=add("param_allgather_s"),
        grad_reduce_scatter_s=add("grad_reduce_scatter_s"),
        grad_allreduce_s=add("grad_allreduce_s"), zero3_gathers=shard.zero3_gathers,
        zero3_microbatch_s=add("zero3_microbatch_s"),
        zero3_call_latency_s=add("zero3_call_latency_s"))


def zero3_exposed(layout: Layout, links: Links, shard: ShardCollectives, stages: StageCompute,
                  layer: LayerCompute, overlap: ArrayLike = True
                  ) -> tuple[NDArrayFloat, NDArrayFloat, NDArrayFloat]:
    r"""
    ZeRO-3 communication of one micro-batch left exposed on the first, last and a middle stage.

    Prefetching hides the gathers, and the gradient reduce-scatters run beside the
    backward, behind the stage's compute (:func:`exposed_after_overlap` with the stage's
    compute time as the window; a middle stage's window is its layers only). The
    latency and host time of extra per-parameter calls
    (:attr:`ShardCollectives.zero3_call_latency_s`) are synchronous and stay exposed.
    Without ``overlap`` nothing is hidden: DeepSpeed's 2021 ZeRO-3 synchronised the
    device before every gather [2]_, and ``torch.cuda.synchronize()`` waits for every
    stream, the reduce-scatters' too.

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
    overlap : array_like of bool, optional
        The collectives run beside compute (``zero3_overlap``).

    Returns
    -------
    tuple of numpy.ndarray
        Exposed time on the first, last and a middle stage [s].

    Notes
    -----
    With :math:`t_{z}` the gathers and reduce-scatter and :math:`t_{calls}` the extra
    calls of :attr:`ShardCollectives.zero3_microbatch_s` and :math:`w` the window:

    .. math::

       t_{exposed} = t_z - [\text{overlap}]\, \eta \min(t_z, w) + t_{calls}

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Sec. 5.3 and 7.2.
    .. [2] deepspeedai/DeepSpeed pull request #1188 (2021): "the async version is not
       async at all, because each all_gather calls torch.cuda.synchronize()".
    """
    eta = np.where(np.asarray(overlap).astype(bool), links.overlap_efficiency, 0.0)
    calls = shard.zero3_call_latency_s
    transfers = shard.zero3_microbatch_s - calls

    def exposed(window):
        return exposed_after_overlap(transfers, window, eta) + calls

    middle = np.where(layout.zero_stage >= 3, exposed(layout.layers_per_stage * layer.total_s),
                      0.0)
    return exposed(stages.first_s), exposed(stages.last_s), middle


def data_parallel(layout: Layout, links: Links, layer: LayerCompute, shard: ShardCollectives,
                  zero3_exposed_first_s: ArrayLike, zero3_exposed_last_s: ArrayLike,
                  last_slowest: NDArrayBool, overlap_grad_reduce: ArrayLike,
                  overlap_param_gather: ArrayLike) -> DimensionComm:
    r"""
    Data-parallel / ZeRO communication of one step, and the part left exposed.

    Parameters
    ----------
    layout, links, layer : Layout, Links, LayerCompute
        ZeRO stage, group size, micro-batches, layers per stage; the overlap
        efficiency :math:`\eta`; one layer's compute (the windows).
    shard : ShardCollectives
        The group's collectives (:func:`shard_collectives`).
    zero3_exposed_first_s, zero3_exposed_last_s : array_like
        ZeRO-3 time per micro-batch left exposed on the first and last stage [s].
    last_slowest, overlap_grad_reduce, overlap_param_gather : array_like of bool
        The last stage sets the pace; the gradient reduction overlaps the backward;
        the parameter all-gather (ZeRO 1 and 2) overlaps the next forward.

    Returns
    -------
    DimensionComm
        ``exposed_s`` includes the ZeRO-3 gathers of every micro-batch, which lie
        inside the stage times; ``exposed_after_stages_s`` is the part the step adds.

    Notes
    -----
    Stage 0 all-reduces the gradients once per step; stage 1 reduce-scatters
    them and all-gathers the parameters; DeepSpeed's stage 2 reduce-scatters
    after every micro-batch; stage 3 moves everything per micro-batch
    (:func:`zero3_exposed`). Before overlap, for a group of more than one:

    .. math::

       t_{dp} = T_{ar}(q \Psi),\ T_{rs}(q \Psi) + T_{ag}(2 \Psi),\
                m\,T_{rs}(q \Psi) + T_{ag}(2 \Psi),\ m\,t_{z3} \quad \text{(stages 0 to 3)}

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Sec. 7.
    .. [2] S. Li et al., "PyTorch Distributed", VLDB 13(12), 2020, arXiv:2006.15704.
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
    Pipeline point-to-point transfers of one step [1]_.

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
    16-bit elements (scatter-gather / sequence-parallel), on the sending GPU's
    NIC share when consecutive stages sit in different domains (the slowest hop
    sets the pace), else on the scale-up link
    (:func:`~trainplan.model.topology.pipeline_hop_bandwidth`):

    .. math::

       t_{exposed} = 2 (v m + p - 1)\,(\alpha + n/\beta), \quad
       t = 2 v m\,(\alpha + n/\beta), \quad V = 2 v m\, n

    References
    ----------
    .. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU
       Clusters Using Megatron-LM", SC21, arXiv:2104.04473, Sec. 2.2 and 4.1 (scatter/gather).
    """
    tp, pp, v, m = layout.tp, layout.pp, layout.vpp, layout.n_microbatches
    msg = layout.tokens_microbatch * arch.hidden * ACTIVATION_BYTES / tp
    bandwidth, latency = pipeline_hop_bandwidth(pp, tp * layout.cp * layout.dp, links)
    one = co.p2p_s(msg, bandwidth, latency)
    multi, k = layout.pipelined, PP_TRANSFERS_PER_MICROBATCH
    return DimensionComm(bytes_per_step=np.where(multi, k * v * m * msg, 0.0),
                         time_s=np.where(multi, k * v * m * one, 0.0),
                         exposed_s=np.where(multi, k * (v * m + pp - 1.0) * one, 0.0))
