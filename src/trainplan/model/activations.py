r"""Activations one GPU stores for the backward, per layer and micro-batch [bytes].

Korthikanti et al. Table 2 [1]_, generalised to grouped key/value heads, any
FFN width, gated MLPs and dropout-free models by counting the same stored
tensors, and to FlashAttention [2]_ (the attention matrix is never stored; the
backward keeps the row-wise log-sum-exp). The bytes are written as
coefficients of :math:`s b h` (16-bit activations): tensor parallelism splits
some of them :math:`t` ways, sequence parallelism the rest.
:func:`~trainplan.model.memory.stage_memory` multiplies them by the layers and
micro-batches a stage holds.

References
----------
.. [1] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198, Sec. 4 and Table 2 (bytes per
   layer): ``sbh(34 + 5as/h)`` without parallelism,
   ``sbh(10 + 24/t + 5as/(ht))`` with tensor parallelism,
   ``sbh(34/t + 5as/(ht))`` adding sequence parallelism, the ``5as/h`` term
   dropped by selective recomputation, ``2sbh`` (``/t`` with sequence
   parallelism) stored per layer under full recomputation.
.. [2] T. Dao, "FlashAttention-2", arXiv:2307.08691: the attention matrix is
   never stored; the backward keeps the output and the row-wise log-sum-exp
   (fp32, one value per query and head).
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.choices import Recompute
from trainplan.model.constants import ACTIVATION_BYTES

DROPOUT_MASK_BYTES = 1.0
"""Bytes per element of a dropout mask (stored as uint8) [1]."""

LOGSUMEXP_BYTES = 4.0
"""Bytes per row statistic kept by FlashAttention for its backward (fp32) [2]."""

def replicated_activation_coefficient(dropout: ArrayLike) -> NDArrayFloat:
    r"""
    Stored activations that tensor parallelism does not split, per :math:`s b h`.

    Parameters
    ----------
    dropout : array_like of bool
        Dropout layers present (their masks are stored).

    Returns
    -------
    numpy.ndarray
        :math:`c_r` [bytes per :math:`s b h`].

    Notes
    -----
    Two norm inputs (2 each), the QKV input (2), the MLP input (2) and, with
    dropout, two dropout masks (1 each): 10 for GPT.

    .. math::

       c_r = 8 + 2 [\text{dropout}]

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.1 and Table 2.
    """
    return 8.0 + 2.0 * DROPOUT_MASK_BYTES * np.where(dropout, 1.0, 0.0)


def sharded_activation_coefficient(hidden: ArrayLike, n_heads: ArrayLike, n_kv_heads: ArrayLike,
                                   ffn_hidden: ArrayLike, gated_mlp: ArrayLike) -> NDArrayFloat:
    r"""
    Stored activations that tensor parallelism splits :math:`t` ways, per :math:`s b h`.

    Parameters
    ----------
    hidden, n_heads, n_kv_heads, ffn_hidden : array_like
        :math:`h`, :math:`a`, :math:`k_v`, :math:`f` [-].
    gated_mlp : array_like of bool
        Gated MLP (the first MLP layer outputs twice the width).

    Returns
    -------
    numpy.ndarray
        :math:`c_s` [bytes per :math:`s b h`].

    Notes
    -----
    Q (2), K and V (:math:`2 k_v / a` each), the attention output-projection
    input (2), the first MLP output (:math:`2 f/h`, twice for a gated MLP) and
    the activation output (:math:`2 f/h`): 24 for GPT (:math:`k_v = a`, :math:`f = 4h`).

    .. math::

       c_s = 4 + 4 \frac{k_v}{a} + (2 + 2 [\text{gated}]) \frac{f}{h} + 2 \frac{f}{h}

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.1 and Table 2.
    """
    kv_ratio = as_float(n_kv_heads) / as_float(n_heads)
    f_ratio = as_float(ffn_hidden) / as_float(hidden)
    attention = 2.0 + 4.0 * kv_ratio + 2.0
    mlp = f_ratio * np.where(gated_mlp, 4.0, 2.0) + 2.0 * f_ratio
    return attention + mlp


def attention_score_coefficient(seq_len: ArrayLike, hidden: ArrayLike, n_heads: ArrayLike,
                                dropout: ArrayLike) -> NDArrayFloat:
    r"""
    Stored attention-matrix activations (unfused attention), per :math:`s b h`.

    Parameters
    ----------
    seq_len : array_like
        Sequence length, :math:`s` [tokens].
    hidden, n_heads : array_like
        :math:`h` and :math:`a` [-].
    dropout : array_like of bool
        Dropout on the attention probabilities.

    Returns
    -------
    numpy.ndarray
        :math:`c_a` [bytes per :math:`s b h`].

    Notes
    -----
    Softmax output (2), dropout mask (1) and dropout output (2) per score:

    .. math::

       c_a = (2 + 3 [\text{dropout}]) \frac{a s}{h}

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.1 and Table 2.
    """
    per_score = 2.0 + np.where(dropout, 3.0, 0.0)
    return per_score * as_float(n_heads) * as_float(seq_len) / as_float(hidden)


def activation_bytes_per_layer(seq_len: ArrayLike, micro_batch: ArrayLike, hidden: ArrayLike,
                               n_heads: ArrayLike, n_kv_heads: ArrayLike, ffn_hidden: ArrayLike,
                               gated_mlp: ArrayLike, dropout: ArrayLike, tp: ArrayLike,
                               seq_parallel: ArrayLike, recompute: ArrayLike,
                               flash_attention: ArrayLike, fp8: ArrayLike = False
                               ) -> NDArrayFloat:
    r"""
    Activations one layer stores for one micro-batch on one GPU.

    Parameters
    ----------
    seq_len : array_like
        Sequence held by this GPU (divided by the context-parallel degree), :math:`s` [tokens].
    micro_batch : array_like
        Micro-batch, :math:`b` [sequences].
    hidden, n_heads, n_kv_heads, ffn_hidden, tp : array_like
        :math:`h`, :math:`a`, :math:`k_v`, :math:`f`, tensor-parallel degree :math:`t` [-].
    gated_mlp, dropout, seq_parallel, flash_attention : array_like of bool
        Gated MLP; dropout layers; sequence parallelism; fused attention.
    recompute : array_like of int
        :class:`~trainplan.model.choices.Recompute` code per row.
    fp8 : array_like of bool, optional
        Linear layers in FP8: their saved inputs are the FP8 casts [3]_ [-].

    Returns
    -------
    numpy.ndarray
        Bytes [bytes]; with GPT settings every row of Table 2 of [1]_.

    Notes
    -----
    With :math:`c_r`, :math:`c_s`, :math:`c_a` of the coefficient functions,
    :math:`t_{sp} = t` under sequence parallelism (else 1), scores stored only
    without recomputation and without FlashAttention, and the fp32 log-sum-exp
    of FlashAttention [2]_ unless fully recomputed:

    .. math::

       A = \begin{cases} 2 s b h / t_{sp} & \text{full} \\
           s b h \left(\frac{c_r}{t_{sp}} + \frac{c_s}{t} + [\text{none}, \neg\text{flash}]
           \frac{c_a}{t} + [\text{flash}] \frac{4 a}{h t}\right) & \text{otherwise}
           \end{cases}

    Under FP8 the four linear layers keep the FP8 copy of their input for the
    weight-gradient GEMM, one byte instead of two per element: the QKV and first-MLP inputs
    (in :math:`c_r`), the output-projection input and the second-MLP input (in
    :math:`c_s`), :math:`2 + 1 + f/h` fewer bytes per :math:`s b h` (:math:`t_{sp}`,
    :math:`t` as above); attention and element-wise work keep 16 bits.

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Table 2.
    .. [2] T. Dao, "FlashAttention-2", arXiv:2307.08691.
    .. [3] NVIDIA Transformer Engine documentation, "Using FP8 with Transformer Engine":
       FP8 GEMM inputs are saved in FP8 for the backward pass.
    """
    s, b, h, t = as_float(seq_len), as_float(micro_batch), as_float(hidden), as_float(tp)
    sbh = s * b * h
    rc = np.asarray(recompute)
    sp = np.asarray(seq_parallel, dtype=bool)
    replicated = replicated_activation_coefficient(dropout) / np.where(sp, t, 1.0)
    sharded = sharded_activation_coefficient(hidden, n_heads, n_kv_heads, ffn_hidden,
                                             gated_mlp) / t
    scores_stored = (rc == Recompute.NONE) & ~np.asarray(flash_attention, dtype=bool)
    scores = np.where(scores_stored, attention_score_coefficient(seq_len, hidden, n_heads,
                                                                 dropout) / t, 0.0)
    lse = np.where(np.asarray(flash_attention, dtype=bool) & (rc < Recompute.FULL),
                   LOGSUMEXP_BYTES * as_float(n_heads) / h / t, 0.0)
    f8 = np.asarray(fp8, dtype=bool)
    fp8_saving = np.where(f8, 2.0 / np.where(sp, t, 1.0)
                          + (1.0 + as_float(ffn_hidden) / h) / t, 0.0)
    no_full = sbh * (replicated + sharded + scores + lse - fp8_saving)
    full = ACTIVATION_BYTES * sbh / np.where(sp, t, 1.0)
    return np.where(rc == Recompute.FULL, full, no_full)


def recompute_working_bytes(seq_len: ArrayLike, micro_batch: ArrayLike, hidden: ArrayLike,
                            n_heads: ArrayLike, n_kv_heads: ArrayLike, ffn_hidden: ArrayLike,
                            gated_mlp: ArrayLike, dropout: ArrayLike, tp: ArrayLike,
                            seq_parallel: ArrayLike, recompute: ArrayLike,
                            flash_attention: ArrayLike, fp8: ArrayLike = False) -> NDArrayFloat:
    r"""
    Transient activations of the one layer being recomputed under full recomputation.

    During the backward of a layer its activations are rebuilt as if nothing
    were recomputed; zero unless ``recompute`` is full.

    Parameters
    ----------
    seq_len : array_like
        Sequence held by this GPU (divided by the context-parallel degree), :math:`s` [tokens].
    micro_batch : array_like
        Micro-batch, :math:`b` [sequences].
    hidden, n_heads, n_kv_heads, ffn_hidden, tp : array_like
        :math:`h`, :math:`a`, :math:`k_v`, :math:`f`, tensor-parallel degree :math:`t` [-].
    gated_mlp, dropout, seq_parallel, flash_attention : array_like of bool
        Gated MLP; dropout layers; sequence parallelism; fused attention.
    recompute : array_like of int
        :class:`~trainplan.model.choices.Recompute` code per row.
    fp8 : array_like of bool, optional
        Linear layers in FP8 (:func:`activation_bytes_per_layer`) [-].

    Returns
    -------
    numpy.ndarray
        :func:`activation_bytes_per_layer` with no recomputation, or 0 [bytes].

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 5.
    """
    one_layer = activation_bytes_per_layer(seq_len, micro_batch, hidden, n_heads, n_kv_heads,
                                           ffn_hidden, gated_mlp, dropout, tp, seq_parallel,
                                           Recompute.NONE, flash_attention, fp8)
    return np.where(np.asarray(recompute) == Recompute.FULL, one_layer, 0.0)


def logits_bytes(seq_len: ArrayLike, micro_batch: ArrayLike, vocab: ArrayLike, tp: ArrayLike,
                 bytes_per_logit: ArrayLike) -> NDArrayFloat:
    r"""
    Logits of one micro-batch on the last pipeline stage.

    Parameters
    ----------
    seq_len : array_like
        Sequence held by this GPU, :math:`s` [tokens].
    micro_batch : array_like
        Micro-batch, :math:`b` [sequences].
    vocab, tp : array_like
        Vocabulary :math:`V` and tensor-parallel degree :math:`t` [-].
    bytes_per_logit : array_like
        Bytes kept per logit, :math:`q` (16-bit logits plus the fp32 copy the
        cross-entropy keeps for its backward: 6) [bytes].

    Returns
    -------
    numpy.ndarray
        Bytes [bytes].

    Notes
    -----
    Vocabulary-parallel over :math:`t` ranks:

    .. math::

       M_{logits} = \frac{s b V}{t}\, q

    References
    ----------
    .. [1] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3 (parallel
       output embedding fused with the cross-entropy).
    """
    return (as_float(seq_len) * as_float(micro_batch) * as_float(vocab) / as_float(tp)
            * as_float(bytes_per_logit))
