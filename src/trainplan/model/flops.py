r"""Floating-point operations of the training step.

Counts are [FLOP], with one multiply-accumulate = 2 FLOP. Only matrix
multiplications are counted (the convention of every source below); the
element-wise work is priced separately as memory traffic (see
:mod:`trainplan.model.compute`). Attention scores are counted over the full
``s x s`` square, as in all the conventions reproduced here, even though a
causal mask makes half of them unused.

*Model FLOPs* are the FLOPs of one forward and one backward pass (backward =
2x forward); *hardware FLOPs* add whatever recomputation re-executes. The published closed
forms (eq. (3), (7), (8), Megatron-Core, PaLM) are :mod:`~trainplan.model.published`,
re-exported here.

References
----------
.. [1] D. Narayanan et al., SC21, arXiv:2104.04473, eq. (3):
   ``F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h))`` (includes the extra forward
   pass of full activation recomputation).
.. [2] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198, eq. (7) (model FLOPs
   ``72 B L s h^2 (1 + s/(6h) + V/(12 h L))``) and eq. (8) (hardware FLOPs with
   selective recomputation ``72 B L s h^2 (1 + s/(3h) + V/(12 h L))``).
.. [3] NVIDIA Megatron-LM, ``megatron/training/training.py``
   ``num_floating_point_operations`` and the README performance table (2024):
   ``12 B s L h^2 [(1 + g/a + s/h) q/h + (f/h) (1.5 if SwiGLU) + V/(2 L h)]``.
.. [4] A. Chowdhery et al., "PaLM", arXiv:2204.02311, Appendix B: model FLOPs
   per token ``6 N + 12 L H Q T``.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.choices import Recompute
from trainplan.model.constants import FORWARD_BACKWARD_FACTOR
from trainplan.model.published import (  # noqa: F401  (re-exported)
    korthikanti_eq7_model_flop,
    korthikanti_eq8_hardware_flop,
    megatron_causal_flop,
    megatron_core_flop,
    narayanan_eq3_flop,
    palm_model_flop_per_token,
)


def qkv_projection_flop(tokens: ArrayLike, hidden: ArrayLike, n_heads: ArrayLike,
                        n_kv_heads: ArrayLike) -> NDArrayFloat:
    r"""
    Forward FLOPs of the Q, K and V projections.

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    hidden, n_heads, n_kv_heads : array_like
        :math:`h`, :math:`a`, :math:`k_v` [-].

    Returns
    -------
    numpy.ndarray
        FLOPs [FLOP].

    Notes
    -----
    .. math::

       F = 2\,T h d\,(a + 2 k_v), \quad d = h / a

    References
    ----------
    .. [1] NVIDIA Megatron-LM ``num_floating_point_operations`` (2024) (the
       :math:`g/a` term of grouped key/value heads).
    """
    h = as_float(hidden)
    a, kv = as_float(n_heads), as_float(n_kv_heads)
    return 2.0 * as_float(tokens) * h * (h / a) * (a + 2.0 * kv)


def attention_output_flop(tokens: ArrayLike, hidden: ArrayLike) -> NDArrayFloat:
    r"""
    Forward FLOPs of the attention output projection.

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    hidden : array_like
        Hidden size, :math:`h` [-].

    Returns
    -------
    numpy.ndarray
        :math:`2 T h^2` [FLOP].

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (3) and its derivation (appendix).
    """
    return 2.0 * as_float(tokens) * as_float(hidden) ** 2


def attention_core_flop(tokens: ArrayLike, seq_len: ArrayLike, hidden: ArrayLike) -> NDArrayFloat:
    r"""
    Forward FLOPs of :math:`Q K^T` and :math:`\mathrm{softmax}(\cdot)\,V` over the full square.

    Parameters
    ----------
    tokens : array_like
        Tokens (queries), :math:`T` [tokens].
    seq_len : array_like
        Keys each query attends to, :math:`s` [tokens].
    hidden : array_like
        Hidden size, :math:`h` [-].

    Returns
    -------
    numpy.ndarray
        :math:`4 T s h` [FLOP] (the causal half is counted too).

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, eq. (7).
    """
    return 4.0 * as_float(tokens) * as_float(seq_len) * as_float(hidden)


def mlp_flop(tokens: ArrayLike, hidden: ArrayLike, ffn_hidden: ArrayLike,
             gated_mlp: ArrayLike) -> NDArrayFloat:
    r"""
    Forward FLOPs of the MLP block.

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    hidden, ffn_hidden : array_like
        :math:`h` and :math:`f` [-].
    gated_mlp : array_like of bool
        Gated MLP (three matrices instead of two).

    Returns
    -------
    numpy.ndarray
        :math:`4 T h f`, or :math:`6 T h f` gated [FLOP].

    References
    ----------
    .. [1] NVIDIA Megatron-LM ``num_floating_point_operations`` (2024) (factor 1.5 for SwiGLU).
    """
    return (as_float(tokens) * as_float(hidden) * as_float(ffn_hidden)
            * np.where(gated_mlp, 6.0, 4.0))


def logits_flop(tokens: ArrayLike, hidden: ArrayLike, vocab: ArrayLike) -> NDArrayFloat:
    r"""
    Forward FLOPs of the output layer (LM head).

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    hidden, vocab : array_like
        :math:`h` and :math:`V` [-].

    Returns
    -------
    numpy.ndarray
        :math:`2 T h V` [FLOP].

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (3) (the :math:`V/(16 l h)` term).
    """
    return 2.0 * as_float(tokens) * as_float(hidden) * as_float(vocab)


def layer_forward_flop(tokens: ArrayLike, seq_len: ArrayLike, hidden: ArrayLike,
                       n_heads: ArrayLike, n_kv_heads: ArrayLike, ffn_hidden: ArrayLike,
                       gated_mlp: ArrayLike) -> NDArrayFloat:
    r"""
    Forward FLOPs of one transformer layer.

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    hidden, n_heads, n_kv_heads, ffn_hidden : array_like
        :math:`h`, :math:`a`, :math:`k_v`, :math:`f` [-].
    gated_mlp : array_like of bool
        Gated MLP (SwiGLU: three weight matrices).

    Returns
    -------
    numpy.ndarray
        FLOPs [FLOP].

    Notes
    -----
    The sum of :func:`qkv_projection_flop`, :func:`attention_output_flop`,
    :func:`attention_core_flop` and :func:`mlp_flop`; for a GPT layer

    .. math::

       F_l = 24\, T h^2 \left(1 + \frac{s}{6 h}\right)

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, eq. (7) (the per-layer term).
    """
    return (
        qkv_projection_flop(tokens, hidden, n_heads, n_kv_heads)
        + attention_output_flop(tokens, hidden)
        + attention_core_flop(tokens, seq_len, hidden)
        + mlp_flop(tokens, hidden, ffn_hidden, gated_mlp)
    )


def model_flop(tokens: ArrayLike, n_layers: ArrayLike, seq_len: ArrayLike, hidden: ArrayLike,
               n_heads: ArrayLike, n_kv_heads: ArrayLike, ffn_hidden: ArrayLike,
               gated_mlp: ArrayLike, vocab: ArrayLike) -> NDArrayFloat:
    r"""
    Model FLOPs of forward and backward over ``tokens`` tokens.

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    n_layers, hidden, n_heads, n_kv_heads, ffn_hidden, vocab : array_like
        :math:`L`, :math:`h`, :math:`a`, :math:`k_v`, :math:`f`, :math:`V` [-].
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    gated_mlp : array_like of bool
        Gated MLP.

    Returns
    -------
    numpy.ndarray
        FLOPs [FLOP].

    Notes
    -----
    Backward = 2 forwards; equals eq. (7) of [1]_ for a GPT model and
    Megatron-Core's ``num_floating_point_operations`` [2]_ for any GQA / SwiGLU model:

    .. math::

       F = 3 \left(L F_l + 2 T h V\right)

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, eq. (7).
    .. [2] NVIDIA Megatron-LM ``num_floating_point_operations`` (2024).
    """
    forward = as_float(n_layers) * layer_forward_flop(
        tokens, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp
    ) + logits_flop(tokens, hidden, vocab)
    return FORWARD_BACKWARD_FACTOR * forward


def recompute_flop(tokens: ArrayLike, n_layers: ArrayLike, seq_len: ArrayLike, hidden: ArrayLike,
                   n_heads: ArrayLike, n_kv_heads: ArrayLike, ffn_hidden: ArrayLike,
                   gated_mlp: ArrayLike, recompute: ArrayLike,
                   full_share: ArrayLike = 1.0) -> NDArrayFloat:
    r"""
    FLOPs re-executed by activation recomputation.

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    n_layers, hidden, n_heads, n_kv_heads, ffn_hidden : array_like
        :math:`L`, :math:`h`, :math:`a`, :math:`k_v`, :math:`f` [-].
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    gated_mlp : array_like of bool
        Gated MLP.
    recompute : array_like of int
        :class:`~trainplan.model.choices.Recompute` code per row.
    full_share : array_like, optional
        Share of the layers full recomputation recomputes, :math:`\phi` [-].

    Returns
    -------
    numpy.ndarray
        FLOPs [FLOP].

    Notes
    -----
    Full: one extra forward of the recomputed layers, :math:`\phi L` [1]_; selective: the
    attention core (:math:`Q K^T`, softmax, :math:`\mathrm{softmax}\,V`) [2]_:

    .. math::

       F_{rec} = \begin{cases} \phi L F_l & \text{full} \\ 4 L T s h & \text{selective} \\
                 0 & \text{none} \end{cases}

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (3).
    .. [2] V. Korthikanti et al., arXiv:2205.05198, Sec. 5.
    """
    rc = np.asarray(recompute)
    full = as_float(n_layers) * layer_forward_flop(
        tokens, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp
    )
    selective = as_float(n_layers) * attention_core_flop(tokens, seq_len, hidden)
    return np.where(rc == Recompute.FULL, as_float(full_share) * full,
                    np.where(rc == Recompute.SELECTIVE, selective, 0.0))


def hardware_flop(tokens: ArrayLike, n_layers: ArrayLike, seq_len: ArrayLike, hidden: ArrayLike,
                  n_heads: ArrayLike, n_kv_heads: ArrayLike, ffn_hidden: ArrayLike,
                  gated_mlp: ArrayLike, vocab: ArrayLike, recompute: ArrayLike,
                  full_share: ArrayLike = 1.0) -> NDArrayFloat:
    r"""
    Hardware FLOPs: model FLOPs plus recomputation.

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    n_layers, hidden, n_heads, n_kv_heads, ffn_hidden, vocab : array_like
        :math:`L`, :math:`h`, :math:`a`, :math:`k_v`, :math:`f`, :math:`V` [-].
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    gated_mlp : array_like of bool
        Gated MLP.
    recompute : array_like of int
        :class:`~trainplan.model.choices.Recompute` code per row.
    full_share : array_like, optional
        Share of the layers full recomputation recomputes [-].

    Returns
    -------
    numpy.ndarray
        FLOPs [FLOP].

    Notes
    -----
    :math:`F_{hw} = F + F_{rec}` (:func:`model_flop`, :func:`recompute_flop`);
    with full recomputation this equals eq. (3) of [1]_ for a GPT model.

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (3).
    """
    shape = (tokens, n_layers, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp)
    return model_flop(*shape, vocab) + recompute_flop(*shape, recompute, full_share)
