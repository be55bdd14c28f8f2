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

import numpy as np

FLASH_CAUSAL_WORK_FRACTION = 0.5
"""Share of the ``s x s`` score blocks a causal FlashAttention kernel computes [4]."""

FLASH_BACKWARD_RATIO = 2.5
"""FlashAttention backward / forward work (5 matrix products vs 2) [4]."""

ELEMENTWISE_BACKWARD_RATIO = 2.0
"""Element-wise backward traffic / forward traffic (reads the saved input and the
incoming gradient, writes the outgoing gradient) [5]."""

BYTES_16BIT = 2.0

FP8_CAST_BYTES = 5.0
"""HBM traffic to quantise one 16-bit element to FP8 with current (per-tensor) scaling:
read it for the absolute maximum (2), read it again and write one byte (3) [6]."""


def _f(x):
    return np.asarray(x, dtype=np.float64)


def gemm_half_dim(half_dim_per_sm_tflop_s, peak_flop_s, sm_count):
    """Saturation dimension of a GPU: proportional to the throughput of one SM [elements].

    By Little's law the work an SM must have in flight to stay busy grows with
    how fast it consumes it, so faster SMs (Hopper, Blackwell) need larger
    matrices to approach their peak. ``half_dim_per_sm_tflop_s`` is one
    constant for every GPU [elements per TFLOP/s per SM]; it is applied to the
    16-bit peak for every precision (FP8's lower achievable fraction is in its
    own maximum efficiency), as it was fitted.
    """
    return _f(half_dim_per_sm_tflop_s) * _f(peak_flop_s) / _f(sm_count) / 1e12


def gemm_efficiency(m, n, k, efficiency_max, half_dim, half_k):
    """Achieved fraction of dense peak of an ``(m x k) @ (k x n)`` GEMM [1] [2] [-].

    ``eta_max * m/(m + d) * n/(n + d) * k/(k + k_half)``: the output dimensions
    ``m`` and ``n`` set how many tiles keep the SMs busy (``d`` from
    :func:`gemm_half_dim`); the inner dimension ``k`` sets how long each tile's
    main loop runs against its fixed prologue and epilogue (``k_half``).
    """
    hd = _f(half_dim)
    m, n, k = _f(m), _f(n), _f(k)
    return _f(efficiency_max) * (m / (m + hd)) * (n / (n + hd)) * (k / (k + _f(half_k)))


def gemm_time_s(m, n, k, peak_flop_s, efficiency_max, half_dim, half_k, hbm_byte_s,
                bytes_per_element):
    """Time of an ``(m x k) @ (k x n)`` GEMM, ``2 m n k`` FLOPs [s] [1]-[3].

    The larger of the compute time at the shape-dependent efficiency and the
    time to move the three matrices through HBM.
    """
    m, n, k = _f(m), _f(n), _f(k)
    flop = 2.0 * m * n * k
    compute = flop / (_f(peak_flop_s) * gemm_efficiency(m, n, k, efficiency_max, half_dim,
                                                         half_k))
    traffic = _f(bytes_per_element) * (m * k + k * n + m * n) / _f(hbm_byte_s)
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
    h, t = _f(hidden), _f(tp)
    d = h / _f(n_heads)
    gate = np.where(gated_mlp, 2.0, 1.0)
    f = _f(ffn_hidden)
    args = (peak_flop_s, efficiency_max, half_dim, half_k, hbm_byte_s, bytes_per_element)
    qkv = gemm_time_s(tokens, (h + 2.0 * _f(n_kv_heads) * d) / t, h, *args)
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
    b, sl, s, h, t = _f(micro_batch), _f(seq_local), _f(seq_len), _f(hidden), _f(tp)
    a = _f(n_heads)
    d = h / a
    flop = 4.0 * b * sl * s * h / t
    fused = FLASH_CAUSAL_WORK_FRACTION * flop / (_f(peak_flop_s) * _f(attention_efficiency))
    batches = b * a / t
    rows = sl * batches
    args = (peak_flop_s, gemm_efficiency_max, half_dim, half_k, hbm_byte_s, BYTES_16BIT)
    scores = gemm_time_s(rows, s, d, *args)
    weighted = gemm_time_s(rows, d, s, *args)
    score_elements = batches * sl * s
    softmax_bytes = score_elements * (2.0 * BYTES_16BIT + np.where(dropout, 5.0, 0.0))
    unfused = scores + weighted + softmax_bytes / _f(hbm_byte_s)
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
    h, t = _f(hidden), _f(tp)
    d = h / _f(n_heads)
    drop = np.where(dropout, 1.0, 0.0)
    replicated_bytes = BYTES_16BIT * (4.0 + 6.0) * h + drop * 2.0 * h
    replicated_bytes = replicated_bytes / np.where(seq_parallel, t, 1.0)
    activation = np.where(gated_mlp, 3.0, 2.0) * _f(ffn_hidden)
    rope = np.where(rotary, 2.0 * (h + _f(n_kv_heads) * d), 0.0)
    sharded_bytes = BYTES_16BIT * (activation + rope) / t
    return _f(tokens) * (replicated_bytes + sharded_bytes)


def fp8_cast_bytes(tokens, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, tp):
    """Extra HBM traffic of FP8 linear layers for one layer, forward and backward [bytes] [6].

    Forward: the inputs of the four linear layers are cast (``2h + (h + f)/t``
    elements per token). Backward: the output gradients are cast
    (``(h + 2 kv d)/t + 2h + f g/t``) and the inputs are written once more
    transposed (one byte each).
    """
    h, t, f = _f(hidden), _f(tp), _f(ffn_hidden)
    d = h / _f(n_heads)
    inputs = 2.0 * h + (h + f) / t
    outputs = (h + 2.0 * _f(n_kv_heads) * d) / t + 2.0 * h + f * np.where(gated_mlp, 2.0, 1.0) / t
    return _f(tokens) * (FP8_CAST_BYTES * (inputs + outputs) + 1.0 * inputs)
