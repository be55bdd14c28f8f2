"""Parameter counts of a decoder-only transformer from its architecture.

All functions broadcast over numpy arrays (scalars in, scalar out; columns in,
columns out). Counts are numbers of parameters [1], as float64 so that 1e12
parameter models and products with byte counts stay exact to well below 1 ppm.

References
----------
.. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on
   GPU Clusters Using Megatron-LM", SC21, arXiv:2104.04473, eq. (2):
   ``P = 12 l h^2 (1 + 13/(12 h) + (V + s)/(12 l h))``.
.. [2] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3 (which
   weights tensor parallelism splits: QKV and first MLP column-wise, attention
   output and second MLP row-wise, embedding along the vocabulary).
.. [3] J. Ainslie et al., "GQA", arXiv:2305.13245 (key/value heads shared by
   groups of query heads); N. Shazeer, "GLU Variants Improve Transformer",
   arXiv:2002.05202 (gated MLP with three weight matrices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.config import Architecture, Layout


def head_dim(hidden, n_heads):
    """Width of one attention head ``h / a`` [1]."""
    return as_float(hidden) / as_float(n_heads)


def attention_weight_params(hidden, n_heads, n_kv_heads):
    """Weights of one attention block [1] ([3] for grouped key/value heads).

    ``h*d*(a + 2*kv)`` for the Q, K, V projections plus ``a*d*h`` for the
    output projection, with ``d = h/a``. For multi-head attention (kv = a) this
    is ``4 h^2``.
    """
    h, a, kv = as_float(hidden), as_float(n_heads), as_float(n_kv_heads)
    d = h / a
    return h * d * (a + 2.0 * kv) + a * d * h


def attention_bias_params(hidden, n_heads, n_kv_heads):
    """Biases of one attention block: QKV bias ``d*(a + 2 kv)`` plus output bias ``h`` [1]."""
    h, a, kv = as_float(hidden), as_float(n_heads), as_float(n_kv_heads)
    return h / a * (a + 2.0 * kv) + h


def mlp_weight_params(hidden, ffn_hidden, gated_mlp):
    """Weights of one MLP block: ``2 h f``, or ``3 h f`` for a gated MLP [3]."""
    return as_float(hidden) * as_float(ffn_hidden) * np.where(gated_mlp, 3.0, 2.0)


def mlp_bias_params(hidden, ffn_hidden, gated_mlp):
    """Biases of one MLP block: ``f`` (``2 f`` gated) for the first layer plus ``h``."""
    return as_float(ffn_hidden) * np.where(gated_mlp, 2.0, 1.0) + as_float(hidden)


def norm_params(hidden, layernorm):
    """Parameters of one norm: ``2 h`` (LayerNorm: gain and bias) or ``h`` (RMSNorm)."""
    return as_float(hidden) * np.where(layernorm, 2.0, 1.0)


def layer_params(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, linear_bias, layernorm):
    """Parameters of one transformer layer [1].

    For a GPT layer (multi-head, ``f = 4h``, biases, LayerNorm) this is
    ``12 h^2 + 13 h``, the per-layer term of Narayanan eq. (2).
    """
    weights = attention_weight_params(hidden, n_heads, n_kv_heads) + mlp_weight_params(
        hidden, ffn_hidden, gated_mlp
    )
    biases = attention_bias_params(hidden, n_heads, n_kv_heads) + mlp_bias_params(
        hidden, ffn_hidden, gated_mlp
    )
    return weights + np.where(linear_bias, biases, 0.0) + 2.0 * norm_params(hidden, layernorm)


def layer_params_tp_sharded(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, linear_bias):
    """Parameters of one layer that tensor parallelism splits across ranks [2].

    All weight matrices, the QKV bias and the first MLP bias (column-parallel
    layers). The row-parallel biases and the norms are replicated.
    """
    h = as_float(hidden)
    weights = attention_weight_params(hidden, n_heads, n_kv_heads) + mlp_weight_params(
        hidden, ffn_hidden, gated_mlp
    )
    column_biases = attention_bias_params(hidden, n_heads, n_kv_heads) - h + mlp_bias_params(
        hidden, ffn_hidden, gated_mlp
    ) - h
    return weights + np.where(linear_bias, column_biases, 0.0)


def layer_params_per_tp_rank(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, linear_bias,
                             layernorm, tp):
    """Parameters of one layer held by one tensor-parallel rank [2]."""
    total = layer_params(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, linear_bias, layernorm)
    sharded = layer_params_tp_sharded(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp,
                                      linear_bias)
    return sharded / as_float(tp) + (total - sharded)


def word_embedding_params(vocab, hidden):
    """Input word-embedding table ``V h`` [1]."""
    return as_float(vocab) * as_float(hidden)


def position_embedding_params(seq_len, hidden, learned_positions):
    """Learned absolute position embedding ``s h`` [1]; zero for rotary positions."""
    return np.where(learned_positions, as_float(seq_len) * as_float(hidden), 0.0)


def output_layer_params(vocab, hidden, tied_embeddings):
    """Output (LM head) matrix ``V h``; zero when tied to the input embedding."""
    return np.where(tied_embeddings, 0.0, as_float(vocab) * as_float(hidden))


def total_params(n_layers, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, vocab, seq_len,
                 tied_embeddings, linear_bias, layernorm, learned_positions):
    """All parameters of the model [1].

    Layers, embeddings (word, position), untied output layer and the final
    norm. With the GPT settings this is Narayanan eq. (2) plus the final
    LayerNorm's ``2 h``, which eq. (2) leaves out.
    """
    return (
        as_float(n_layers)
        * layer_params(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, linear_bias, layernorm)
        + word_embedding_params(vocab, hidden)
        + position_embedding_params(seq_len, hidden, learned_positions)
        + output_layer_params(vocab, hidden, tied_embeddings)
        + norm_params(hidden, layernorm)
    )


def narayanan_eq2_params(n_layers, hidden, vocab, seq_len):
    """Narayanan et al. 2021 eq. (2): ``12 l h^2 (1 + 13/(12h) + (V+s)/(12 l h))`` [1]."""
    l, h, v, s = as_float(n_layers), as_float(hidden), as_float(vocab), as_float(seq_len)
    return 12.0 * l * h**2 * (1.0 + 13.0 / (12.0 * h) + (v + s) / (12.0 * l * h))


def largest_matrix_params_per_tp_rank(hidden: ArrayLike, n_heads: ArrayLike,
                                      n_kv_heads: ArrayLike, ffn_hidden: ArrayLike,
                                      gated_mlp: ArrayLike, vocab: ArrayLike,
                                      tp: ArrayLike) -> NDArrayFloat:
    r"""
    Parameters of the largest weight matrix one tensor-parallel rank holds [1]_ [2]_.

    The fused QKV projection, the first MLP layer (gate and up projections
    fused when gated) or the (vocabulary-parallel) embedding, whichever is
    largest.

    Parameters
    ----------
    hidden : array_like
        Hidden size, :math:`h` [-].
    n_heads : array_like
        Query heads, :math:`a` [-].
    n_kv_heads : array_like
        Key/value heads, :math:`k_v` [-].
    ffn_hidden : array_like
        MLP width, :math:`f` [-].
    gated_mlp : array_like of bool
        Gated MLP (:math:`\gamma` = 2 fused input matrices, else 1).
    vocab : array_like
        Vocabulary, :math:`V` [-].
    tp : array_like
        Tensor-parallel degree, :math:`t` [-].

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    .. math::

       P_{max} = \max\left(h \left(h + 2 k_v \frac{h}{a}\right),\ \gamma h f,\
                 V h\right) / t
    """
    h, a, kv, f = as_float(hidden), as_float(n_heads), as_float(n_kv_heads), as_float(ffn_hidden)
    return np.maximum(np.maximum(h * (h + 2.0 * kv * h / a),
                                 h * f * np.where(gated_mlp, 2.0, 1.0)),
                      as_float(vocab) * h) / as_float(tp)


@dataclass(frozen=True)
class StageParams:
    """Parameters of the model and of its pipeline stages on one tensor-parallel rank."""

    total: NDArrayFloat
    """All parameters of the model [-]."""
    layer_per_rank: NDArrayFloat
    """One layer on one tensor-parallel rank [-]."""
    first_stage: NDArrayFloat
    """First pipeline stage, one rank [-]."""
    last_stage: NDArrayFloat
    """Last pipeline stage, one rank [-]."""
    per_gpu: NDArrayFloat
    """The larger of the two: the busiest GPU before ZeRO sharding [-]."""


def stage_params(arch: Architecture, layout: Layout) -> StageParams:
    r"""
    Parameters held by the first and last pipeline stages on one tensor-parallel rank [1]_ [2]_.

    The first stage holds its :math:`L/p` layers and the word and position
    embeddings; the last its layers, the LM head (its own copy of a tied
    embedding when :math:`p > 1`) and the final norm. Without a pipeline one
    stage holds everything.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Tensor-parallel degree :math:`t`, stages :math:`p`, layers per stage.

    Returns
    -------
    StageParams

    Notes
    -----
    With :math:`P_l^{(t)}` from :func:`layer_params_per_tp_rank`, :math:`P_w = V h`,
    :math:`P_{pos}`, :math:`P_{norm}` and the head
    :math:`P_{head} = P_w` (tied, :math:`p > 1`), 0 (tied, :math:`p = 1`) or
    :math:`P_{out}` (untied):

    .. math::

       P_1 = \frac{L}{p} P_l^{(t)} + \frac{P_w}{t} + P_{pos}
             + [p = 1]\left(\frac{P_{head}}{t} + P_{norm}\right)

       P_p = \frac{L}{p} P_l^{(t)} + \frac{P_{head}}{t} + P_{norm} \quad (p > 1)
    """
    h, a, kv, f = arch.hidden, arch.n_heads, arch.n_kv_heads, arch.ffn_hidden
    tp, layers, multi = layout.tp, layout.layers_per_stage, layout.pipelined
    p_layer = layer_params(h, a, kv, f, arch.gated_mlp, arch.linear_bias, arch.layernorm)
    p_layer_rank = layer_params_per_tp_rank(h, a, kv, f, arch.gated_mlp, arch.linear_bias,
                                            arch.layernorm, tp)
    p_word = word_embedding_params(arch.vocab, h)
    p_pos = position_embedding_params(arch.seq_len, h, arch.learned_positions)
    p_out = output_layer_params(arch.vocab, h, arch.tied_embeddings)
    p_final_norm = norm_params(h, arch.layernorm)
    p_total = arch.n_layers * p_layer + p_word + p_pos + p_out + p_final_norm
    head = np.where(arch.tied_embeddings, np.where(multi, p_word, 0.0), p_out) / tp
    p_first = layers * p_layer_rank + p_word / tp + p_pos + np.where(
        multi, 0.0, head + p_final_norm)
    p_last = np.where(multi, layers * p_layer_rank + head + p_final_norm, p_first)
    return StageParams(total=p_total, layer_per_rank=p_layer_rank, first_stage=p_first,
                       last_stage=p_last, per_gpu=np.maximum(p_first, p_last))
