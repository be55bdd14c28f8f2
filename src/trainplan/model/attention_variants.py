r"""Attention variants of today's models as broadcasting functions.

Heads wider than :math:`h / a` (Qwen3, gpt-oss), DeepSeek's multi-head latent attention
(MLA) and local attention (sliding windows, Llama 4's chunks): their projection weights,
the width that sets the attention-core FLOPs, their stored activations and the keys a local
layer reads. For :math:`d = h/a`, no latent and no local attention each returns what the
dense formulas of :mod:`trainplan.model.blocks` and :mod:`trainplan.model.activations` give.

References
----------
.. [1] J. Ainslie et al., "GQA", arXiv:2305.13245.
.. [2] DeepSeek-AI, "DeepSeek-V2", arXiv:2405.04434, Sec. 2.1 (multi-head latent attention).
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.moe_params import gqa_attention_params, mla_attention_params


def resolved_head_dim(hidden: ArrayLike, n_heads: ArrayLike, head_dim: ArrayLike) -> NDArrayFloat:
    r"""
    Width of one attention head.

    Parameters
    ----------
    hidden, n_heads : array_like
        :math:`h`, :math:`a` [-].
    head_dim : array_like
        The given head width, 0 when not given [-].

    Returns
    -------
    numpy.ndarray
        :math:`d` if given, else :math:`h / a` [-].

    References
    ----------
    .. [1] Hugging Face transformers ``Qwen3Config.head_dim`` (128 with :math:`h = 2048`,
       :math:`a = 32`).
    """
    d = as_float(head_dim)
    return np.where(d > 0, d, as_float(hidden) / as_float(n_heads))


def attention_projection_params(hidden: ArrayLike, n_heads: ArrayLike, n_kv_heads: ArrayLike,
                                head_dim: ArrayLike, q_lora_rank: ArrayLike,
                                kv_lora_rank: ArrayLike, qk_nope_head_dim: ArrayLike,
                                qk_rope_head_dim: ArrayLike, v_head_dim: ArrayLike
                                ) -> NDArrayFloat:
    r"""
    Weights of the attention projections of one layer (no biases, no head norms).

    Parameters
    ----------
    hidden, n_heads, n_kv_heads, head_dim : array_like
        :math:`h`, :math:`a`, :math:`k_v` and the head width :math:`d` (resolved) [-].
    q_lora_rank, kv_lora_rank : array_like
        MLA latent widths :math:`r_q`, :math:`r_{kv}`; :math:`r_{kv} = 0`: grouped-query
        attention [-].
    qk_nope_head_dim, qk_rope_head_dim, v_head_dim : array_like
        MLA head widths :math:`d_n`, :math:`d_r`, :math:`d_v` [-].

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    .. math::

       P_{attn} = \begin{cases} h d (a + 2 k_v) + a d h & \text{GQA} \\
           P_{MLA} & r_{kv} > 0 \end{cases}

    with :math:`P_{MLA}` from :func:`~trainplan.model.moe_params.mla_attention_params`.

    References
    ----------
    .. [1] J. Ainslie et al., "GQA", arXiv:2305.13245.
    .. [2] DeepSeek-AI, "DeepSeek-V2", arXiv:2405.04434, Sec. 2.1.
    """
    h, a = as_float(hidden), as_float(n_heads)
    gqa = gqa_attention_params(h, a, n_kv_heads, head_dim, False)
    mla = mla_attention_params(h, a, q_lora_rank, kv_lora_rank, qk_nope_head_dim,
                               qk_rope_head_dim, v_head_dim)
    return np.where(as_float(kv_lora_rank) > 0, mla, gqa)


def attention_core_width(n_heads: ArrayLike, head_dim: ArrayLike, kv_lora_rank: ArrayLike,
                         qk_nope_head_dim: ArrayLike, qk_rope_head_dim: ArrayLike,
                         v_head_dim: ArrayLike) -> NDArrayFloat:
    r"""
    Width that sets the FLOPs of :math:`QK^T` and :math:`PV`: the :math:`h` of :math:`4 T s h`.

    Parameters
    ----------
    n_heads, head_dim : array_like
        :math:`a` and the resolved head width :math:`d` [-].
    kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim : array_like
        MLA widths (:math:`r_{kv} = 0`: not MLA) [-].

    Returns
    -------
    numpy.ndarray
        :math:`a d` (GQA) or :math:`a (d_n + d_r + d_v) / 2` (MLA) [-].

    Notes
    -----
    :math:`QK^T` costs :math:`2 T s\, a d_{qk}` and :math:`PV` :math:`2 T s\, a d_v`; their
    sum is :math:`4 T s w` with :math:`w = a (d_{qk} + d_v) / 2`.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V2", arXiv:2405.04434, Sec. 2.1 (MLA head widths).
    """
    a = as_float(n_heads)
    mla = a * (as_float(qk_nope_head_dim) + as_float(qk_rope_head_dim)
               + as_float(v_head_dim)) / 2.0
    return np.where(as_float(kv_lora_rank) > 0, mla, a * as_float(head_dim))


def attention_activation_coefficient(hidden: ArrayLike, n_heads: ArrayLike,
                                     n_kv_heads: ArrayLike, head_dim: ArrayLike,
                                     kv_lora_rank: ArrayLike, qk_nope_head_dim: ArrayLike,
                                     qk_rope_head_dim: ArrayLike,
                                     v_head_dim: ArrayLike) -> NDArrayFloat:
    r"""
    Stored 16-bit Q, K, V and output-projection input of one layer, per :math:`s b h`.

    Parameters
    ----------
    hidden, n_heads, n_kv_heads, head_dim : array_like
        :math:`h`, :math:`a`, :math:`k_v`, resolved :math:`d` [-].
    kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim : array_like
        MLA widths [-].

    Returns
    -------
    numpy.ndarray
        Bytes per :math:`s b h` [bytes].

    Notes
    -----
    GQA: :math:`2 (a d + 2 k_v d + a d) / h`, which is Korthikanti's
    :math:`4 + 4 k_v / a` when :math:`d = h/a`. MLA keeps per-head keys and values
    (:math:`k_v = a`) and both latents: :math:`2 (2 a d_{qk} + 2 a d_v + r_{kv} + d_r) / h`.

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.1.
    """
    h, a, kv, d = (as_float(x) for x in (hidden, n_heads, n_kv_heads, head_dim))
    dqk = as_float(qk_nope_head_dim) + as_float(qk_rope_head_dim)
    dv = as_float(v_head_dim)
    gqa = 2.0 * (2.0 * a * d + 2.0 * kv * d) / h
    mla = 2.0 * (2.0 * a * dqk + 2.0 * a * dv + as_float(kv_lora_rank)
                 + as_float(qk_rope_head_dim)) / h
    return np.where(as_float(kv_lora_rank) > 0, mla, gqa)


def local_attention_keys(seq_len: ArrayLike, window: ArrayLike,
                         chunked: ArrayLike) -> NDArrayFloat:
    r"""
    Sequence length whose full causal attention costs what one local-attention layer costs.

    Parameters
    ----------
    seq_len : array_like
        Sequence length :math:`s` [tokens].
    window : array_like
        Window or chunk :math:`w` (0: no local attention) [tokens].
    chunked : array_like of bool
        Chunked attention (queries attend within their chunk) instead of a sliding window.

    Returns
    -------
    numpy.ndarray
        :math:`s_{eff} = \min(s, 2 w)` sliding, :math:`\min(s, w)` chunked, :math:`s` without
        a window [tokens].

    Notes
    -----
    Causal attention over :math:`s` keys averages :math:`s/2` keys per query; a sliding
    window of :math:`w` about :math:`w`, a chunk of :math:`w` about :math:`w/2`.

    References
    ----------
    .. [1] I. Beltagy et al., "Longformer", arXiv:2004.05150 (sliding-window attention).
    .. [2] Hugging Face transformers ``Llama4TextConfig.attention_chunk_size``; OpenAI
       gpt-oss model card (alternating 128-token banded attention).
    """
    s, w = as_float(seq_len), as_float(window)
    local = np.where(np.asarray(chunked, dtype=bool), w, 2.0 * w)
    return np.where(w > 0, np.minimum(s, local), s)


def local_key_fraction(seq_len: ArrayLike, local_share: ArrayLike,
                       local_keys: ArrayLike) -> NDArrayFloat:
    r"""
    Keys an average layer's queries attend to, as a fraction of the sequence.

    Parameters
    ----------
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    local_share, local_keys : array_like
        Share :math:`\ell` of the layers attending locally and their
        :func:`local_attention_keys`, :math:`s_{eff}` [-], [tokens].

    Returns
    -------
    numpy.ndarray
        :math:`\lambda = 1 - \ell + \ell\, s_{eff} / s` [-]; 1 without local attention.

    References
    ----------
    .. [1] I. Beltagy et al., "Longformer", arXiv:2004.05150 (sliding-window attention).
    """
    share = as_float(local_share)
    return 1.0 - share + share * as_float(local_keys) / as_float(seq_len)
