r"""The kernels of one transformer layer's forward on one GPU: time [s] or HBM traffic [bytes].

The four linear layers are GEMMs (:mod:`~trainplan.model.gemm`), in FP8 when
the layout says so; the attention core is either one fused kernel
(FlashAttention [1]_ [2]_) at its own fraction of the 16-bit peak or two
batched GEMMs with the softmax through HBM; the element-wise kernels (norms,
residual adds, dropout, activation functions, rotary embeddings) and the FP8
casts [4]_ are bound by HBM bandwidth and returned as bytes. Attention and
element-wise work stay in 16 bits under FP8.
:func:`~trainplan.model.compute.layer_compute` assembles them into the forward,
backward and recomputation of a layer.

References
----------
.. [1] T. Dao et al., "FlashAttention: Fast and Memory-Efficient Exact
   Attention with IO-Awareness", arXiv:2205.14135, 2022.
.. [2] T. Dao, "FlashAttention-2: Faster Attention with Better Parallelism and
   Work Partitioning", arXiv:2307.08691, 2023, Sec. 3 and 4: causal masking
   skips half the blocks; the backward runs 5 matrix products to the forward's
   2 (2.5x).
.. [3] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198, Sec. 4.1 (the element-wise
   operations and the tensors they read and write in a Megatron layer).
.. [4] NVIDIA Transformer Engine documentation, "Using FP8 with Transformer
   Engine": every FP8 GEMM operand is cast from 16 bits with a per-tensor
   scale; Hopper FP8 GEMMs take the weight-gradient operands transposed.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.constants import BYTES_16BIT
from trainplan.model.gemm import gemm_time_s

FLASH_CAUSAL_WORK_FRACTION = 0.5
"""Share of the ``s x s`` score blocks a causal FlashAttention kernel computes [2]."""

FLASH_HALF_KEYS = 240.0
"""Keys per query at which a fused attention kernel runs at half its long-sequence
throughput (per-query-block prologue and epilogue: loading Q, rescaling and writing O).
Fitted to the H100 forward sweeps of pytorch/benchmark commit ff65cb67 (FlashAttention-3
and Triton FlashAttention-2, 512-16384 tokens, head dim 128; both within 1.3 %;
``tests/data/attention_benchmarks.csv``)."""

FLASH_BACKWARD_RATIO = 2.5
"""FlashAttention backward / forward work (5 matrix products vs 2) [2]."""

ELEMENTWISE_BACKWARD_RATIO = 2.0
"""Element-wise backward traffic / forward traffic (reads the saved input and the
incoming gradient, writes the outgoing gradient) [3]."""

FP8_CAST_BYTES = 5.0
"""HBM traffic to quantise one 16-bit element to FP8 with current (per-tensor) scaling:
read it for the absolute maximum (2), read it again and write one byte (3) [4]."""

FP8_RECIPES = ("delayed", "current", "rowwise", "mxfp8")
"""FP8 scaling recipes: Transformer Engine delayed scaling (the scale comes from an amax
history, the cast computes the new amax in the same pass), current per-tensor scaling
(Float8CurrentScaling, torchao tensorwise: an amax pass before the cast), rowwise scaling
(torchao rowwise: one amax per row, also a pass before the cast) and MXFP8 (Blackwell:
one scale per 32-element block, computed inside the cast)."""

FP8_CAST_BYTES_BY_RECIPE = (3.0, 5.0, 5.0, 3.0 + 1.0 / 32.0)
"""HBM traffic [bytes] to quantise one 16-bit element, per recipe code (index into
:data:`FP8_RECIPES`): read 2 and write 1, plus a read of 2 for the amax pass of current and
rowwise scaling, plus one scale byte per 32 elements for MXFP8 [4]."""


def fp8_cast_bytes_per_element(recipe: ArrayLike) -> NDArrayFloat:
    r"""
    HBM traffic to quantise one 16-bit element to FP8 under each row's recipe.

    Parameters
    ----------
    recipe : array_like of int
        Index into :data:`FP8_RECIPES` [-].

    Returns
    -------
    numpy.ndarray
        :math:`c` of :func:`fp8_cast_bytes` [bytes]: 3 (delayed), 5 (current, rowwise),
        3 + 1/32 (MXFP8).

    References
    ----------
    .. [1] NVIDIA Transformer Engine documentation, "Using FP8 with Transformer Engine"
       (DelayedScaling, Float8CurrentScaling, MXFP8BlockScaling recipes).
    """
    return np.asarray(FP8_CAST_BYTES_BY_RECIPE)[np.asarray(recipe, dtype=np.int64)]


def linear_layers_forward_s(tokens: ArrayLike, hidden: ArrayLike, n_heads: ArrayLike,
                            n_kv_heads: ArrayLike, ffn_hidden: ArrayLike, gated_mlp: ArrayLike,
                            tp: ArrayLike, peak_flop_s: ArrayLike, efficiency_max: ArrayLike,
                            wave_elements: ArrayLike, half_k: ArrayLike, hbm_byte_s: ArrayLike,
                            bytes_per_element: ArrayLike) -> tuple[NDArrayFloat, NDArrayFloat]:
    r"""
    Forward time of the four linear layers of one layer on one tensor-parallel rank.

    Parameters
    ----------
    tokens : array_like
        Tokens of the micro-batch on this GPU, :math:`T` [tokens].
    hidden, n_heads, n_kv_heads, ffn_hidden : array_like
        :math:`h` [-], :math:`a` [-], :math:`k_v` [-], :math:`f` [-].
    gated_mlp : array_like of bool
        Gated MLP (:math:`\gamma = 2` fused input matrices, else 1).
    tp : array_like
        Tensor-parallel degree, :math:`t` [-].
    peak_flop_s, efficiency_max, wave_elements, half_k, hbm_byte_s, bytes_per_element : array_like
        GEMM constants of :func:`~trainplan.model.gemm.gemm_time_s` [FLOP/s], [-],
        [elements], [elements], [byte/s], [bytes].

    Returns
    -------
    tuple of numpy.ndarray
        The four layers, and their column-parallel part (QKV, first MLP: what the
        backward tensor-parallel all-reduce can hide behind) [s].

    Notes
    -----
    With :math:`d = h/a` and :math:`t_G(M, N, K)` the GEMM time:

    .. math::

       t_{lin} = t_G\left(T, \tfrac{h + 2 k_v d}{t}, h\right) + t_G\left(T, h, \tfrac{h}{t}\right)
               + t_G\left(T, \tfrac{\gamma f}{t}, h\right) + t_G\left(T, h, \tfrac{f}{t}\right)

    References
    ----------
    .. [1] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3.
    """
    h, t = as_float(hidden), as_float(tp)
    d = h / as_float(n_heads)
    gate = np.where(gated_mlp, 2.0, 1.0)
    f = as_float(ffn_hidden)
    args = (peak_flop_s, efficiency_max, wave_elements, half_k, hbm_byte_s, bytes_per_element)
    qkv = gemm_time_s(tokens, (h + 2.0 * as_float(n_kv_heads) * d) / t, h, *args)
    out = gemm_time_s(tokens, h, h / t, *args)
    fc1 = gemm_time_s(tokens, f * gate / t, h, *args)
    fc2 = gemm_time_s(tokens, h, f / t, *args)
    return qkv + out + fc1 + fc2, qkv + fc1


def fused_attention_efficiency(keys_per_query: ArrayLike, attention_efficiency: ArrayLike,
                               half_keys: ArrayLike = FLASH_HALF_KEYS) -> NDArrayFloat:
    r"""
    Fraction of the 16-bit peak a fused (FlashAttention) kernel reaches.

    Each block of queries loops over the blocks of keys it attends to, against a
    fixed cost per query block; a causal mask halves the keys a query attends to
    on average.

    Parameters
    ----------
    keys_per_query : array_like
        Keys one query attends to on average, :math:`\bar s` (:math:`s`; :math:`s/2`
        causal) [tokens].
    attention_efficiency : array_like
        Long-sequence fraction of the peak, :math:`\eta_a` (GPU catalog) [-].
    half_keys : array_like, optional
        :math:`s_{1/2}` (:data:`FLASH_HALF_KEYS`) [tokens].

    Returns
    -------
    numpy.ndarray
        Efficiency [-].

    Notes
    -----
    .. math::

       \eta = \eta_a \frac{\bar s}{\bar s + s_{1/2}}

    References
    ----------
    .. [1] T. Dao, "FlashAttention-2", arXiv:2307.08691, 2023, Sec. 3.
    .. [2] J. Shah et al., "FlashAttention-3", arXiv:2407.08608, 2024, Fig. 5.
    """
    keys = as_float(keys_per_query)
    return as_float(attention_efficiency) * keys / (keys + as_float(half_keys))


def attention_core_forward_s(micro_batch: ArrayLike, seq_local: ArrayLike, seq_len: ArrayLike,
                             hidden: ArrayLike, n_heads: ArrayLike, tp: ArrayLike,
                             flash_attention: ArrayLike, dropout: ArrayLike,
                             peak_flop_s: ArrayLike, attention_efficiency: ArrayLike,
                             gemm_efficiency_max: ArrayLike, wave_elements: ArrayLike,
                             half_k: ArrayLike, hbm_byte_s: ArrayLike) -> NDArrayFloat:
    r"""
    Forward time of the attention core (scores, softmax, weighted sum) on one GPU.

    Parameters
    ----------
    micro_batch, seq_local, seq_len : array_like
        Micro-batch :math:`b` [sequences]; queries held by this GPU,
        :math:`S = s/c`, and keys attended to, :math:`s` [tokens].
    hidden, n_heads, tp : array_like
        :math:`h` [-], :math:`a` [-], tensor-parallel degree :math:`t` [-].
    flash_attention, dropout : array_like of bool
        Fused kernel; dropout on the attention probabilities.
    peak_flop_s, attention_efficiency : array_like
        16-bit dense peak :math:`P` [FLOP/s]; the fraction of it the fused kernel
        reaches, :math:`\eta_a` [-].
    gemm_efficiency_max, wave_elements, half_k, hbm_byte_s : array_like
        GEMM constants of :func:`~trainplan.model.gemm.gemm_time_s` [-], [elements],
        [elements], and the HBM bandwidth :math:`B_{HBM}` [byte/s].

    Returns
    -------
    numpy.ndarray
        Time [s].

    Notes
    -----
    Fused: :math:`4 b S s h / t` FLOPs, half skipped by the causal mask, at
    :math:`\eta = \eta_a \frac{s/2}{s/2 + s_{1/2}}` (:func:`fused_attention_efficiency`).
    Unfused: two batched 16-bit GEMMs over the :math:`n_b = b a / t` heads, and the softmax reading
    and writing the :math:`n_b S s` scores (5 more bytes each with dropout):

    .. math::

       t_a = \begin{cases} \dfrac{\tfrac12\, 4 b S s h / t}{P \eta} & \text{fused} \\
             t_G(S n_b, s, d) + t_G(S n_b, d, s)
             + \dfrac{n_b S s (4 + 5 [\text{dropout}])}{B_{HBM}} & \text{unfused}
             \end{cases}

    References
    ----------
    .. [1] T. Dao et al., "FlashAttention", arXiv:2205.14135, 2022.
    .. [2] T. Dao, "FlashAttention-2", arXiv:2307.08691, 2023, Sec. 3.
    """
    b, sl, s, h, t = (as_float(x) for x in (micro_batch, seq_local, seq_len, hidden, tp))
    a = as_float(n_heads)
    d = h / a
    flop = 4.0 * b * sl * s * h / t
    eta = fused_attention_efficiency(FLASH_CAUSAL_WORK_FRACTION * s, attention_efficiency)
    fused = FLASH_CAUSAL_WORK_FRACTION * flop / (as_float(peak_flop_s) * eta)
    batches = b * a / t
    rows = sl * batches
    args = (peak_flop_s, gemm_efficiency_max, wave_elements, half_k, hbm_byte_s, BYTES_16BIT)
    scores = gemm_time_s(rows, s, d, *args)
    weighted = gemm_time_s(rows, d, s, *args)
    score_elements = batches * sl * s
    softmax_bytes = score_elements * (2.0 * BYTES_16BIT + np.where(dropout, 5.0, 0.0))
    unfused = scores + weighted + softmax_bytes / as_float(hbm_byte_s)
    return np.where(flash_attention, fused, unfused)


def elementwise_forward_bytes(tokens: ArrayLike, hidden: ArrayLike, n_heads: ArrayLike,
                              n_kv_heads: ArrayLike, ffn_hidden: ArrayLike, gated_mlp: ArrayLike,
                              dropout: ArrayLike, rotary: ArrayLike, tp: ArrayLike,
                              seq_parallel: ArrayLike) -> NDArrayFloat:
    r"""
    HBM traffic of the element-wise kernels of one layer's forward on one rank.

    Parameters
    ----------
    tokens : array_like
        Tokens of the micro-batch on this GPU, :math:`T` [tokens].
    hidden, n_heads, n_kv_heads, ffn_hidden : array_like
        :math:`h` [-], :math:`a` [-], :math:`k_v` [-], :math:`f` [-].
    gated_mlp, dropout, rotary, seq_parallel : array_like of bool
        SwiGLU activation; dropout (fused with bias and residual, 1-byte masks);
        rotary embeddings; sequence parallelism.
    tp : array_like
        Tensor-parallel degree, :math:`t` [-].

    Returns
    -------
    numpy.ndarray
        Bytes read and written [bytes].

    Notes
    -----
    Per token, in 16-bit elements: two norms (read + write :math:`h`), two
    residual adds (read 2, write 1, on :math:`h`) and two dropout masks of
    :math:`h` bytes, split by :math:`t` only under sequence parallelism; the
    activation function (GeLU: read and write :math:`f`; SwiGLU: read :math:`2f`,
    write :math:`f`) and rotary embeddings (read and write Q and K, :math:`d = h/a`)
    split by :math:`t`:

    .. math::

       B_e = T \left[\frac{2 \cdot 10 h + 2 h [\text{dropout}]}{t^{[sp]}}
             + \frac{2 \left((2 + [\text{gated}]) f
             + 2 [\text{rotary}] (h + k_v d)\right)}{t}\right]

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.1.
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


def fp8_cast_bytes(tokens: ArrayLike, hidden: ArrayLike, n_heads: ArrayLike,
                   n_kv_heads: ArrayLike, ffn_hidden: ArrayLike, gated_mlp: ArrayLike,
                   tp: ArrayLike, cast_bytes: ArrayLike = FP8_CAST_BYTES) -> NDArrayFloat:
    r"""
    Extra HBM traffic of FP8 linear layers for one layer, forward and backward.

    Parameters
    ----------
    tokens : array_like
        Tokens of the micro-batch on this GPU, :math:`T` [tokens].
    hidden, n_heads, n_kv_heads, ffn_hidden : array_like
        :math:`h` [-], :math:`a` [-], :math:`k_v` [-], :math:`f` [-].
    gated_mlp : array_like of bool
        Gated MLP (:math:`\gamma = 2`, else 1).
    tp : array_like
        Tensor-parallel degree, :math:`t` [-].
    cast_bytes : array_like, optional
        Traffic of one cast, :math:`c` [bytes] (:func:`fp8_cast_bytes_per_element`; default
        current scaling, 5).

    Returns
    -------
    numpy.ndarray
        Bytes read and written [bytes].

    Notes
    -----
    Forward: the inputs of the four linear layers are cast,
    :math:`n_i = 2h + (h + f)/t` elements per token. Backward: the output
    gradients are cast, :math:`n_o = (h + 2 k_v d)/t + 2h + \gamma f / t`, and
    the inputs are written once more transposed (one byte each). Each cast
    costs :math:`c` bytes:

    .. math::

       B_{fp8} = T \left(c\,(n_i + n_o) + n_i\right)

    References
    ----------
    .. [1] NVIDIA Transformer Engine documentation, "Using FP8 with Transformer Engine".
    """
    h, t, f = as_float(hidden), as_float(tp), as_float(ffn_hidden)
    d = h / as_float(n_heads)
    inputs = 2.0 * h + (h + f) / t
    outputs = ((h + 2.0 * as_float(n_kv_heads) * d) / t + 2.0 * h
               + f * np.where(gated_mlp, 2.0, 1.0) / t)
    return as_float(tokens) * (as_float(cast_bytes) * (inputs + outputs) + 1.0 * inputs)


def expert_fp8_cast_bytes(routed_rows: ArrayLike, tokens: ArrayLike, hidden: ArrayLike,
                          shared_experts: ArrayLike,
                          cast_bytes: ArrayLike = FP8_CAST_BYTES) -> NDArrayFloat:
    r"""
    FP8 cast traffic an MoE layer adds to :func:`fp8_cast_bytes`, forward and backward.

    Parameters
    ----------
    routed_rows : array_like
        Token copies this GPU's experts process, :math:`R`
        (:func:`~trainplan.model.moe.routed_rows_per_gpu`) [rows].
    tokens : array_like
        Tokens of the micro-batch on this GPU, :math:`T` [tokens].
    hidden : array_like
        :math:`h` [-].
    shared_experts : array_like of bool
        The layer has shared experts (their input is cast on its own) [-].
    cast_bytes : array_like, optional
        Traffic of one cast, :math:`c` [bytes] (:func:`fp8_cast_bytes_per_element`).

    Returns
    -------
    numpy.ndarray
        Bytes read and written [bytes].

    Notes
    -----
    :func:`fp8_cast_bytes` casts one :math:`T \times h` input of the first MLP
    projection (and writes it once more transposed) and one :math:`T \times h` output
    gradient of the second. The routed experts cast the :math:`R` routed rows of each
    instead (top-k copies of every token), and shared experts their own :math:`T` rows:

    .. math::

       \Delta B_{fp8} = (2c + 1)\, h\, (R + [\text{shared}]\, T - T)

    zero for one expert per token without shared experts (:math:`R = T`).

    References
    ----------
    .. [1] NVIDIA Transformer Engine ``GroupedLinear`` (each expert's input quantised for
       the grouped GEMM after the token permutation).
    """
    rows = as_float(routed_rows) + np.where(shared_experts, as_float(tokens), 0.0) \
        - as_float(tokens)
    return (2.0 * as_float(cast_bytes) + 1.0) * as_float(hidden) * rows
