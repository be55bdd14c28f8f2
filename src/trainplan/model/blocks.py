r"""Parameters of the blocks of one transformer layer, whole and per tensor-parallel rank.

A layer is an attention block (Q, K, V and output projections, with grouped
key/value heads [3]_), an MLP block (two weight matrices, three when gated
[4]_), optional biases and two norms. Tensor parallelism splits the weight
matrices and the column-parallel biases over :math:`t` ranks and replicates the
row-parallel biases and the norms [2]_. Counts are numbers of parameters, as
float64. For a GPT layer the total is :math:`12 h^2 + 13 h` [1]_.

References
----------
.. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on
   GPU Clusters Using Megatron-LM", SC21, arXiv:2104.04473, eq. (2).
.. [2] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3.
.. [3] J. Ainslie et al., "GQA: Training Generalized Multi-Query Transformer
   Models from Multi-Head Checkpoints", arXiv:2305.13245.
.. [4] N. Shazeer, "GLU Variants Improve Transformer", arXiv:2002.05202.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.moe_params import gqa_attention_params


def head_dim(hidden: ArrayLike, n_heads: ArrayLike) -> NDArrayFloat:
    r"""
    Width of one attention head.

    Parameters
    ----------
    hidden : array_like
        Hidden size, :math:`h` [-].
    n_heads : array_like
        Query heads, :math:`a` [-].

    Returns
    -------
    numpy.ndarray
        :math:`d = h / a` [-].

    References
    ----------
    .. [1] A. Vaswani et al., "Attention Is All You Need", arXiv:1706.03762, Sec. 3.2.2.
    """
    return as_float(hidden) / as_float(n_heads)


def attention_weight_params(hidden: ArrayLike, n_heads: ArrayLike,
                            n_kv_heads: ArrayLike) -> NDArrayFloat:
    r"""
    Weights of one attention block: the Q, K, V projections and the output projection.

    Parameters
    ----------
    hidden, n_heads, n_kv_heads : array_like
        Hidden size :math:`h`, query heads :math:`a`, key/value heads :math:`k_v` [-].

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    :func:`~trainplan.model.moe_params.gqa_attention_params` with :math:`d = h/a` and no
    biases; :math:`4 h^2` for multi-head attention (:math:`k_v = a`):

    .. math::

       P_{attn} = h\,d\,(a + 2 k_v) + a\,d\,h

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (2).
    .. [2] J. Ainslie et al., "GQA", arXiv:2305.13245.
    """
    h, a = as_float(hidden), as_float(n_heads)
    return gqa_attention_params(h, a, n_kv_heads, h / a, False)


def attention_bias_params(hidden: ArrayLike, n_heads: ArrayLike,
                          n_kv_heads: ArrayLike) -> NDArrayFloat:
    r"""
    Biases of one attention block: the QKV bias and the output bias.

    Parameters
    ----------
    hidden, n_heads, n_kv_heads : array_like
        Hidden size :math:`h`, query heads :math:`a`, key/value heads :math:`k_v` [-].

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    .. math::

       P = \frac{h}{a} (a + 2 k_v) + h

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (2) (the :math:`13 h` term).
    """
    h, a, kv = as_float(hidden), as_float(n_heads), as_float(n_kv_heads)
    return h / a * (a + 2.0 * kv) + h


def mlp_weight_params(hidden: ArrayLike, ffn_hidden: ArrayLike,
                      gated_mlp: ArrayLike) -> NDArrayFloat:
    r"""
    Weights of one MLP block.

    Parameters
    ----------
    hidden, ffn_hidden : array_like
        Hidden size :math:`h` and MLP width :math:`f` [-].
    gated_mlp : array_like of bool
        Gated MLP (SwiGLU: three weight matrices).

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    .. math::

       P_{mlp} = (2 + [\text{gated}])\, h f

    References
    ----------
    .. [1] N. Shazeer, "GLU Variants Improve Transformer", arXiv:2002.05202.
    """
    return as_float(hidden) * as_float(ffn_hidden) * np.where(gated_mlp, 3.0, 2.0)


def mlp_bias_params(hidden: ArrayLike, ffn_hidden: ArrayLike,
                    gated_mlp: ArrayLike) -> NDArrayFloat:
    r"""
    Biases of one MLP block: the first layer's (doubled when gated) and the second's.

    Parameters
    ----------
    hidden, ffn_hidden : array_like
        Hidden size :math:`h` and MLP width :math:`f` [-].
    gated_mlp : array_like of bool
        Gated MLP (gate and up projections).

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    .. math::

       P = (1 + [\text{gated}])\, f + h

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (2) (the :math:`13 h` term).
    """
    return as_float(ffn_hidden) * np.where(gated_mlp, 2.0, 1.0) + as_float(hidden)


def norm_params(hidden: ArrayLike, layernorm: ArrayLike) -> NDArrayFloat:
    r"""
    Parameters of one norm: gain and bias (LayerNorm) or gain only (RMSNorm).

    Parameters
    ----------
    hidden : array_like
        Hidden size, :math:`h` [-].
    layernorm : array_like of bool
        LayerNorm rather than RMSNorm.

    Returns
    -------
    numpy.ndarray
        :math:`2h` or :math:`h` [-].

    References
    ----------
    .. [1] J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer Normalization", arXiv:1607.06450.
    .. [2] B. Zhang, R. Sennrich, "Root Mean Square Layer Normalization", arXiv:1910.07467.
    """
    return as_float(hidden) * np.where(layernorm, 2.0, 1.0)


def layer_params(hidden: ArrayLike, n_heads: ArrayLike, n_kv_heads: ArrayLike,
                 ffn_hidden: ArrayLike, gated_mlp: ArrayLike, linear_bias: ArrayLike,
                 layernorm: ArrayLike) -> NDArrayFloat:
    r"""
    Parameters of one transformer layer.

    Parameters
    ----------
    hidden, n_heads, n_kv_heads, ffn_hidden : array_like
        :math:`h`, :math:`a`, :math:`k_v`, :math:`f` [-].
    gated_mlp, linear_bias, layernorm : array_like of bool
        Gated MLP; biases on the linear layers; LayerNorm rather than RMSNorm.

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    Weights, biases when present and two norms; :math:`12 h^2 + 13 h` for a GPT
    layer (multi-head, :math:`f = 4h`, biases, LayerNorm), the per-layer term of
    eq. (2) of [1]_:

    .. math::

       P_l = P_{attn} + P_{mlp} + [\text{bias}] (b_{attn} + b_{mlp}) + 2 P_{norm}

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, eq. (2).
    """
    weights = attention_weight_params(hidden, n_heads, n_kv_heads) + mlp_weight_params(
        hidden, ffn_hidden, gated_mlp
    )
    biases = attention_bias_params(hidden, n_heads, n_kv_heads) + mlp_bias_params(
        hidden, ffn_hidden, gated_mlp
    )
    return weights + np.where(linear_bias, biases, 0.0) + 2.0 * norm_params(hidden, layernorm)


def layer_params_tp_sharded(hidden: ArrayLike, n_heads: ArrayLike, n_kv_heads: ArrayLike,
                            ffn_hidden: ArrayLike, gated_mlp: ArrayLike,
                            linear_bias: ArrayLike) -> NDArrayFloat:
    r"""
    Parameters of one layer that tensor parallelism splits across ranks.

    Parameters
    ----------
    hidden, n_heads, n_kv_heads, ffn_hidden : array_like
        :math:`h`, :math:`a`, :math:`k_v`, :math:`f` [-].
    gated_mlp, linear_bias : array_like of bool
        Gated MLP; biases on the linear layers.

    Returns
    -------
    numpy.ndarray
        Parameters (all ranks together) [-].

    Notes
    -----
    All weight matrices, the QKV bias and the first MLP bias (column-parallel
    layers); the row-parallel biases (:math:`h` each) and the norms are replicated:

    .. math::

       P_{split} = P_{attn} + P_{mlp} + [\text{bias}] (b_{attn} - h + b_{mlp} - h)

    References
    ----------
    .. [1] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3.
    """
    h = as_float(hidden)
    weights = attention_weight_params(hidden, n_heads, n_kv_heads) + mlp_weight_params(
        hidden, ffn_hidden, gated_mlp
    )
    column_biases = attention_bias_params(hidden, n_heads, n_kv_heads) - h + mlp_bias_params(
        hidden, ffn_hidden, gated_mlp
    ) - h
    return weights + np.where(linear_bias, column_biases, 0.0)


def layer_params_per_tp_rank(hidden: ArrayLike, n_heads: ArrayLike, n_kv_heads: ArrayLike,
                             ffn_hidden: ArrayLike, gated_mlp: ArrayLike,
                             linear_bias: ArrayLike, layernorm: ArrayLike,
                             tp: ArrayLike) -> NDArrayFloat:
    r"""
    Parameters of one layer held by one tensor-parallel rank.

    Parameters
    ----------
    hidden, n_heads, n_kv_heads, ffn_hidden : array_like
        :math:`h`, :math:`a`, :math:`k_v`, :math:`f` [-].
    gated_mlp, linear_bias, layernorm : array_like of bool
        Gated MLP; biases on the linear layers; LayerNorm rather than RMSNorm.
    tp : array_like
        Tensor-parallel degree, :math:`t` [-].

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    With :math:`P_l` from :func:`layer_params` and :math:`P_{split}` from
    :func:`layer_params_tp_sharded`:

    .. math::

       P_l^{(t)} = \frac{P_{split}}{t} + (P_l - P_{split})

    References
    ----------
    .. [1] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3.
    """
    total = layer_params(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, linear_bias, layernorm)
    sharded = layer_params_tp_sharded(hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp,
                                      linear_bias)
    return sharded / as_float(tp) + (total - sharded)
