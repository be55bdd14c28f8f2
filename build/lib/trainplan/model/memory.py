"""Memory held by one GPU during training [bytes].

Model states follow the ZeRO paper's accounting for mixed-precision Adam [1];
activations follow Korthikanti et al. Table 2 [2], generalised to grouped
key/value heads, any FFN width, gated MLPs and dropout-free models by counting
the same stored tensors; pipeline schedules hold the number of micro-batches
given in :mod:`trainplan.model.pipeline`.

References
----------
.. [1] S. Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
   Trillion Parameter Models", SC20, arXiv:1910.02054, Sec. 3.1 and 5,
   Table 1: ``(2 + 2 + K) Psi`` with ``K = 12`` for mixed-precision Adam;
   stage 1 ``4 Psi + 12 Psi/Nd``, stage 2 ``2 Psi + 14 Psi/Nd``, stage 3
   ``16 Psi/Nd``.
.. [2] V. Korthikanti et al., arXiv:2205.05198, Sec. 4 and Table 2 (bytes per
   layer with 16-bit activations): ``sbh(34 + 5as/h)`` without parallelism,
   ``sbh(10 + 24/t + 5as/(ht))`` with tensor parallelism,
   ``sbh(34/t + 5as/(ht))`` adding sequence parallelism, the ``5as/h`` term
   dropped by selective recomputation, ``2sbh`` (``/t`` with sequence
   parallelism) stored per layer under full recomputation.
.. [3] T. Dao, "FlashAttention-2", arXiv:2307.08691: the attention matrix is
   never stored; the backward keeps the output and the row-wise log-sum-exp
   (fp32, one value per query and head).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model import pipeline as pl
from trainplan.model._array import ArrayLike, NDArrayBool, NDArrayFloat, as_float
from trainplan.model.choices import Recompute, Schedule
from trainplan.model.config import Architecture, Layout
from trainplan.model.constants import ACTIVATION_BYTES, PARAM_BYTES
from trainplan.model.params import StageParams, largest_matrix_params_per_tp_rank

DROPOUT_MASK_BYTES = 1.0
"""Bytes per element of a dropout mask (stored as uint8) [2]."""

LOGSUMEXP_BYTES = 4.0
"""Bytes per row statistic kept by FlashAttention for its backward (fp32) [3]."""


# --- model states -------------------------------------------------------------------------------


def weight_bytes(params, dp, zero_stage, bytes_per_param=PARAM_BYTES):
    """16-bit weights per GPU: ``2 Psi``, sharded over ``dp`` at ZeRO stage 3 [1] [bytes]."""
    shard = np.where(np.asarray(zero_stage) >= 3, as_float(dp), 1.0)
    return as_float(params) * bytes_per_param / shard


def gradient_bytes(params, dp, zero_stage, bytes_per_param=2.0):
    """Gradients per GPU: ``2 Psi`` (16-bit), sharded over ``dp`` from ZeRO stage 2 [1] [bytes].

    ``bytes_per_param`` is 2 for 16-bit gradients (the ZeRO paper), 4 when
    gradients are accumulated and reduced in fp32 (Megatron ``main_grad``), 6
    for a 16-bit ``.grad`` plus an fp32 accumulation buffer (DeepSpeed's
    BF16 optimizer).
    """
    shard = np.where(np.asarray(zero_stage) >= 2, as_float(dp), 1.0)
    return as_float(params) * as_float(bytes_per_param) / shard


def optimizer_bytes(params, dp, zero_stage, bytes_per_param=12.0):
    """Optimizer states per GPU: ``K Psi`` with ``K = 12`` for mixed-precision Adam
    (fp32 master weights, momentum, variance), sharded over ``dp`` from ZeRO
    stage 1 or the Megatron distributed optimizer [1] [bytes]."""
    shard = np.where(np.asarray(zero_stage) >= 1, as_float(dp), 1.0)
    return as_float(params) * as_float(bytes_per_param) / shard


def model_state_bytes(params, dp, zero_stage, weight_bytes_per_param=PARAM_BYTES,
                      grad_bytes_per_param=2.0, optimizer_bytes_per_param=12.0):
    """Weights + gradients + optimizer states per GPU [bytes]; ZeRO Table 1 [1]."""
    return (
        weight_bytes(params, dp, zero_stage, weight_bytes_per_param)
        + gradient_bytes(params, dp, zero_stage, grad_bytes_per_param)
        + optimizer_bytes(params, dp, zero_stage, optimizer_bytes_per_param)
    )


# --- activations --------------------------------------------------------------------------------


def replicated_activation_coefficient(dropout):
    """Stored activations that tensor parallelism does not split, per ``s b h`` [bytes].

    Two norm inputs (2 each), the QKV input (2), the MLP input (2) and, with
    dropout, two dropout masks (1 each): 10 for GPT [2].
    """
    return 8.0 + 2.0 * DROPOUT_MASK_BYTES * np.where(dropout, 1.0, 0.0)


def sharded_activation_coefficient(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp):
    """Stored activations that tensor parallelism splits ``t`` ways, per ``s b h`` [bytes].

    Q (2), K and V (2 kv/a each), the attention output-projection input (2),
    the first MLP output (2 f/h, twice for a gated MLP) and the activation
    output (2 f/h): 24 for GPT (``kv = a``, ``f = 4h``) [2].
    """
    kv_ratio = as_float(n_kv_heads) / as_float(n_heads)
    f_ratio = as_float(ffn_hidden) / as_float(hidden)
    attention = 2.0 + 4.0 * kv_ratio + 2.0
    mlp = f_ratio * np.where(gated_mlp, 4.0, 2.0) + 2.0 * f_ratio
    return attention + mlp


def attention_score_coefficient(seq_len, hidden, n_heads, dropout):
    """Stored attention-matrix activations per ``s b h`` [bytes]: ``5 a s / h`` with dropout
    (softmax output 2, dropout mask 1, dropout output 2), ``2 a s / h`` without [2]."""
    per_score = 2.0 + np.where(dropout, 3.0, 0.0)
    return per_score * as_float(n_heads) * as_float(seq_len) / as_float(hidden)


def activation_bytes_per_layer(seq_len, micro_batch, hidden, n_heads, n_kv_heads, ffn_hidden,
                               gated_mlp, dropout, tp, seq_parallel, recompute, flash_attention):
    """Activations one layer stores for one micro-batch on one GPU [bytes] [2] [3].

    ``recompute``: a :class:`~trainplan.model.choices.Recompute` code. ``seq_len`` is the sequence
    held by this GPU (divide by the context-parallel degree first).
    With GPT settings this reproduces every row of Korthikanti Table 2.
    """
    s, b, h, t = as_float(seq_len), as_float(micro_batch), as_float(hidden), as_float(tp)
    sbh = s * b * h
    rc = np.asarray(recompute)
    sp = np.asarray(seq_parallel, dtype=bool)
    replicated = replicated_activation_coefficient(dropout) / np.where(sp, t, 1.0)
    sharded = sharded_activation_coefficient(hidden, n_heads, n_kv_heads, ffn_hidden,
                                             gated_mlp) / t
    scores_stored = (rc == Recompute.NONE) & ~np.asarray(flash_attention, dtype=bool)
    scores = np.where(scores_stored, attention_score_coefficient(seq_len, hidden, n_heads,
                                                                 dropout) / t, 0.0)
    lse = np.where(np.asarray(flash_attention, dtype=bool) & (rc < Recompute.FULL),
                   LOGSUMEXP_BYTES * as_float(n_heads) / h / t, 0.0)
    no_full = sbh * (replicated + sharded + scores + lse)
    full = ACTIVATION_BYTES * sbh / np.where(sp, t, 1.0)
    return np.where(rc == Recompute.FULL, full, no_full)


def recompute_working_bytes(seq_len, micro_batch, hidden, n_heads, n_kv_heads, ffn_hidden,
                            gated_mlp, dropout, tp, seq_parallel, recompute, flash_attention):
    """Transient activations of the one layer being recomputed under full recomputation [bytes].

    During the backward of a layer its activations are rebuilt as if nothing
    were recomputed; zero unless ``recompute`` is full.
    """
    one_layer = activation_bytes_per_layer(seq_len, micro_batch, hidden, n_heads, n_kv_heads,
                                           ffn_hidden, gated_mlp, dropout, tp, seq_parallel,
                                           Recompute.NONE, flash_attention)
    return np.where(np.asarray(recompute) == Recompute.FULL, one_layer, 0.0)


def zero3_gather_buffer_bytes(layer_params_rank, largest_matrix_params_rank, max_live_params,
                              zero_stage, bytes_per_param=PARAM_BYTES):
    """Gathered (unsharded) parameters ZeRO-3 holds at once [bytes] [1].

    One layer's parameters, capped at DeepSpeed's ``stage3_max_live_parameters``
    but never less than the largest single weight matrix (which must be whole
    to be used); zero below stage 3.
    """
    live = np.maximum(np.minimum(as_float(layer_params_rank), as_float(max_live_params)),
                      as_float(largest_matrix_params_rank))
    return np.where(np.asarray(zero_stage) >= 3, live * bytes_per_param, 0.0)


def logits_bytes(seq_len, micro_batch, vocab, tp, bytes_per_logit):
    """Logits of one micro-batch on the last pipeline stage [bytes].

    ``s b V / t`` logits, vocabulary-parallel over ``t`` ranks, times
    ``bytes_per_logit`` (16-bit logits plus the fp32 copy the cross-entropy
    keeps for its backward: 6).
    """
    return (as_float(seq_len) * as_float(micro_batch) * as_float(vocab) / as_float(tp)
            * as_float(bytes_per_logit))


def korthikanti_table2_bytes(seq_len, micro_batch, hidden, n_heads, tp, variant):
    """Korthikanti et al. 2022 Table 2, bytes per layer, as published [2].

    ``variant`` is one of ``"none"``, ``"tp"``, ``"tp+sp"``, ``"tp+selective"``,
    ``"tp+sp+selective"``, ``"full"``, ``"full+sp"``.
    """
    s, b, h, a, t = (as_float(x) for x in (seq_len, micro_batch, hidden, n_heads, tp))
    sbh = s * b * h
    formulas = {
        "none": sbh * (34.0 + 5.0 * a * s / h),
        "tp": sbh * (10.0 + 24.0 / t + 5.0 * a * s / (h * t)),
        "tp+sp": sbh * (34.0 / t + 5.0 * a * s / (h * t)),
        "tp+selective": sbh * (10.0 + 24.0 / t),
        "tp+sp+selective": sbh * 34.0 / t,
        "full": 2.0 * sbh,
        "full+sp": 2.0 * sbh / t,
    }
    return formulas[variant]


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


def _states_and_activations(params, inflight, logits, layout, act_layer, working, zero3_buffers,
                            grad_b, opt_b):
    """Weights, gradients, optimizer states, activations and other memory of one stage."""
    shards, zero = layout.shard_group, layout.zero_stage
    w = weight_bytes(params, shards, zero, PARAM_BYTES)
    gr = gradient_bytes(params, shards, zero, grad_b)
    op = optimizer_bytes(params, shards, zero, opt_b)
    act = act_layer * layout.layers_per_stage * inflight + working
    other = logits + zero3_buffers
    return w, gr, op, act, other


def stage_memory(arch: Architecture, layout: Layout, params: StageParams,
                 grad_bytes_per_param: ArrayLike, optimizer_bytes_per_param: ArrayLike,
                 logits_bytes_per_element: ArrayLike, zero3_max_live_params: ArrayLike,
                 usable: ArrayLike) -> MemoryBreakdown:
    r"""
    Memory of the first and last pipeline stages on one GPU; the larger one is reported [1]_ [2]_.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Parallel layout, ZeRO stage, recomputation, schedule.
    params : StageParams
        Parameters of each stage on one tensor-parallel rank (:func:`~trainplan.model.params.
        stage_params`).
    grad_bytes_per_param : array_like
        Gradient bytes per parameter [bytes].
    optimizer_bytes_per_param : array_like
        Optimizer-state bytes per parameter, :math:`K` [bytes].
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
    Per stage, with :math:`n` micro-batches in flight (:mod:`~trainplan.model.pipeline`),
    :math:`A_l` the activations of one layer (:func:`activation_bytes_per_layer`) and
    :math:`A_w` the working set of a recomputed layer:

    .. math::

       M = M_{weights} + M_{grads} + M_{opt} + \left(A_l \frac{L}{p} n + A_w\right)
           + M_{logits} + M_{ZeRO-3}

    The first stage keeps logits only without a pipeline; under GPipe the last
    stage keeps every micro-batch's logits, 1F1B and interleaved free them
    after each backward.
    """
    h, a, kv, f, tp = arch.hidden, arch.n_heads, arch.n_kv_heads, arch.ffn_hidden, layout.tp
    m, multi = layout.n_microbatches, layout.pipelined
    shape = (layout.seq_local, layout.micro_batch, h, a, kv, f, arch.gated_mlp, arch.dropout, tp,
             layout.seq_parallel, layout.recompute, layout.flash_attention)
    act_layer = activation_bytes_per_layer(*shape)
    working = recompute_working_bytes(*shape)
    logits_mem = logits_bytes(layout.seq_local, layout.micro_batch, arch.vocab, tp,
                              logits_bytes_per_element)
    largest = largest_matrix_params_per_tp_rank(h, a, kv, f, arch.gated_mlp, arch.vocab, tp)
    zero3 = zero3_gather_buffer_bytes(params.layer_per_rank, largest, zero3_max_live_params,
                                      layout.zero_stage, PARAM_BYTES)
    zero3 = np.where(layout.shard_group > 1, zero3, 0.0)   # nothing to gather
    common = (layout, act_layer, working, zero3, as_float(grad_bytes_per_param),
              as_float(optimizer_bytes_per_param))
    inflight = (layout.schedule, layout.pp, m, layout.vpp)
    first = _states_and_activations(params.first_stage,
                                    pl.inflight_microbatches_first_stage(*inflight),
                                    np.where(multi, 0.0, logits_mem), *common)
    gpipe_logits = np.where(layout.schedule == Schedule.GPIPE, np.maximum(m, 1.0), 1.0)
    last = _states_and_activations(params.last_stage,
                                   pl.inflight_microbatches_last_stage(*inflight),
                                   logits_mem * gpipe_logits, *common)
    total_first, total_last = sum(first), sum(last)
    last_worse = total_last > total_first
    parts = [np.where(last_worse, l_, f_) for f_, l_ in zip(first, last, strict=True)]
    total = np.maximum(total_first, total_last)
    return MemoryBreakdown(*parts, total=total, usable=usable, headroom=usable - total,
                           fits=total <= usable)
