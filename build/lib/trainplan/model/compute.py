"""Time of the computation of one transformer layer on one GPU [s].

Matrix multiplications run at a fraction of the dense peak that depends on the
per-GPU matrix shape; element-wise kernels (norms, residual adds, dropout,
activation functions, softmax) are bound by HBM bandwidth; fused attention
(FlashAttention) runs at its own fraction of the 16-bit peak. FP8 applies to
the linear layers only: attention and element-wise work stay in 16 bits.

The shape dependence is a saturation law per matrix dimension,
``eta(M, N, K) = eta_max * prod_d d / (d + d_half)``: a GEMM reaches the
maximum achievable fraction ``eta_max`` of the peak (the "MAMF" of [1]) only
when all three dimensions are large compared with the tile and wave sizes of
the GPU [2]; ``d_half`` is the dimension at which one factor halves it. A
roofline bound on HBM traffic applies to every GEMM [3].

References
----------
.. [1] S. Bekman, "Machine Learning Engineering", compute/accelerator,
   "Maximum Achievable Matmul FLOPS comparison table" (2024-2025).
.. [2] NVIDIA, "Matrix Multiplication Background User's Guide" (Deep Learning
   Performance Documentation): tile and wave quantisation; small dimensions
   under-use the tensor cores.
.. [3] S. Williams, A. Waterman, D. Patterson, "Roofline", CACM 52(4), 2009.
.. [4] T. Dao, "FlashAttention-2", arXiv:2307.08691, Sec. 3 and 4: causal
   masking skips half the blocks; the backward runs 5 matrix products to the
   forward's 2 (2.5x).
.. [5] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.1 (the element-wise
   operations and the tensors they read and write in a Megatron layer).
.. [6] NVIDIA Transformer Engine documentation, "Using FP8 with Transformer
   Engine": every FP8 GEMM operand is cast from 16 bits with a per-tensor
   scale; Hopper FP8 GEMMs take the weight-gradient operands transposed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.choices import Recompute
from trainplan.model.config import Architecture, Gpu, Layout
from trainplan.model.constants import (
    ACTIVATION_BYTES,
    BACKWARD_PER_FORWARD,
    BYTES_16BIT,
    BYTES_FP8,
    CROSS_ENTROPY_PASSES,
    FORWARD_BACKWARD_FACTOR,
)

FLASH_CAUSAL_WORK_FRACTION = 0.5
"""Share of the ``s x s`` score blocks a causal FlashAttention kernel computes [4]."""

FLASH_BACKWARD_RATIO = 2.5
"""FlashAttention backward / forward work (5 matrix products vs 2) [4]."""

ELEMENTWISE_BACKWARD_RATIO = 2.0
"""Element-wise backward traffic / forward traffic (reads the saved input and the
incoming gradient, writes the outgoing gradient) [5]."""

FP8_CAST_BYTES = 5.0
"""HBM traffic to quantise one 16-bit element to FP8 with current (per-tensor) scaling:
read it for the absolute maximum (2), read it again and write one byte (3) [6]."""


def gemm_half_dim(half_dim_per_sm_tflop_s, peak_flop_s, sm_count):
    """Saturation dimension of a GPU: proportional to the throughput of one SM [elements].

    By Little's law the work an SM must have in flight to stay busy grows with
    how fast it consumes it, so faster SMs (Hopper, Blackwell) need larger
    matrices to approach their peak. ``half_dim_per_sm_tflop_s`` is one
    constant for every GPU [elements per TFLOP/s per SM]; it is applied to the
    16-bit peak for every precision (FP8's lower achievable fraction is in its
    own maximum efficiency), as it was fitted.
    """
    return as_float(half_dim_per_sm_tflop_s) * as_float(peak_flop_s) / as_float(sm_count) / 1e12


def gemm_efficiency(m, n, k, efficiency_max, half_dim, half_k):
    """Achieved fraction of dense peak of an ``(m x k) @ (k x n)`` GEMM [1] [2] [-].

    ``eta_max * m/(m + d) * n/(n + d) * k/(k + k_half)``: the output dimensions
    ``m`` and ``n`` set how many tiles keep the SMs busy (``d`` from
    :func:`gemm_half_dim`); the inner dimension ``k`` sets how long each tile's
    main loop runs against its fixed prologue and epilogue (``k_half``).
    """
    hd = as_float(half_dim)
    m, n, k = as_float(m), as_float(n), as_float(k)
    return as_float(efficiency_max) * (m / (m + hd)) * (n / (n + hd)) * (k / (k + as_float(half_k)))


def gemm_time_s(m, n, k, peak_flop_s, efficiency_max, half_dim, half_k, hbm_byte_s,
                bytes_per_element):
    """Time of an ``(m x k) @ (k x n)`` GEMM, ``2 m n k`` FLOPs [s] [1]-[3].

    The larger of the compute time at the shape-dependent efficiency and the
    time to move the three matrices through HBM.
    """
    m, n, k = as_float(m), as_float(n), as_float(k)
    flop = 2.0 * m * n * k
    compute = flop / (as_float(peak_flop_s) * gemm_efficiency(m, n, k, efficiency_max, half_dim,
                                                         half_k))
    traffic = as_float(bytes_per_element) * (m * k + k * n + m * n) / as_float(hbm_byte_s)
    return np.maximum(compute, traffic)


def linear_layers_forward_s(tokens, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, tp,
                            peak_flop_s, efficiency_max, half_dim, half_k, hbm_byte_s,
                            bytes_per_element):
    """Forward time of the four linear layers of one layer on one tensor-parallel rank [s].

    QKV ``(T, (h + 2 kv d)/t, h)``, attention output ``(T, h, h/t)``, first MLP
    ``(T, f g/t, h)`` (``g = 2`` gated), second MLP ``(T, h, f/t)``.
    Returns ``(total, column_parallel)``: the column-parallel part (QKV, first
    MLP) is what the backward tensor-parallel all-reduce can hide behind.
    """
    h, t = as_float(hidden), as_float(tp)
    d = h / as_float(n_heads)
    gate = np.where(gated_mlp, 2.0, 1.0)
    f = as_float(ffn_hidden)
    args = (peak_flop_s, efficiency_max, half_dim, half_k, hbm_byte_s, bytes_per_element)
    qkv = gemm_time_s(tokens, (h + 2.0 * as_float(n_kv_heads) * d) / t, h, *args)
    out = gemm_time_s(tokens, h, h / t, *args)
    fc1 = gemm_time_s(tokens, f * gate / t, h, *args)
    fc2 = gemm_time_s(tokens, h, f / t, *args)
    return qkv + out + fc1 + fc2, qkv + fc1


def attention_core_forward_s(micro_batch, seq_local, seq_len, hidden, n_heads, tp,
                             flash_attention, dropout, peak_flop_s, attention_efficiency,
                             gemm_efficiency_max, half_dim, half_k, hbm_byte_s):
    """Forward time of the attention core (scores, softmax, weighted sum) [s] [4].

    Fused (FlashAttention): ``4 b S s h / t`` FLOPs, half of them skipped by the
    causal mask, at ``attention_efficiency`` of the 16-bit peak. Unfused: two
    batched GEMMs over the ``b a / t`` heads, ``(S x d) @ (d x s)`` and
    ``(S x s) @ (s x d)`` (one kernel each: its tiles span the whole batch), plus
    the softmax (and dropout) reading and writing the ``b a S s / t`` scores
    through HBM.
    """
    b, sl, s, h, t = (as_float(x) for x in (micro_batch, seq_local, seq_len, hidden, tp))
    a = as_float(n_heads)
    d = h / a
    flop = 4.0 * b * sl * s * h / t
    fused = FLASH_CAUSAL_WORK_FRACTION * flop / (as_float(peak_flop_s)
                                                 * as_float(attention_efficiency))
    batches = b * a / t
    rows = sl * batches
    args = (peak_flop_s, gemm_efficiency_max, half_dim, half_k, hbm_byte_s, BYTES_16BIT)
    scores = gemm_time_s(rows, s, d, *args)
    weighted = gemm_time_s(rows, d, s, *args)
    score_elements = batches * sl * s
    softmax_bytes = score_elements * (2.0 * BYTES_16BIT + np.where(dropout, 5.0, 0.0))
    unfused = scores + weighted + softmax_bytes / as_float(hbm_byte_s)
    return np.where(flash_attention, fused, unfused)


def elementwise_forward_bytes(tokens, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp,
                              dropout, rotary, tp, seq_parallel):
    """HBM traffic of the element-wise kernels of one layer's forward on one rank [bytes] [5].

    Per token, in 16-bit elements: two norms (read + write ``h`` each), two
    residual adds (read 2, write 1; fused with bias and dropout, plus a
    1-byte mask, when there is dropout) on ``h``, split by ``t`` only under
    sequence parallelism; the activation function (GeLU: read and write
    ``f``; SwiGLU: read ``2f``, write ``f``) and rotary embeddings (read and
    write Q and K) split by ``t``.
    """
    h, t = as_float(hidden), as_float(tp)
    d = h / as_float(n_heads)
    drop = np.where(dropout, 1.0, 0.0)
    replicated_bytes = BYTES_16BIT * (4.0 + 6.0) * h + drop * 2.0 * h
    replicated_bytes = replicated_bytes / np.where(seq_parallel, t, 1.0)
    activation = np.where(gated_mlp, 3.0, 2.0) * as_float(ffn_hidden)
    rope = np.where(rotary, 2.0 * (h + as_float(n_kv_heads) * d), 0.0)
    sharded_bytes = BYTES_16BIT * (activation + rope) / t
    return as_float(tokens) * (replicated_bytes + sharded_bytes)


def fp8_cast_bytes(tokens, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, tp):
    """Extra HBM traffic of FP8 linear layers for one layer, forward and backward [bytes] [6].

    Forward: the inputs of the four linear layers are cast (``2h + (h + f)/t``
    elements per token). Backward: the output gradients are cast
    (``(h + 2 kv d)/t + 2h + f g/t``) and the inputs are written once more
    transposed (one byte each).
    """
    h, t, f = as_float(hidden), as_float(tp), as_float(ffn_hidden)
    d = h / as_float(n_heads)
    inputs = 2.0 * h + (h + f) / t
    outputs = ((h + 2.0 * as_float(n_kv_heads) * d) / t + 2.0 * h
               + f * np.where(gated_mlp, 2.0, 1.0) / t)
    return as_float(tokens) * (FP8_CAST_BYTES * (inputs + outputs) + 1.0 * inputs)


@dataclass(frozen=True)
class LayerCompute:
    """Computation of one transformer layer for one micro-batch on one GPU [s]."""

    linear_forward_s: NDArrayFloat
    """The four linear layers, forward."""
    column_parallel_forward_s: NDArrayFloat
    """Its column-parallel part (QKV, first MLP)."""
    attention_forward_s: NDArrayFloat
    attention_backward_s: NDArrayFloat
    forward_s: NDArrayFloat
    backward_s: NDArrayFloat
    total_s: NDArrayFloat
    """Forward, backward and recomputation."""


def recompute_forward_s(recompute: ArrayLike, forward_s: ArrayLike,
                        attention_forward_s: ArrayLike) -> NDArrayFloat:
    r"""
    Time of the forward work recomputation repeats in the backward [1]_.

    Parameters
    ----------
    recompute : array_like of int
        :class:`~trainplan.model.choices.Recompute` code per row.
    forward_s : array_like
        Forward time of the layer, :math:`t_f` [s].
    attention_forward_s : array_like
        Forward time of the attention core, :math:`t_a` [s].

    Returns
    -------
    numpy.ndarray
        :math:`t_f` (full), :math:`t_a` (selective) or 0 (none) [s].

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 5.
    """
    rc = np.asarray(recompute)
    return np.where(rc == Recompute.FULL, forward_s,
                    np.where(rc == Recompute.SELECTIVE, attention_forward_s, 0.0))


def layer_compute(arch: Architecture, layout: Layout, gpu: Gpu) -> LayerCompute:
    r"""
    Time of one layer's forward, backward and recomputation for one micro-batch [1]_ [4]_ [5]_.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Tensor-parallel degree, micro-batch, precision, recomputation.
    gpu : Gpu
        Peaks, efficiencies and HBM bandwidth.

    Returns
    -------
    LayerCompute

    Notes
    -----
    With :math:`t_{lin}` the linear layers (:func:`linear_layers_forward_s`, FP8
    peak and efficiency when FP8), :math:`t_a` the attention core
    (:func:`attention_core_forward_s`), :math:`t_e` the element-wise traffic over
    HBM and :math:`t_c` the FP8 casts (a third forward, two thirds backward):

    .. math::

       t_f = t_{lin} + t_a + t_e + t_c / 3

       t_b = 2 t_{lin} + \rho_a t_a + 2 t_e + 2 t_c / 3

    with :math:`\rho_a` = 2.5 fused (FlashAttention) or 2 unfused; the total adds
    :func:`recompute_forward_s`.
    """
    h, a, kv, f, tp = arch.hidden, arch.n_heads, arch.n_kv_heads, arch.ffn_hidden, layout.tp
    tokens, fp8, hbm = layout.tokens_microbatch, layout.fp8, gpu.hbm_byte_s
    peak16, eff16 = gpu.peak_16bit_flop_s, gpu.gemm_efficiency_16bit
    half = gemm_half_dim(gpu.gemm_half_dim_per_sm_tflop_s, peak16, gpu.sm_count)
    lin_fwd, lin_col = linear_layers_forward_s(
        tokens, h, a, kv, f, arch.gated_mlp, tp, np.where(fp8, gpu.peak_fp8_flop_s, peak16),
        np.where(fp8, gpu.gemm_efficiency_fp8, eff16), half, gpu.gemm_half_k, hbm,
        np.where(fp8, BYTES_FP8, BYTES_16BIT))
    attn_fwd = attention_core_forward_s(layout.micro_batch, layout.seq_local, arch.seq_len, h, a,
                                        tp, layout.flash_attention, arch.dropout, peak16,
                                        gpu.attention_efficiency, eff16, half, gpu.gemm_half_k,
                                        hbm)
    attn_bwd = attn_fwd * np.where(layout.flash_attention, FLASH_BACKWARD_RATIO,
                                   BACKWARD_PER_FORWARD)
    elem_fwd = elementwise_forward_bytes(tokens, h, a, kv, f, arch.gated_mlp, arch.dropout,
                                         arch.rotary, tp, layout.seq_parallel) / hbm
    cast = np.where(fp8, fp8_cast_bytes(tokens, h, a, kv, f, arch.gated_mlp, tp) / hbm, 0.0)
    fwd = lin_fwd + attn_fwd + elem_fwd + cast / FORWARD_BACKWARD_FACTOR
    bwd = (BACKWARD_PER_FORWARD * lin_fwd + attn_bwd + ELEMENTWISE_BACKWARD_RATIO * elem_fwd
           + cast * BACKWARD_PER_FORWARD / FORWARD_BACKWARD_FACTOR)
    total = fwd + bwd + recompute_forward_s(layout.recompute, fwd, attn_fwd)
    return LayerCompute(linear_forward_s=lin_fwd, column_parallel_forward_s=lin_col,
                        attention_forward_s=attn_fwd, attention_backward_s=attn_bwd,
                        forward_s=fwd, backward_s=bwd, total_s=total)


@dataclass(frozen=True)
class StageCompute:
    """Computation of one micro-batch through the first and the last pipeline stage [s]."""

    first_s: NDArrayFloat
    last_s: NDArrayFloat


def stage_compute(arch: Architecture, layout: Layout, gpu: Gpu, layer: LayerCompute,
                  logits_bytes_per_element: ArrayLike) -> StageCompute:
    r"""
    Computation of one micro-batch through the first and last stages [1]_ [3]_.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Tensor-parallel degree, layers per stage, micro-batch.
    gpu : Gpu
        Peaks, efficiencies and HBM bandwidth.
    layer : LayerCompute
        One layer (:func:`layer_compute`).
    logits_bytes_per_element : array_like
        Bytes per logit the cross-entropy reads and writes [bytes].

    Returns
    -------
    StageCompute

    Notes
    -----
    The first stage adds the embedding lookup (:math:`3 T h` 16-bit elements of
    HBM traffic, forward and backward); the last the LM head, a
    :math:`(T, V/t, h)` GEMM three times (forward and backward), and the
    cross-entropy reading the logits and writing their gradient. Without a
    pipeline one stage does all of it:

    .. math::

       t_1 = \frac{L}{p} t_l + t_{emb} + [p = 1]\, t_{head}, \quad
       t_p = \frac{L}{p} t_l + t_{head} \quad (p > 1)
    """
    tokens, tp, hbm, h = layout.tokens_microbatch, layout.tp, gpu.hbm_byte_s, arch.hidden
    peak16, eff16 = gpu.peak_16bit_flop_s, gpu.gemm_efficiency_16bit
    half = gemm_half_dim(gpu.gemm_half_dim_per_sm_tflop_s, peak16, gpu.sm_count)
    emb_t = FORWARD_BACKWARD_FACTOR * tokens * h * ACTIVATION_BYTES / hbm
    logits_t = FORWARD_BACKWARD_FACTOR * gemm_time_s(tokens, arch.vocab / tp, h, peak16, eff16,
                                                     half, gpu.gemm_half_k, hbm, BYTES_16BIT)
    loss_t = (tokens * arch.vocab / tp * CROSS_ENTROPY_PASSES * as_float(logits_bytes_per_element)
              / hbm)
    head_t = logits_t + loss_t
    layers = layout.layers_per_stage * layer.total_s
    first = layers + emb_t + np.where(layout.pipelined, 0.0, head_t)
    return StageCompute(first_s=first,
                        last_s=np.where(layout.pipelined, layers + head_t, first))


def optimizer_step_s(params: ArrayLike, shard_group: ArrayLike, zero_stage: ArrayLike,
                     adam_step_bytes_per_param: ArrayLike, hbm_byte_s: ArrayLike) -> NDArrayFloat:
    r"""
    Time of the Adam update on one GPU, bound by HBM traffic [1]_.

    Parameters
    ----------
    params : array_like
        Parameters of the busiest GPU before sharding, :math:`\Psi` [-].
    shard_group : array_like
        GPUs the optimizer states are sharded over, :math:`N_d` [-].
    zero_stage : array_like of int
        ZeRO stage; from 1 on each GPU updates only its shard [-].
    adam_step_bytes_per_param : array_like
        HBM traffic of the update per parameter, :math:`q` [bytes].
    hbm_byte_s : array_like
        Achievable HBM bandwidth [byte/s].

    Returns
    -------
    numpy.ndarray
        Time [s].

    Notes
    -----
    .. math::

       t_{opt} = \frac{\Psi / N_d'\, q}{B_{HBM}}, \quad N_d' = N_d \text{ from stage 1, else } 1

    References
    ----------
    .. [1] S. Rajbhandari et al., arXiv:1910.02054, Sec. 5.1 (ZeRO stage 1 partitions the
       optimizer states and each process updates only its partition).
    """
    shards = np.where(np.asarray(zero_stage) >= 1, shard_group, 1.0)
    return as_float(params) / shards * as_float(adam_step_bytes_per_param) / as_float(hbm_byte_s)
