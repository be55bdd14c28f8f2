r"""Memory held by one GPU during training [bytes].

Model states (weights, gradients, optimizer states by ZeRO stage) are
:mod:`~trainplan.model.states`, activations :mod:`~trainplan.model.activations` (both
re-exported here, with the published Table 2 of [1]_); pipeline schedules hold the number
of micro-batches given in :mod:`trainplan.model.pipeline`, and offloaded layers leave the
GPU (:mod:`trainplan.model.offload`). :func:`stage_memory` adds them up on the first,
middle and last pipeline stages.

References
----------
.. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 4 and Table 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model import pipeline as pl
from trainplan.model._array import ArrayLike, NDArrayBool, NDArrayFloat, as_float
from trainplan.model.activations import (  # noqa: F401  (re-exported)
    DROPOUT_MASK_BYTES,
    LOGSUMEXP_BYTES,
    activation_bytes_per_layer,
    attention_score_coefficient,
    logits_bytes,
    recompute_working_bytes,
    replicated_activation_coefficient,
    sharded_activation_coefficient,
)
from trainplan.model.choices import Recompute, Schedule
from trainplan.model.config import Architecture, Layout
from trainplan.model.constants import BYTES_FP32, PARAM_BYTES
from trainplan.model.moe_memory import dispatch_buffer_bytes, variant_activation_bytes
from trainplan.model.moe_recompute import (
    moe_block_activation_bytes,
    moe_block_recomputed,
    moe_block_saving_bytes,
    moe_input_offload_bytes,
    selective_saving_bytes,
)
from trainplan.model.offload import resident_activation_layers
from trainplan.model.op_sac import op_sac_activation_bytes, op_sac_applies
from trainplan.model.params import StageParams, largest_matrix_params_per_tp_rank
from trainplan.model.published import korthikanti_table2_bytes  # noqa: F401  (re-exported)
from trainplan.model.states import (  # noqa: F401  (re-exported)
    gradient_bytes,
    model_state_bytes,
    optimizer_bytes,
    weight_bytes,
)


def zero3_gather_buffer_bytes(layer_params_rank: ArrayLike, largest_matrix_params_rank: ArrayLike,
                              max_live_params: ArrayLike, zero_stage: ArrayLike,
                              bytes_per_param: ArrayLike = PARAM_BYTES) -> NDArrayFloat:
    r"""
    Gathered (unsharded) parameters ZeRO-3 holds at once.

    Parameters
    ----------
    layer_params_rank : array_like
        One layer's parameters on one tensor-parallel rank, :math:`P_l^{(t)}` [-].
    largest_matrix_params_rank : array_like
        The largest weight matrix on one rank, :math:`P_{max}` [-].
    max_live_params : array_like
        DeepSpeed's ``stage3_max_live_parameters``, :math:`P_{live}` [-].
    zero_stage : array_like of int
        ZeRO stage; zero below 3.
    bytes_per_param : array_like
        Bytes per gathered weight, :math:`q_w` (2: 16-bit) [bytes].

    Returns
    -------
    numpy.ndarray
        Bytes [bytes].

    Notes
    -----
    One layer, capped at :math:`P_{live}` but never less than the largest
    matrix, which must be whole to be used:

    .. math::

       M_{z3} = q_w \max\left(\min(P_l^{(t)}, P_{live}), P_{max}\right)

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Sec. 5.3.
    .. [2] DeepSpeed documentation, ZeRO configuration, ``stage3_max_live_parameters``.
    """
    live = np.maximum(np.minimum(as_float(layer_params_rank), as_float(max_live_params)),
                      as_float(largest_matrix_params_rank))
    return np.where(np.asarray(zero_stage) >= 3, live * bytes_per_param, 0.0)


def usable_bytes(capacity_bytes: ArrayLike, reserve_fraction: ArrayLike,
                 cuda_context_bytes: ArrayLike) -> NDArrayFloat:
    r"""
    GPU memory training may use.

    Parameters
    ----------
    capacity_bytes : array_like
        Capacity of the GPU, :math:`C` [bytes].
    reserve_fraction : array_like
        Share kept free for allocator fragmentation and transient buffers, :math:`r` [-].
    cuda_context_bytes : array_like
        Memory of the CUDA context and kernels, :math:`C_{ctx}` [bytes].

    Returns
    -------
    numpy.ndarray
        Usable memory [bytes].

    Notes
    -----
    .. math::

       U = C (1 - r) - C_{ctx}

    References
    ----------
    .. [1] PyTorch documentation, "CUDA semantics: memory management" (the
       caching allocator reserves and fragments memory beyond what tensors hold).
    """
    return (as_float(capacity_bytes) * (1.0 - as_float(reserve_fraction))
            - as_float(cuda_context_bytes))


@dataclass(frozen=True)
class MemoryBreakdown:
    """Memory of the busiest pipeline stage (first or last) on one GPU [bytes]."""

    weights: NDArrayFloat
    gradients: NDArrayFloat
    optimizer: NDArrayFloat
    activations: NDArrayFloat
    other: NDArrayFloat
    """Logits and ZeRO-3 gather buffers."""
    total: NDArrayFloat
    usable: NDArrayFloat
    headroom: NDArrayFloat
    """``usable - total`` (negative: does not fit)."""
    fits: NDArrayBool
    activations_per_layer: NDArrayFloat
    """One layer's activations for one micro-batch (what an offloaded layer copies) [bytes]."""


def _states(params, shards, layout, grad_b, opt_b):
    r"""Weights, gradients and optimizer states of ``params`` sharded over ``shards``.

    Under ZeRO-3 with ``fp32_sharded_params`` (PyTorch FSDP) the weight shard is fp32 and is
    the optimizer's master copy: the weights count :math:`4\Psi/N_d` and the optimizer
    :math:`(K - 4)\Psi/N_d`, where Megatron-style ZeRO-3 counts a 16-bit shard beside the
    master copy in :math:`K`."""
    zero = layout.zero_stage
    sharded = np.asarray(zero) >= 3
    master = sharded & layout.fp32_sharded_params
    w = weight_bytes(params, shards, zero, np.where(master, BYTES_FP32, PARAM_BYTES))
    # ZeRO-3 without resharding keeps the stage's gathered 16-bit weights for the whole step
    w = np.where(sharded & ~layout.zero3_reshard,
                 as_float(params) * PARAM_BYTES + np.where(master, w, 0.0), w)
    opt = np.where(master, np.maximum(as_float(opt_b) - BYTES_FP32, 0.0), opt_b)
    return (w, gradient_bytes(params, shards, zero, grad_b),
            optimizer_bytes(params, shards, zero, opt))


def _states_and_activations(stage, inflight, logits, layout, act_layer, working, zero3_buffers,
                            grad_b, opt_b, extra_layers=0.0):
    """Weights, gradients, optimizer states, activations and other memory of one stage;
    ``stage`` is its parameters and, of them, its routed experts' (sharded over the expert
    data-parallel group)."""
    params, experts = stage
    dense = _states(as_float(params) - experts, layout.shard_group, layout, grad_b, opt_b)
    expert = _states(experts, layout.expert_shard_group, layout, grad_b, opt_b)
    w, gr, op = (d + e for d, e in zip(dense, expert, strict=True))
    resident = resident_activation_layers(layout.layers_per_stage, layout.offload_layers, inflight)
    act = act_layer * (resident + extra_layers * inflight) + working
    other = logits + zero3_buffers
    return w, gr, op, act, other


def _per_stage_terms(arch, layout, params, logits_bytes_per_element, zero3_max_live_params):
    """One layer's activations, the recomputation working set, one micro-batch's logits and
    the ZeRO-3 gather buffers."""
    h, a, kv, f, tp = arch.hidden, arch.n_heads, arch.n_kv_heads, arch.ffn_active, layout.tp
    shape = (layout.seq_local, layout.micro_batch, h, a, kv, f, arch.gated_mlp, arch.dropout, tp,
             layout.seq_parallel, layout.recompute, layout.flash_attention, layout.fp8)
    extra = variant_activation_bytes(arch, layout)
    rc = np.asarray(layout.recompute)
    act_layer = activation_bytes_per_layer(*shape) + np.where(
        rc == Recompute.FULL, 0.0, extra - np.where(rc == Recompute.SELECTIVE,
                                                    selective_saving_bytes(arch, layout), 0.0)
        - moe_block_saving_bytes(arch, layout)
        - arch.moe_share * moe_input_offload_bytes(arch, layout))
    # partial full recomputation: the layers not recomputed keep every activation
    kept = activation_bytes_per_layer(*shape[:10], np.full_like(np.asarray(layout.recompute),
                                                                Recompute.NONE),
                                      *shape[11:]) + extra
    share = np.where(np.asarray(layout.recompute) == Recompute.FULL,
                     layout.full_recompute_share, 1.0)
    act_layer = share * act_layer + (1.0 - share) * kept
    # operator-level selective recomputation (TorchTitan) keeps its own list
    act_layer = np.where(op_sac_applies(arch, layout),
                         op_sac_activation_bytes(layout.seq_local, layout.micro_batch, h, a, kv,
                                                 f, tp, layout.seq_parallel), act_layer)
    # a recomputed MoE block holds its activations again while its backward runs
    # and the offloaded inputs of the one MoE layer whose copy is under way
    working = (recompute_working_bytes(*shape) + dispatch_buffer_bytes(arch, layout)
               + np.where(moe_block_recomputed(arch, layout),
                          moe_block_activation_bytes(arch, layout), 0.0)
               + moe_input_offload_bytes(arch, layout))
    logits_mem = logits_bytes(layout.seq_local, layout.micro_batch, arch.vocab, tp,
                              logits_bytes_per_element)
    largest = largest_matrix_params_per_tp_rank(h, a, kv, f, arch.gated_mlp, arch.vocab, tp)
    zero3 = zero3_gather_buffer_bytes(params.layer_per_rank, largest, zero3_max_live_params,
                                      layout.zero_stage, PARAM_BYTES)
    zero3 = np.where(layout.shard_group > 1, zero3, 0.0)   # nothing to gather
    return act_layer, working, logits_mem, zero3


def stage_memory(arch: Architecture, layout: Layout, params: StageParams,
                 grad_bytes_per_param: ArrayLike, optimizer_bytes_per_param: ArrayLike,
                 logits_bytes_per_element: ArrayLike, zero3_max_live_params: ArrayLike,
                 usable: ArrayLike) -> MemoryBreakdown:
    r"""
    Memory of the first and last pipeline stages on one GPU; the larger one is reported.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Parallel layout, ZeRO stage, recomputation, schedule.
    params : StageParams
        Parameters of each stage on one tensor-parallel rank.
    grad_bytes_per_param, optimizer_bytes_per_param : array_like
        Gradient and optimizer-state (:math:`K`) bytes per parameter [bytes].
    logits_bytes_per_element : array_like
        Bytes per logit kept on the last stage [bytes].
    zero3_max_live_params : array_like
        Gathered parameters ZeRO-3 keeps live at once [-].
    usable : array_like
        Usable memory (:func:`usable_bytes`) [bytes].

    Returns
    -------
    MemoryBreakdown

    Notes
    -----
    Per stage, states sharded over ``dp * cp``, :math:`n` micro-batches in flight,
    :math:`A_l` one layer's activations, :math:`A_w` a recomputed layer's working set, and
    :math:`o` of the :math:`\lceil L/p \rceil` layers offloaded to host memory
    (:func:`~trainplan.model.offload.resident_activation_layers`):

    .. math::

       M = M_{weights} + M_{grads} + M_{opt}
           + \left(A_l ((\lceil L/p \rceil - o) n + \min(o, 1)) + A_w\right)
           + M_{logits} + M_{ZeRO-3}

    The first stage keeps logits only without a pipeline; under GPipe the last
    stage keeps every micro-batch's logits, 1F1B and interleaved one. Activations are
    counted for the busiest stage's :math:`\lceil L/p \rceil` layers (an upper bound for
    a first stage that holds one fewer). ZeRO-3 without resharding after the forward
    keeps the stage's 16-bit weights whole (:math:`2\Psi`, not :math:`2\Psi/N_d`).

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Table 1.
    .. [2] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.2.3 and Table 2.
    """
    act_layer, working, logits_mem, zero3 = _per_stage_terms(
        arch, layout, params, logits_bytes_per_element, zero3_max_live_params)
    m, multi = layout.n_microbatches, layout.pipelined
    common = (layout, act_layer, working, zero3, as_float(grad_bytes_per_param),
              as_float(optimizer_bytes_per_param))
    inflight = (layout.schedule, layout.pp, m, layout.vpp)
    first = _states_and_activations((params.first_stage, params.expert_first_stage),
                                    pl.inflight_microbatches_first_stage(*inflight),
                                    np.where(multi, 0.0, logits_mem * (1.0 + arch.mtp_layers)),
                                    *common, extra_layers=np.where(multi, 0.0, arch.mtp_layers))
    gpipe_logits = np.where(layout.schedule == Schedule.GPIPE, np.maximum(m, 1.0), 1.0)
    # multi-token prediction: its layer's activations and its own logits on the last stage
    last = _states_and_activations((params.last_stage, params.expert_last_stage),
                                   pl.inflight_microbatches_last_stage(*inflight),
                                   logits_mem * gpipe_logits * (1.0 + arch.mtp_layers), *common,
                                   extra_layers=arch.mtp_layers)
    # with uneven stages the second stage (ceil(L/p) layers, one micro-batch fewer in flight
    # than the first) can hold more than the first or the last
    has_middle = layout.pp > 2.0
    middle = _states_and_activations(
        (params.layer_per_rank * layout.layers_per_stage,
         params.expert_layer_per_gpu * layout.layers_per_stage),
        np.maximum(pl.inflight_microbatches_first_stage(*inflight) - 1.0, 1.0), 0.0, *common)
    total_first, total_last = sum(first), sum(last)
    total_middle = np.where(has_middle, sum(middle), 0.0)
    last_worse = total_last > total_first
    parts = [np.where(last_worse, l_, f_) for f_, l_ in zip(first, last, strict=True)]
    total = np.maximum(np.maximum(total_first, total_last), total_middle)
    middle_worse = total_middle > np.maximum(total_first, total_last)
    parts = [np.where(middle_worse, m_, p_) for p_, m_ in zip(parts, middle, strict=True)]
    return MemoryBreakdown(*parts, total=total, usable=usable, headroom=usable - total,
                           fits=total <= usable, activations_per_layer=act_layer)
