r"""Published closed forms, reproduced literally, to check the model against.

Each function is one equation or table of a paper or framework, for a GPT
model (multi-head attention, :math:`f = 4h`, biases, LayerNorm, learned
positions) unless it says otherwise. The model itself counts every block
(:mod:`~trainplan.model.params`, :mod:`~trainplan.model.flops`,
:mod:`~trainplan.model.memory`) and the tests compare the two. They are
re-exported by those modules.

References
----------
.. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on
   GPU Clusters Using Megatron-LM", SC21, arXiv:2104.04473, eq. (2) and (3).
.. [2] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198, Table 2, eq. (7) and (8).
.. [3] NVIDIA Megatron-LM, ``megatron/training/training.py``
   ``num_floating_point_operations`` (2024).
.. [4] A. Chowdhery et al., "PaLM: Scaling Language Modeling with Pathways",
   arXiv:2204.02311, Appendix B.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float

__all__ = [
    "KORTHIKANTI_TABLE2_VARIANTS", "korthikanti_eq7_model_flop", "korthikanti_eq8_hardware_flop",
    "korthikanti_table2_bytes", "megatron_causal_flop", "megatron_core_flop",
    "narayanan_eq2_params",
    "narayanan_eq3_flop", "palm_model_flop_per_token",
]

KORTHIKANTI_TABLE2_VARIANTS = ("none", "tp", "tp+sp", "tp+selective", "tp+sp+selective", "full",
                               "full+sp")
"""The rows of Korthikanti et al. 2022 Table 2, as :func:`korthikanti_table2_bytes` names them."""


def narayanan_eq2_params(n_layers: ArrayLike, hidden: ArrayLike, vocab: ArrayLike,
                         seq_len: ArrayLike) -> NDArrayFloat:
    r"""
    Parameters of a GPT model, Narayanan et al. 2021 eq. (2).

    Parameters
    ----------
    n_layers, hidden : array_like
        Layers :math:`l` and hidden size :math:`h` [-].
    vocab : array_like
        Vocabulary, :math:`V` [-].
    seq_len : array_like
        Sequence length (learned positions), :math:`s` [tokens].

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    .. math::

       P = 12 l h^2 \left(1 + \frac{13}{12 h} + \frac{V + s}{12 l h}\right)

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (2).
    """
    l, h, v, s = as_float(n_layers), as_float(hidden), as_float(vocab), as_float(seq_len)
    return 12.0 * l * h**2 * (1.0 + 13.0 / (12.0 * h) + (v + s) / (12.0 * l * h))


def narayanan_eq3_flop(batch: ArrayLike, seq_len: ArrayLike, n_layers: ArrayLike,
                       hidden: ArrayLike, vocab: ArrayLike) -> NDArrayFloat:
    r"""
    FLOPs of one step with full recomputation, Narayanan et al. 2021 eq. (3).

    Parameters
    ----------
    batch : array_like
        Global batch, :math:`B` [sequences].
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    n_layers, hidden, vocab : array_like
        Layers :math:`l`, hidden size :math:`h`, vocabulary :math:`V` [-].

    Returns
    -------
    numpy.ndarray
        FLOPs (forward, backward and the recomputed forward) [FLOP].

    Notes
    -----
    .. math::

       F = 96 B s l h^2 \left(1 + \frac{s}{6 h} + \frac{V}{16 l h}\right)

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (3).
    """
    b, s, l, h, v = (as_float(x) for x in (batch, seq_len, n_layers, hidden, vocab))
    return 96.0 * b * s * l * h**2 * (1.0 + s / (6.0 * h) + v / (16.0 * l * h))


def korthikanti_eq7_model_flop(batch: ArrayLike, seq_len: ArrayLike, n_layers: ArrayLike,
                               hidden: ArrayLike, vocab: ArrayLike) -> NDArrayFloat:
    r"""
    Model FLOPs of one step, Korthikanti et al. 2022 eq. (7).

    Parameters
    ----------
    batch : array_like
        Global batch, :math:`B` [sequences].
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    n_layers, hidden, vocab : array_like
        Layers :math:`L`, hidden size :math:`h`, vocabulary :math:`V` [-].

    Returns
    -------
    numpy.ndarray
        Model FLOPs (forward and backward) [FLOP].

    Notes
    -----
    .. math::

       F = 72 B L s h^2 \left(1 + \frac{s}{6 h} + \frac{V}{12 h L}\right)

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, eq. (7).
    """
    b, s, l, h, v = (as_float(x) for x in (batch, seq_len, n_layers, hidden, vocab))
    return 72.0 * b * l * s * h**2 * (1.0 + s / (6.0 * h) + v / (12.0 * h * l))


def korthikanti_eq8_hardware_flop(batch: ArrayLike, seq_len: ArrayLike, n_layers: ArrayLike,
                                  hidden: ArrayLike, vocab: ArrayLike) -> NDArrayFloat:
    r"""
    Hardware FLOPs of one step with selective recomputation, Korthikanti et al. 2022 eq. (8).

    Eq. (8) adds :math:`12 B L s^2 h`, the forward *and* backward of the
    attention core, whereas :func:`~trainplan.model.flops.hardware_flop` adds
    only the recomputed forward (:math:`4 B L s^2 h`); it is reproduced here as
    published.

    Parameters
    ----------
    batch : array_like
        Global batch, :math:`B` [sequences].
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    n_layers, hidden, vocab : array_like
        Layers :math:`L`, hidden size :math:`h`, vocabulary :math:`V` [-].

    Returns
    -------
    numpy.ndarray
        Hardware FLOPs [FLOP].

    Notes
    -----
    .. math::

       F_{hw} = 72 B L s h^2 \left(1 + \frac{s}{3 h} + \frac{V}{12 h L}\right)

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, eq. (8).
    """
    b, s, l, h, v = (as_float(x) for x in (batch, seq_len, n_layers, hidden, vocab))
    return 72.0 * b * l * s * h**2 * (1.0 + s / (3.0 * h) + v / (12.0 * h * l))


def megatron_core_flop(batch: ArrayLike, seq_len: ArrayLike, n_layers: ArrayLike,
                       hidden: ArrayLike, n_heads: ArrayLike, n_kv_heads: ArrayLike,
                       ffn_hidden: ArrayLike, gated_mlp: ArrayLike,
                       vocab: ArrayLike) -> NDArrayFloat:
    r"""
    Model FLOPs of one step, Megatron-Core ``num_floating_point_operations`` (2024).

    Parameters
    ----------
    batch : array_like
        Global batch, :math:`B` [sequences].
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    n_layers, hidden, n_heads, n_kv_heads, ffn_hidden, vocab : array_like
        :math:`L`, :math:`h`, :math:`a`, :math:`g` (key/value heads), :math:`f`, :math:`V` [-].
    gated_mlp : array_like of bool
        SwiGLU MLP (factor 1.5 on the MLP term).

    Returns
    -------
    numpy.ndarray
        Model FLOPs [FLOP].

    Notes
    -----
    With the query projection width :math:`q = h`:

    .. math::

       F = 12 B s L h^2 \left[\left(1 + \frac{g}{a} + \frac{s}{h}\right)
           + \frac{f}{h}\,(1.5\ \text{if SwiGLU}) + \frac{V}{2 L h}\right]

    References
    ----------
    .. [1] NVIDIA Megatron-LM, ``megatron/training/training.py``
       ``num_floating_point_operations`` and the README performance table (2024).
    """
    b, s, l, h = as_float(batch), as_float(seq_len), as_float(n_layers), as_float(hidden)
    a, g, f, v = as_float(n_heads), as_float(n_kv_heads), as_float(ffn_hidden), as_float(vocab)
    gated = np.where(gated_mlp, 1.5, 1.0)
    return 12.0 * b * s * l * h**2 * ((1.0 + g / a + s / h) + (f / h) * gated + v / (2.0 * l * h))


def megatron_causal_flop(model_flop: ArrayLike, attention_score_flop: ArrayLike
                         ) -> NDArrayFloat:
    r"""
    Model FLOPs as Megatron-LM counts them since its MoE terms (2025): causal scores.

    Only the causal half of the attention scores is counted.

    Parameters
    ----------
    model_flop : array_like
        Model FLOPs of the step with the full :math:`s \times s` score square,
        :math:`F` (``model_flop_per_step``) [FLOP].
    attention_score_flop : array_like
        Their attention-score part, :math:`F_{att}` (forward and backward of
        :math:`Q K^T` and :math:`\mathrm{softmax}(\cdot) V`) [FLOP].

    Returns
    -------
    numpy.ndarray
        :math:`F_M = F - F_{att} / 2` [FLOP].

    Notes
    -----
    Checked against the published pairs of TFLOP/s per GPU and tokens per second per GPU of
    the Megatron-Bridge performance summary (DeepSeek-V3 with and without MTP, Qwen3
    30B-A3B and 235B-A22B, Kimi K2): their ratio, the FLOPs per token Megatron counted,
    is :math:`F_M` per token within 0.5 % (``tests/validation/test_moe_runs.py``).

    References
    ----------
    .. [1] NVIDIA Megatron-LM, ``megatron/training/training.py``
       ``num_floating_point_operations`` (MoE, MLA and MTP terms; causal attention).
    .. [2] NVIDIA NeMo Megatron-Bridge, ``docs/performance-summary.md`` (26.02).
    """
    return as_float(model_flop) - 0.5 * as_float(attention_score_flop)


def palm_model_flop_per_token(n_params: ArrayLike, n_layers: ArrayLike, hidden: ArrayLike,
                              seq_len: ArrayLike) -> NDArrayFloat:
    r"""
    Model FLOPs per token, PaLM Appendix B: :math:`6 N` plus the attention.

    Parameters
    ----------
    n_params : array_like
        Parameters of the model, :math:`N` [-].
    n_layers, hidden : array_like
        Layers :math:`L` and hidden size :math:`h = H Q` (heads times head width) [-].
    seq_len : array_like
        Sequence length, :math:`T` [tokens].

    Returns
    -------
    numpy.ndarray
        FLOPs per token (forward and backward) [FLOP/token].

    Notes
    -----
    .. math::

       F_{token} = 6 N + 12 L H Q T

    References
    ----------
    .. [1] A. Chowdhery et al., "PaLM", arXiv:2204.02311, Appendix B.
    """
    return (6.0 * as_float(n_params)
            + 12.0 * as_float(n_layers) * as_float(hidden) * as_float(seq_len))


def korthikanti_table2_bytes(seq_len: ArrayLike, micro_batch: ArrayLike, hidden: ArrayLike,
                             n_heads: ArrayLike, tp: ArrayLike, variant: str) -> NDArrayFloat:
    r"""
    Activation memory per layer, Korthikanti et al. 2022 Table 2, as published.

    Parameters
    ----------
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    micro_batch : array_like
        Micro-batch, :math:`b` [sequences].
    hidden, n_heads, tp : array_like
        Hidden size :math:`h`, heads :math:`a`, tensor-parallel degree :math:`t` [-].
    variant : str
        The row, one of :data:`KORTHIKANTI_TABLE2_VARIANTS`.

    Returns
    -------
    numpy.ndarray
        Bytes per layer (16-bit activations) [bytes].

    Notes
    -----
    .. math::

       \begin{aligned}
       \text{none} &: s b h (34 + 5 a s / h) \\
       \text{tp} &: s b h (10 + 24/t + 5 a s / (h t)) \\
       \text{tp+sp} &: s b h (34/t + 5 a s / (h t)) \\
       \text{tp+selective} &: s b h (10 + 24/t), \quad
       \text{tp+sp+selective} : 34\, s b h / t \\
       \text{full} &: 2 s b h, \quad \text{full+sp} : 2 s b h / t
       \end{aligned}

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Table 2.
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
