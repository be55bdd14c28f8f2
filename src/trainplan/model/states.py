r"""Weights, gradients and optimizer states one GPU holds, by ZeRO stage [bytes].

Mixed-precision Adam as the ZeRO paper accounts it [1]_: 16-bit weights and gradients and
:math:`K` bytes of optimizer states per parameter, sharded over the data-parallel group by
stage. :mod:`trainplan.model.memory` re-exports these functions and adds activations.

References
----------
.. [1] S. Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
   Trillion Parameter Models", SC20, arXiv:1910.02054, Sec. 3.1 and 5,
   Table 1: ``(2 + 2 + K) Psi`` with ``K = 12`` for mixed-precision Adam;
   stage 1 ``4 Psi + 12 Psi/Nd``, stage 2 ``2 Psi + 14 Psi/Nd``, stage 3
   ``16 Psi/Nd``.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.constants import PARAM_BYTES

__all__ = ["gradient_bytes", "model_state_bytes", "optimizer_bytes", "weight_bytes"]


def weight_bytes(params: ArrayLike, dp: ArrayLike, zero_stage: ArrayLike,
                 bytes_per_param: ArrayLike = PARAM_BYTES) -> NDArrayFloat:
    r"""
    16-bit weights per GPU, sharded over the group at ZeRO stage 3.

    Parameters
    ----------
    params : array_like
        Parameters before sharding, :math:`\Psi` [-].
    dp : array_like
        GPUs the states are sharded over, :math:`N_d` [-].
    zero_stage : array_like of int
        ZeRO stage (0 to 3).
    bytes_per_param : array_like
        Bytes per weight, :math:`q_w` (2: 16-bit) [bytes].

    Returns
    -------
    numpy.ndarray
        :math:`q_w \Psi`, divided by :math:`N_d` from stage 3 [bytes].

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Sec. 3.1 and 5, Table 1.
    """
    shard = np.where(np.asarray(zero_stage) >= 3, as_float(dp), 1.0)
    return as_float(params) * bytes_per_param / shard


def gradient_bytes(params: ArrayLike, dp: ArrayLike, zero_stage: ArrayLike,
                   bytes_per_param: ArrayLike = 2.0) -> NDArrayFloat:
    r"""
    Gradients per GPU, sharded over the group from ZeRO stage 2.

    Parameters
    ----------
    params : array_like
        Parameters before sharding, :math:`\Psi` [-].
    dp : array_like
        GPUs the states are sharded over, :math:`N_d` [-].
    zero_stage : array_like of int
        ZeRO stage (0 to 3).
    bytes_per_param : array_like
        2 for 16-bit gradients (the ZeRO paper), 4 when gradients are
        accumulated and reduced in fp32 (Megatron ``main_grad``), 6 for a 16-bit
        ``.grad`` plus an fp32 accumulation buffer (DeepSpeed's BF16 optimizer),
        :math:`q_g` [bytes].

    Returns
    -------
    numpy.ndarray
        :math:`q_g \Psi`, divided by :math:`N_d` from stage 2 [bytes].

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Sec. 3.1 and 5, Table 1.
    """
    shard = np.where(np.asarray(zero_stage) >= 2, as_float(dp), 1.0)
    return as_float(params) * as_float(bytes_per_param) / shard


def optimizer_bytes(params: ArrayLike, dp: ArrayLike, zero_stage: ArrayLike,
                    bytes_per_param: ArrayLike = 12.0) -> NDArrayFloat:
    r"""
    Optimizer states per GPU, sharded from ZeRO stage 1 (or the distributed optimizer).

    Parameters
    ----------
    params : array_like
        Parameters before sharding, :math:`\Psi` [-].
    dp : array_like
        GPUs the states are sharded over, :math:`N_d` [-].
    zero_stage : array_like of int
        ZeRO stage (0 to 3; 1 is also Megatron's distributed optimizer).
    bytes_per_param : array_like
        :math:`K`, 12 for mixed-precision Adam (fp32 master weights, momentum,
        variance) [bytes].

    Returns
    -------
    numpy.ndarray
        :math:`K \Psi`, divided by :math:`N_d` from stage 1 [bytes].

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Sec. 3.1 and 5, Table 1.
    """
    shard = np.where(np.asarray(zero_stage) >= 1, as_float(dp), 1.0)
    return as_float(params) * as_float(bytes_per_param) / shard


def model_state_bytes(params: ArrayLike, dp: ArrayLike, zero_stage: ArrayLike,
                      weight_bytes_per_param: ArrayLike = PARAM_BYTES,
                      grad_bytes_per_param: ArrayLike = 2.0,
                      optimizer_bytes_per_param: ArrayLike = 12.0) -> NDArrayFloat:
    r"""
    Weights, gradients and optimizer states per GPU (ZeRO Table 1).

    Parameters
    ----------
    params : array_like
        Parameters before sharding, :math:`\Psi` [-].
    dp : array_like
        GPUs the states are sharded over, :math:`N_d` [-].
    zero_stage : array_like of int
        ZeRO stage (0 to 3).
    weight_bytes_per_param, grad_bytes_per_param, optimizer_bytes_per_param : array_like
        Bytes per parameter of each state, 2, 2 and :math:`K = 12` by default [bytes].

    Returns
    -------
    numpy.ndarray
        Bytes [bytes].

    Notes
    -----
    With the defaults, the four rows of Table 1 of [1]_:

    .. math::

       M = (2 + 2 + K)\Psi,\ 4\Psi + \frac{K\Psi}{N_d},\ 2\Psi + \frac{(2 + K)\Psi}{N_d},\
           \frac{(4 + K)\Psi}{N_d} \quad \text{(stages 0 to 3)}

    References
    ----------
    .. [1] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Table 1.
    """
    return (
        weight_bytes(params, dp, zero_stage, weight_bytes_per_param)
        + gradient_bytes(params, dp, zero_stage, grad_bytes_per_param)
        + optimizer_bytes(params, dp, zero_stage, optimizer_bytes_per_param)
    )
