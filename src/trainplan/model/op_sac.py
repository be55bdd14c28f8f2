r"""Operator-level selective recomputation: what TorchTitan's ``selective_ac_option = "op"``
keeps of a Llama block and what it repeats.

Megatron-Core's selective recomputation (:mod:`trainplan.model.activations`) drops the
attention core; TorchTitan's checkpoints each block and keeps the outputs of the operators on
its save list, recomputing every second matrix product and all element-wise work.

References
----------
.. [1] pytorch/torchtitan ``parallelize_llama.py``, ``_apply_ac_to_transformer_block``.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayBool, NDArrayFloat, as_float
from trainplan.model.activations import LOGSUMEXP_BYTES
from trainplan.model.choices import Recompute
from trainplan.model.config import Architecture, Layout
from trainplan.model.constants import ACTIVATION_BYTES

__all__ = ["op_sac_activation_bytes", "op_sac_applies", "op_sac_recomputed_share"]


def op_sac_activation_bytes(seq_len: ArrayLike, micro_batch: ArrayLike, hidden: ArrayLike,
                            n_heads: ArrayLike, n_kv_heads: ArrayLike, ffn_hidden: ArrayLike,
                            tp: ArrayLike, seq_parallel: ArrayLike) -> NDArrayFloat:
    r"""
    Activations one layer keeps under operator-level selective recomputation.

    Parameters
    ----------
    seq_len : array_like
        Sequence held by this GPU, :math:`s` [tokens].
    micro_batch : array_like
        Micro-batch, :math:`b` [sequences].
    hidden, n_heads, n_kv_heads, ffn_hidden, tp : array_like
        :math:`h`, :math:`a`, :math:`k_v`, :math:`f`, tensor-parallel degree :math:`t` [-].
    seq_parallel : array_like of bool
        Sequence parallelism (:math:`t_{sp} = t`, else 1).

    Returns
    -------
    numpy.ndarray
        Bytes per layer and micro-batch on one GPU [bytes].

    Notes
    -----
    TorchTitan checkpoints each block and keeps the outputs of the operators on its save
    list: every matrix product but each second one (of the seven of a Llama block, in
    order ``wq wk wv wo w1 w3 w2``, those of ``wq``, ``wv``, ``w1`` and ``w2``, the last
    a full-width partial sum under tensor parallelism), the attention kernel's output and
    log-sum-exp, and under sequence parallelism the two reduce-scatters' outputs; with the
    block's input (16-bit elements, fp32 log-sum-exp):

    .. math::

       A = s b h \left(\frac{2}{t_{sp}} + \frac{2 + 2 k_v/a + 2 + 2 f/h}{t} + 2
           + [t_{sp} > 1] \frac{4}{t}\right) + \frac{4 s b a}{t}

    Everything else (norms, rotary embedding, the gated activation, ``wk``, ``wo``,
    ``w3``) is recomputed in the backward.

    References
    ----------
    .. [1] pytorch/torchtitan ``parallelize_llama.py``, ``_apply_ac_to_transformer_block``
       with ``selective_ac_option = "op"`` (``_save_list``; "saves output of all compute
       ops, except every second mm").
    """
    s, b, h, t = as_float(seq_len), as_float(micro_batch), as_float(hidden), as_float(tp)
    a, kv, f = as_float(n_heads), as_float(n_kv_heads), as_float(ffn_hidden)
    sp = np.asarray(seq_parallel, dtype=bool) & (t > 1)
    t_sp = np.where(sp, t, 1.0)
    per_sbh = (ACTIVATION_BYTES / t_sp
               + ACTIVATION_BYTES * (2.0 + kv / a + f / h) / t + ACTIVATION_BYTES
               + np.where(sp, 2.0 * ACTIVATION_BYTES / t, 0.0))
    return s * b * h * per_sbh + LOGSUMEXP_BYTES * s * b * a / t


def op_sac_recomputed_share(hidden: ArrayLike, n_kv_heads: ArrayLike, n_heads: ArrayLike,
                            ffn_hidden: ArrayLike) -> NDArrayFloat:
    r"""
    Share of a Llama block's matrix-product FLOPs operator-level recomputation repeats.

    Parameters
    ----------
    hidden, n_kv_heads, n_heads, ffn_hidden : array_like
        :math:`h`, :math:`k_v`, :math:`a`, :math:`f` [-].

    Returns
    -------
    numpy.ndarray
        The products whose outputs are not kept (``wk``, ``wo``, ``w3``) over all seven
        [-]:

    .. math::

       \frac{h k_v / a + h + f}{2 h + 2 h k_v / a + 3 f}

    References
    ----------
    .. [1] pytorch/torchtitan ``parallelize_llama.py`` (every second mm recomputed).
    """
    h, f = as_float(hidden), as_float(ffn_hidden)
    kv = h * as_float(n_kv_heads) / as_float(n_heads)
    return (kv + h + f) / (2.0 * h + 2.0 * kv + 3.0 * f)


def op_sac_applies(arch: Architecture, layout: Layout) -> NDArrayBool:
    """
    Where operator-level selective recomputation replaces Megatron's.

    Parameters
    ----------
    arch : Architecture
        Share of MoE layers, wider or latent attention, gated MLP [-].
    layout : Layout
        ``selective_op_sac`` (the framework's selective recomputation is operator-level) and
        the recomputation mode [-].

    Returns
    -------
    numpy.ndarray
        True for selective recomputation of a dense Llama-shaped block (gated MLP, plain
        grouped-query attention), the block :func:`op_sac_activation_bytes` counts; other
        blocks keep Megatron-Core's selective recomputation [-].

    References
    ----------
    .. [1] pytorch/torchtitan ``parallelize_llama.py`` (the policy counts the block's
       matrix products in order).
    """
    return (np.asarray(layout.selective_op_sac, dtype=bool)
            & (np.asarray(layout.recompute) == Recompute.SELECTIVE)
            & (as_float(arch.moe_share) <= 0) & ~np.asarray(arch.variant_attention, dtype=bool)
            & np.asarray(arch.gated_mlp, dtype=bool))
