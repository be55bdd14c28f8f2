r"""Parameter counts of mixture-of-experts transformers: total and active per token.

A mixture-of-experts (MoE) layer replaces the MLP by a router and :math:`E` expert MLPs,
of which each token uses :math:`k` (top-k), plus :math:`S` shared experts every token
uses [1]_. Some layers stay dense (DeepSeek-V3's first three; every other one in Llama 4
Maverick). Attention is grouped-query attention with an explicit head width, or DeepSeek's
multi-head latent attention (MLA), which projects queries and keys/values through low-rank
latents [2]_.

Counting conventions (every function broadcasts over numpy arrays):

* *total*: every weight of the model that trains the next token (embedding, layers, final
  norm, untied output layer, routers); multi-token-prediction modules are counted apart
  (:func:`mtp_params`), as DeepSeek-V3's 671 B leaves out its 14 B MTP module [3]_.
* *active*: the weights one token's forward pass multiplies with: the total less the
  :math:`E - k` routed experts it does not use in each MoE layer and less the input
  embedding table, of which a token only reads its own row (a lookup, no FLOPs).

References
----------
.. [1] N. Shazeer et al., "Outrageously Large Neural Networks: The Sparsely-Gated
   Mixture-of-Experts Layer", arXiv:1701.06538; D. Dai et al., "DeepSeekMoE",
   arXiv:2401.06066 (shared experts, fine-grained experts).
.. [2] DeepSeek-AI, "DeepSeek-V2", arXiv:2405.04434, Sec. 2.1 (multi-head latent attention).
.. [3] DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437, and the model's
   README: 671 B parameters with 37 B activated per token; 685 B on Hugging Face with the
   14 B MTP module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float


def gqa_attention_params(hidden: ArrayLike, n_heads: ArrayLike, n_kv_heads: ArrayLike,
                         head_dim: ArrayLike, bias: ArrayLike) -> NDArrayFloat:
    r"""
    Weights (and biases) of grouped-query attention with an explicit head width.

    Parameters
    ----------
    hidden : array_like
        Hidden size :math:`h` [-].
    n_heads, n_kv_heads : array_like
        Query heads :math:`a` and key/value heads :math:`k_v` [-].
    head_dim : array_like
        Width of one head :math:`d` [-] (not always :math:`h / a`: Qwen3 and gpt-oss use
        wider attention than their hidden size).
    bias : array_like of bool
        Biases on the four projections (gpt-oss).

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    .. math::

       P = h d (a + 2 k_v) + a d h + [\text{bias}]\,(d (a + 2 k_v) + h)

    References
    ----------
    .. [1] J. Ainslie et al., "GQA", arXiv:2305.13245, Sec. 2.
    """
    h, a, kv, d = (as_float(x) for x in (hidden, n_heads, n_kv_heads, head_dim))
    return h * d * (a + 2.0 * kv) + a * d * h + np.where(bias, d * (a + 2.0 * kv) + h, 0.0)


def mla_attention_params(hidden: ArrayLike, n_heads: ArrayLike, q_lora_rank: ArrayLike,
                         kv_lora_rank: ArrayLike, qk_nope_head_dim: ArrayLike,
                         qk_rope_head_dim: ArrayLike, v_head_dim: ArrayLike) -> NDArrayFloat:
    r"""
    Weights of multi-head latent attention (DeepSeek-V2/V3, Kimi K2) with its latent norms.

    Parameters
    ----------
    hidden : array_like
        Hidden size :math:`h` [-].
    n_heads : array_like
        Heads :math:`a` [-].
    q_lora_rank : array_like
        Query latent width :math:`r_q` [-]; 0: queries projected directly.
    kv_lora_rank : array_like
        Key/value latent width :math:`r_{kv}` [-].
    qk_nope_head_dim, qk_rope_head_dim, v_head_dim : array_like
        Per head: query/key width without and with rotary positions, value width
        :math:`d_n`, :math:`d_r`, :math:`d_v` [-].

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    Down-projections to the latents (the key's rotary part :math:`d_r` is shared by all
    heads), up-projections per head, the output projection and the latent norms:

    .. math::

       P = \underbrace{h r_q + r_q a (d_n + d_r) + r_q}_{r_q > 0\ \text{else}\ h a (d_n + d_r)}
           + h (r_{kv} + d_r) + r_{kv} a (d_n + d_v) + r_{kv} + a d_v h

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V2", arXiv:2405.04434, Sec. 2.1.2-2.1.3, eq. (9)-(19).
    """
    h, a = as_float(hidden), as_float(n_heads)
    rq, rkv = as_float(q_lora_rank), as_float(kv_lora_rank)
    dn, dr, dv = as_float(qk_nope_head_dim), as_float(qk_rope_head_dim), as_float(v_head_dim)
    query = np.where(rq > 0, h * rq + rq * a * (dn + dr) + rq, h * a * (dn + dr))
    key_value = h * (rkv + dr) + rkv * a * (dn + dv) + rkv
    return query + key_value + a * dv * h


def expert_params(hidden: ArrayLike, ffn_hidden: ArrayLike, gated: ArrayLike,
                  bias: ArrayLike) -> NDArrayFloat:
    r"""
    Weights (and biases) of one expert MLP.

    Parameters
    ----------
    hidden, ffn_hidden : array_like
        Hidden size :math:`h` and the expert's inner width :math:`f_e` [-].
    gated : array_like of bool
        Gated (SwiGLU) expert: three matrices.
    bias : array_like of bool
        Biases on its projections (gpt-oss).

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    .. math::

       P_e = (2 + [\text{gated}])\, h f_e + [\text{bias}]\,((1 + [\text{gated}]) f_e + h)

    References
    ----------
    .. [1] N. Shazeer, "GLU Variants Improve Transformer", arXiv:2002.05202.
    """
    h, f = as_float(hidden), as_float(ffn_hidden)
    up = np.where(gated, 2.0, 1.0)
    return (up + 1.0) * h * f + np.where(bias, up * f + h, 0.0)


def moe_layer_count(n_layers: ArrayLike, first_dense_layers: ArrayLike,
                    moe_layer_step: ArrayLike) -> NDArrayFloat:
    r"""
    Layers with experts.

    Parameters
    ----------
    n_layers : array_like
        Layers :math:`L` [-].
    first_dense_layers : array_like
        Leading dense layers :math:`L_d` (DeepSeek-V3: 3) [-].
    moe_layer_step : array_like
        Every :math:`m`-th layer after them has experts (Llama 4 Maverick: 2) [-].

    Returns
    -------
    numpy.ndarray
        MoE layers :math:`L_m` [-]; 0 for a dense model (``n_experts`` 0 is handled by the
        caller).

    Notes
    -----
    .. math::

       L_m = \left\lfloor \frac{L - L_d}{m} \right\rfloor

    References
    ----------
    .. [1] Hugging Face transformers ``DeepseekV3Config.first_k_dense_replace`` and
       ``Llama4TextConfig.interleave_moe_layer_step``.
    """
    return np.floor((as_float(n_layers) - as_float(first_dense_layers))
                    / as_float(moe_layer_step))


@dataclass(frozen=True)
class MoEParams:
    """Parameters of a model, whole and per token [-]."""

    total: NDArrayFloat
    active: NDArrayFloat
    mtp: NDArrayFloat
    """The multi-token-prediction modules, not in ``total``."""


def _flag(arch: Mapping[str, Any], key: str) -> NDArrayFloat:
    """A boolean field of ``arch`` (missing: False)."""
    return np.asarray(arch.get(key, False), dtype=bool)


def _num(arch: Mapping[str, Any], key: str, default: float = 0.0) -> NDArrayFloat:
    """A numeric field of ``arch`` (missing or None: ``default``)."""
    value = arch.get(key)
    return as_float(default if value is None else value)


def model_params(arch: Mapping[str, Any]) -> MoEParams:
    r"""
    Total, active and MTP parameters of a (mixture-of-experts) decoder.

    Parameters
    ----------
    arch : mapping
        Architecture fields (scalars or arrays): ``n_layers``, ``hidden``, ``n_heads``,
        ``n_kv_heads``, ``head_dim``, ``ffn_hidden`` (dense layers), ``vocab``,
        ``tied_embeddings``, ``gated_mlp``; for experts ``n_experts`` (0: dense),
        ``top_k``, ``moe_ffn_hidden``, ``n_shared_experts``, ``shared_ffn_hidden``,
        ``first_dense_layers``, ``moe_layer_step``, ``router_bias``, ``expert_bias``; for
        MLA ``kv_lora_rank`` (> 0 selects MLA), ``q_lora_rank``, ``qk_nope_head_dim``,
        ``qk_rope_head_dim``, ``v_head_dim``; ``attention_bias``, ``qk_norm`` (per-head
        RMSNorm weights), ``attention_sinks`` (one learnt logit per head and layer),
        ``mtp_layers``.

    Returns
    -------
    MoEParams

    Notes
    -----
    With :math:`P_{attn}` from :func:`gqa_attention_params` or
    :func:`mla_attention_params`, :math:`P_e` from :func:`expert_params`, :math:`L_m` from
    :func:`moe_layer_count` and RMSNorms of :math:`h` weights:

    .. math::

       P_{moe} &= E P_e(f_e) + S P_e(f_s) + h E + [\text{router bias}] E \\
       P &= L (P_{attn} + 2h) + (L - L_m) P_e(f) + L_m P_{moe} + V h
            + [\text{untied}] V h + h \\
       P_{active} &= P - L_m (E - k) P_e(f_e) - [\text{untied}]\, V h

    An MTP module is one more layer (an MoE layer where the model has experts) plus its
    input projection :math:`2h \times h` and three norms; it shares the embedding and
    output layer [1]_ (DeepSeek-V3's 14 B MTP figure also counts the copies of those two in
    its checkpoint; the unique parameters are 11.5 B).

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437, Sec. 2.2.
    """
    n_layers, h = _num(arch, "n_layers"), _num(arch, "hidden")
    a = _num(arch, "n_heads")
    d = _num(arch, "head_dim") if arch.get("head_dim") else h / a
    vocab = _num(arch, "vocab")
    gated = _flag(arch, "gated_mlp") if "gated_mlp" in arch else np.asarray(True)
    mla = _num(arch, "kv_lora_rank") > 0
    attention = np.where(
        mla,
        mla_attention_params(h, a, _num(arch, "q_lora_rank"), _num(arch, "kv_lora_rank"),
                             _num(arch, "qk_nope_head_dim"), _num(arch, "qk_rope_head_dim"),
                             _num(arch, "v_head_dim")),
        gqa_attention_params(h, a, _num(arch, "n_kv_heads") if arch.get("n_kv_heads") else a, d,
                             _flag(arch, "attention_bias")))
    attention = attention + np.where(_flag(arch, "qk_norm"), 2.0 * d, 0.0) \
        + np.where(_flag(arch, "attention_sinks"), a, 0.0)
    layer_common = attention + 2.0 * h
    n_experts, top_k = _num(arch, "n_experts"), _num(arch, "top_k")
    n_moe = np.where(n_experts > 0, moe_layer_count(n_layers, _num(arch, "first_dense_layers"),
                                                    _num(arch, "moe_layer_step", 1.0)), 0.0)
    expert = expert_params(h, _num(arch, "moe_ffn_hidden"), gated, _flag(arch, "expert_bias"))
    shared = _num(arch, "n_shared_experts") * expert_params(
        h, _num(arch, "shared_ffn_hidden"), gated, False)
    router = h * n_experts + np.where(_flag(arch, "router_bias"), n_experts, 0.0)
    moe_layer = n_experts * expert + shared + router
    dense_mlp = expert_params(h, _num(arch, "ffn_hidden"), gated, False)
    embedding = vocab * h
    head = np.where(_flag(arch, "tied_embeddings"), 0.0, vocab * h)
    total = (n_layers * layer_common + (n_layers - n_moe) * dense_mlp + n_moe * moe_layer
             + embedding + head + h)
    # the input embedding is a lookup; tied, the same matrix is the output layer and counts
    active = total - n_moe * (n_experts - top_k) * expert \
        - np.where(_flag(arch, "tied_embeddings"), 0.0, embedding)
    mtp_layer = layer_common + np.where(n_experts > 0, moe_layer, dense_mlp)
    mtp = _num(arch, "mtp_layers") * (mtp_layer + 2.0 * h * h + 3.0 * h)
    return MoEParams(total=total, active=active, mtp=mtp)
