r"""Parameter counts of a decoder-only transformer: the whole model and its pipeline stages.

All functions broadcast over numpy arrays (scalars in, scalar out; columns in,
columns out). Counts are numbers of parameters [1]_, as float64 so that 1e12
parameter models and products with byte counts stay exact to well below 1 ppm.
One layer's blocks are :mod:`~trainplan.model.blocks`; this module adds the
embeddings, the LM head and the final norm, and places them on the stages.
The layer functions and the published eq. (2) are re-exported here.

References
----------
.. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on
   GPU Clusters Using Megatron-LM", SC21, arXiv:2104.04473, eq. (2):
   ``P = 12 l h^2 (1 + 13/(12 h) + (V + s)/(12 l h))``.
.. [2] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3 (which
   weights tensor parallelism splits: QKV and first MLP column-wise, attention
   output and second MLP row-wise, embedding along the vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.blocks import (
    attention_bias_params,
    attention_weight_params,
    head_dim,
    layer_params,
    layer_params_per_tp_rank,
    layer_params_tp_sharded,
    mlp_bias_params,
    mlp_weight_params,
    norm_params,
)
from trainplan.model.config import Architecture, Layout
from trainplan.model.published import narayanan_eq2_params

__all__ = [
    "StageParams", "attention_bias_params", "attention_weight_params", "head_dim",
    "largest_matrix_params_per_tp_rank", "layer_params", "layer_params_per_tp_rank",
    "layer_params_tp_sharded", "mlp_bias_params", "mlp_weight_params", "narayanan_eq2_params",
    "norm_params", "output_layer_params", "position_embedding_params", "stage_params",
    "total_params", "word_embedding_params",
]


def word_embedding_params(vocab: ArrayLike, hidden: ArrayLike) -> NDArrayFloat:
    r"""
    Parameters of the input word-embedding table.

    Parameters
    ----------
    vocab, hidden : array_like
        Vocabulary :math:`V` and hidden size :math:`h` [-].

    Returns
    -------
    numpy.ndarray
        :math:`V h` [-].

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (2).
    """
    return as_float(vocab) * as_float(hidden)


def position_embedding_params(seq_len: ArrayLike, hidden: ArrayLike,
                              learned_positions: ArrayLike) -> NDArrayFloat:
    r"""
    Parameters of a learned absolute position embedding; zero for rotary positions.

    Parameters
    ----------
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    hidden : array_like
        Hidden size, :math:`h` [-].
    learned_positions : array_like of bool
        Learned absolute positions rather than rotary embeddings.

    Returns
    -------
    numpy.ndarray
        :math:`s h` or 0 [-].

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (2) (the :math:`s` in :math:`V + s`).
    """
    return np.where(learned_positions, as_float(seq_len) * as_float(hidden), 0.0)


def output_layer_params(vocab: ArrayLike, hidden: ArrayLike,
                        tied_embeddings: ArrayLike) -> NDArrayFloat:
    r"""
    Parameters of the output (LM head) matrix; zero when tied to the input embedding.

    Parameters
    ----------
    vocab, hidden : array_like
        Vocabulary :math:`V` and hidden size :math:`h` [-].
    tied_embeddings : array_like of bool
        The output layer shares the input embedding.

    Returns
    -------
    numpy.ndarray
        :math:`V h` or 0 [-].

    References
    ----------
    .. [1] O. Press, L. Wolf, "Using the Output Embedding to Improve Language
       Models", arXiv:1608.05859 (tied embeddings).
    """
    return np.where(tied_embeddings, 0.0, as_float(vocab) * as_float(hidden))


def total_params(n_layers: ArrayLike, hidden: ArrayLike, n_heads: ArrayLike,
                 n_kv_heads: ArrayLike, ffn_hidden: ArrayLike, gated_mlp: ArrayLike,
                 vocab: ArrayLike, seq_len: ArrayLike, tied_embeddings: ArrayLike,
                 linear_bias: ArrayLike, layernorm: ArrayLike,
                 learned_positions: ArrayLike) -> NDArrayFloat:
    r"""
    All parameters of the model.

    Parameters
    ----------
    n_layers, hidden, n_heads, n_kv_heads, ffn_hidden, vocab : array_like
        :math:`L`, :math:`h`, :math:`a`, :math:`k_v`, :math:`f`, :math:`V` [-].
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    gated_mlp, tied_embeddings, linear_bias, layernorm, learned_positions : array_like of bool
        The architecture switches (see :func:`~trainplan.model.blocks.layer_params`).

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    Layers (:func:`~trainplan.model.blocks.layer_params`), word and position
    embeddings, the untied output layer and the final norm. With the GPT
    settings this is eq. (2) of [1]_ plus the final LayerNorm's :math:`2 h`,
    which eq. (2) leaves out:

    .. math::

       P = L P_l + V h + [\text{learned}]\, s h + [\text{untied}]\, V h + P_{norm}

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (2).
    """
    return (
        as_float(n_layers)
        * layer_params(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, linear_bias, layernorm)
        + word_embedding_params(vocab, hidden)
        + position_embedding_params(seq_len, hidden, learned_positions)
        + output_layer_params(vocab, hidden, tied_embeddings)
        + norm_params(hidden, layernorm)
    )


def largest_matrix_params_per_tp_rank(hidden: ArrayLike, n_heads: ArrayLike,
                                      n_kv_heads: ArrayLike, ffn_hidden: ArrayLike,
                                      gated_mlp: ArrayLike, vocab: ArrayLike,
                                      tp: ArrayLike) -> NDArrayFloat:
    r"""
    Parameters of the largest weight matrix one tensor-parallel rank holds.

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

    References
    ----------
    .. [1] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3.
    .. [2] J. Ainslie et al., "GQA", arXiv:2305.13245.
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
    active: NDArrayFloat = 0.0
    """Weights one token's forward multiplies with: the total less the routed experts it
    does not use and the input embedding lookup (unless tied) [-]."""
    expert_layer_per_gpu: NDArrayFloat = 0.0
    """Routed-expert weights of one (average) layer on one GPU, included in the counts
    above [-]."""
    expert_first_stage: NDArrayFloat = 0.0
    expert_last_stage: NDArrayFloat = 0.0
    expert_per_gpu: NDArrayFloat = 0.0
    """Routed-expert weights of the stage counted in ``per_gpu`` [-]."""


def stage_params(arch: Architecture, layout: Layout) -> StageParams:
    r"""
    Parameters held by the first and last pipeline stages on one tensor-parallel rank.

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

       P_1 = L_1 P_l^{(t)} + \frac{P_w}{t} + P_{pos}
             + [p = 1]\left(\frac{P_{head}}{t} + P_{norm}\right)

       P_p = L_p P_l^{(t)} + \frac{P_{head}}{t} + P_{norm} \quad (p > 1), \quad
       P_{mid} = \lceil L/p \rceil P_l^{(t)}

    with :math:`L_1`, :math:`L_p` the first and last stage's layers
    (:func:`~trainplan.model.stages.stage_layers`); the busiest GPU holds
    :math:`\max(P_1, P_p, P_{mid})`.

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, Sec. 2.2.
    .. [2] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3.
    """
    h, a, kv, f = arch.hidden, arch.n_heads, arch.n_kv_heads, arch.ffn_hidden
    tp, multi = layout.tp, layout.pipelined
    extra, experts, expert_gpu = _variant_layer_params(arch, layout)
    p_layer = layer_params(h, a, kv, f, arch.gated_mlp, arch.linear_bias,
                           arch.layernorm) + extra + experts
    p_layer_rank = layer_params_per_tp_rank(h, a, kv, f, arch.gated_mlp, arch.linear_bias,
                                            arch.layernorm, tp) + extra / tp + expert_gpu
    p_word = word_embedding_params(arch.vocab, h)
    p_pos = position_embedding_params(arch.seq_len, h, arch.learned_positions)
    p_out = output_layer_params(arch.vocab, h, arch.tied_embeddings)
    p_final_norm = norm_params(h, arch.layernorm)
    p_total = arch.n_layers * p_layer + p_word + p_pos + p_out + p_final_norm
    head = np.where(arch.tied_embeddings, np.where(multi, p_word, 0.0), p_out) / tp
    p_first = layout.layers_first * p_layer_rank + p_word / tp + p_pos + np.where(
        multi, 0.0, head + p_final_norm)
    p_last = np.where(multi, layout.layers_last * p_layer_rank + head + p_final_norm, p_first)
    # multi-token prediction: one more layer and its 2h x h projection on the last stage
    # (it shares the embedding and the output layer)
    p_mtp = arch.mtp_layers * (p_layer_rank + 2.0 * h * h / tp)
    p_last = p_last + p_mtp
    p_mid = layout.layers_per_stage * p_layer_rank
    per_gpu = np.maximum(np.maximum(p_first, p_last), p_mid)
    e_first = layout.layers_first * expert_gpu
    e_last = (layout.layers_last + arch.mtp_layers) * expert_gpu
    e_last = np.where(multi, e_last, e_first + arch.mtp_layers * expert_gpu)
    e_busiest = np.where(per_gpu == p_first, e_first, np.where(per_gpu == p_last, e_last,
                                                                layout.layers_per_stage
                                                                * expert_gpu))
    unused = arch.n_layers * arch.moe_share * (arch.n_experts - arch.top_k) * arch.expert_params
    active = p_total - np.maximum(unused, 0.0) - np.where(arch.tied_embeddings, 0.0, p_word)
    return StageParams(total=p_total, layer_per_rank=p_layer_rank, first_stage=p_first,
                       last_stage=p_last, per_gpu=per_gpu, active=active,
                       expert_layer_per_gpu=expert_gpu, expert_first_stage=e_first,
                       expert_last_stage=e_last, expert_per_gpu=e_busiest)


def _variant_layer_params(arch: Architecture, layout: Layout
                          ) -> tuple[NDArrayFloat, NDArrayFloat, NDArrayFloat]:
    r"""
    What an average layer holds beyond the dense formula of :func:`layer_params`.

    Returns the extra weights split by tensor parallelism (attention projections of other
    widths, shared experts and routers instead of the dense MLP in MoE layers), all routed
    experts of the layer, and the routed experts one GPU holds [-]:

    .. math::

       \Delta = [\text{variant}] (P_{attn} - P_{attn}^{dense}) + P_{qk} +
                \phi (P_{shared} + P_{router} - P_{mlp}(f)), \quad
       P_E = \phi E P_e, \quad P_E^{(gpu)} = P_E / (ep \cdot e_t)

    (the router and the head norms are small and counted as if split too).
    """
    h = arch.hidden
    dense_attention = attention_weight_params(h, arch.n_heads, arch.n_kv_heads)
    attention = np.where(arch.variant_attention, arch.attention_params - dense_attention, 0.0)
    dense_mlp = mlp_weight_params(h, arch.ffn_hidden, arch.gated_mlp) + np.where(
        arch.linear_bias, mlp_bias_params(h, arch.ffn_hidden, arch.gated_mlp), 0.0)
    phi = arch.moe_share
    extra = attention + arch.qk_norm_params + phi * (arch.shared_params + arch.router_params
                                                     - dense_mlp)
    experts = phi * arch.n_experts * arch.expert_params
    return extra, experts, experts / (layout.ep * layout.etp)
