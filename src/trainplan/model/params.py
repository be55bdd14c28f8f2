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

import numpy as np


def _f(x):
    return np.asarray(x, dtype=np.float64)


def head_dim(hidden, n_heads):
    """Width of one attention head ``h / a`` [1]."""
    return _f(hidden) / _f(n_heads)


def attention_weight_params(hidden, n_heads, n_kv_heads):
    """Weights of one attention block [1] ([3] for grouped key/value heads).

    ``h*d*(a + 2*kv)`` for the Q, K, V projections plus ``a*d*h`` for the
    output projection, with ``d = h/a``. For multi-head attention (kv = a) this
    is ``4 h^2``.
    """
    h, a, kv = _f(hidden), _f(n_heads), _f(n_kv_heads)
    d = h / a
    return h * d * (a + 2.0 * kv) + a * d * h


def attention_bias_params(hidden, n_heads, n_kv_heads):
    """Biases of one attention block: QKV bias ``d*(a + 2 kv)`` plus output bias ``h`` [1]."""
    h, a, kv = _f(hidden), _f(n_heads), _f(n_kv_heads)
    return h / a * (a + 2.0 * kv) + h


def mlp_weight_params(hidden, ffn_hidden, gated_mlp):
    """Weights of one MLP block: ``2 h f``, or ``3 h f`` for a gated MLP [3]."""
    return _f(hidden) * _f(ffn_hidden) * np.where(gated_mlp, 3.0, 2.0)


def mlp_bias_params(hidden, ffn_hidden, gated_mlp):
    """Biases of one MLP block: ``f`` (``2 f`` gated) for the first layer plus ``h``."""
    return _f(ffn_hidden) * np.where(gated_mlp, 2.0, 1.0) + _f(hidden)


def norm_params(hidden, layernorm):
    """Parameters of one norm: ``2 h`` (LayerNorm: gain and bias) or ``h`` (RMSNorm)."""
    return _f(hidden) * np.where(layernorm, 2.0, 1.0)


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
    h = _f(hidden)
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
    return sharded / _f(tp) + (total - sharded)


def word_embedding_params(vocab, hidden):
    """Input word-embedding table ``V h`` [1]."""
    return _f(vocab) * _f(hidden)


def position_embedding_params(seq_len, hidden, learned_positions):
    """Learned absolute position embedding ``s h`` [1]; zero for rotary positions."""
    return np.where(learned_positions, _f(seq_len) * _f(hidden), 0.0)


def output_layer_params(vocab, hidden, tied_embeddings):
    """Output (LM head) matrix ``V h``; zero when tied to the input embedding."""
    return np.where(tied_embeddings, 0.0, _f(vocab) * _f(hidden))


def total_params(n_layers, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, vocab, seq_len,
                 tied_embeddings, linear_bias, layernorm, learned_positions):
    """All parameters of the model [1].

    Layers, embeddings (word, position), untied output layer and the final
    norm. With the GPT settings this is Narayanan eq. (2) plus the final
    LayerNorm's ``2 h``, which eq. (2) leaves out.
    """
    return (
        _f(n_layers)
        * layer_params(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, linear_bias, layernorm)
        + word_embedding_params(vocab, hidden)
        + position_embedding_params(seq_len, hidden, learned_positions)
        + output_layer_params(vocab, hidden, tied_embeddings)
        + norm_params(hidden, layernorm)
    )


def narayanan_eq2_params(n_layers, hidden, vocab, seq_len):
    """Narayanan et al. 2021 eq. (2): ``12 l h^2 (1 + 13/(12h) + (V+s)/(12 l h))`` [1]."""
    l, h, v, s = _f(n_layers), _f(hidden), _f(vocab), _f(seq_len)
    return 12.0 * l * h**2 * (1.0 + 13.0 / (12.0 * h) + (v + s) / (12.0 * l * h))
