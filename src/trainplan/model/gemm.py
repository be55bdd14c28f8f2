r"""Time of one matrix multiplication (GEMM): shape-dependent efficiency under a roofline.

A GEMM reaches the maximum achievable fraction :math:`\eta_{max}` of the dense
peak (the "MAMF" of [1]_) only when all three dimensions are large compared
with the tile and wave sizes of the GPU [2]_. The shape dependence is a
saturation law per dimension,

.. math::

   \eta(M, N, K) = \eta_{max} \frac{M}{M + d} \frac{N}{N + d} \frac{K}{K + k_{1/2}}

where :math:`d` and :math:`k_{1/2}` are the dimensions at which one factor
halves it. A roofline bound on the HBM traffic of the three matrices applies
to every GEMM [3]_.

References
----------
.. [1] S. Bekman, "Machine Learning Engineering", compute/accelerator,
   "Maximum Achievable Matmul FLOPS comparison table" (2024-2025).
.. [2] NVIDIA, "Matrix Multiplication Background User's Guide" (Deep Learning
   Performance Documentation): tile and wave quantisation; small dimensions
   under-use the tensor cores.
.. [3] S. Williams, A. Waterman, D. Patterson, "Roofline: An Insightful Visual
   Performance Model for Multicore Architectures", CACM 52(4), 2009.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.constants import FLOP_PER_TFLOP

__all__ = ["gemm_efficiency", "gemm_half_dim", "gemm_time_s"]


def gemm_half_dim(half_dim_per_sm_tflop_s: ArrayLike, peak_flop_s: ArrayLike,
                  sm_count: ArrayLike) -> NDArrayFloat:
    r"""
    Saturation dimension of a GPU, proportional to the throughput of one SM.

    By Little's law the work an SM must have in flight to stay busy grows with
    how fast it consumes it, so faster SMs (Hopper, Blackwell) need larger
    matrices to approach their peak. The constant :math:`c` is one for every
    GPU; it is applied to the 16-bit peak for every precision (FP8's lower
    achievable fraction is in its own :math:`\eta_{max}`), as it was fitted.

    Parameters
    ----------
    half_dim_per_sm_tflop_s : array_like
        Saturation dimension per unit of SM throughput, :math:`c`
        [elements / (TFLOP/s per SM)].
    peak_flop_s : array_like
        Dense peak of the GPU, :math:`P` [FLOP/s].
    sm_count : array_like
        Streaming multiprocessors, :math:`N_{SM}` [-].

    Returns
    -------
    numpy.ndarray
        Output dimension :math:`d` at which one factor of :func:`gemm_efficiency`
        halves [elements].

    Notes
    -----
    .. math::

       d = c\, \frac{P / N_{SM}}{10^{12}}

    References
    ----------
    .. [1] NVIDIA, "Matrix Multiplication Background User's Guide" (tile and
       wave quantisation).
    """
    return (as_float(half_dim_per_sm_tflop_s) * as_float(peak_flop_s) / as_float(sm_count)
            / FLOP_PER_TFLOP)


def gemm_efficiency(m: ArrayLike, n: ArrayLike, k: ArrayLike, efficiency_max: ArrayLike,
                    half_dim: ArrayLike, half_k: ArrayLike) -> NDArrayFloat:
    r"""
    Achieved fraction of the dense peak of an ``(m x k) @ (k x n)`` GEMM.

    The output dimensions :math:`m` and :math:`n` set how many tiles keep the
    SMs busy; the inner dimension :math:`k` sets how long each tile's main loop
    runs against its fixed prologue and epilogue.

    Parameters
    ----------
    m, n : array_like
        Output dimensions, :math:`m`, :math:`n` [elements].
    k : array_like
        Inner (reduction) dimension, :math:`k` [elements].
    efficiency_max : array_like
        Maximum achievable fraction of the peak, :math:`\eta_{max}` [-].
    half_dim : array_like
        Output dimension at which one factor halves, :math:`d`
        (:func:`gemm_half_dim`) [elements].
    half_k : array_like
        Inner dimension at which the main-loop factor halves, :math:`k_{1/2}` [elements].

    Returns
    -------
    numpy.ndarray
        Efficiency :math:`\eta` [-].

    Notes
    -----
    .. math::

       \eta = \eta_{max} \frac{m}{m + d} \frac{n}{n + d} \frac{k}{k + k_{1/2}}

    References
    ----------
    .. [1] S. Bekman, "Machine Learning Engineering", "Maximum Achievable Matmul
       FLOPS comparison table" (2024-2025).
    .. [2] NVIDIA, "Matrix Multiplication Background User's Guide".
    """
    hd = as_float(half_dim)
    m, n, k = as_float(m), as_float(n), as_float(k)
    return as_float(efficiency_max) * (m / (m + hd)) * (n / (n + hd)) * (k / (k + as_float(half_k)))


def gemm_time_s(m: ArrayLike, n: ArrayLike, k: ArrayLike, peak_flop_s: ArrayLike,
                efficiency_max: ArrayLike, half_dim: ArrayLike, half_k: ArrayLike,
                hbm_byte_s: ArrayLike, bytes_per_element: ArrayLike) -> NDArrayFloat:
    r"""
    Time of an ``(m x k) @ (k x n)`` GEMM: compute at its efficiency, or HBM traffic.

    Parameters
    ----------
    m, n, k : array_like
        Output and inner dimensions [elements].
    peak_flop_s : array_like
        Dense peak of the precision, :math:`P` [FLOP/s].
    efficiency_max, half_dim, half_k : array_like
        :math:`\eta_{max}` [-], :math:`d` and :math:`k_{1/2}` [elements] of
        :func:`gemm_efficiency`.
    hbm_byte_s : array_like
        Achievable HBM bandwidth, :math:`B_{HBM}` [byte/s].
    bytes_per_element : array_like
        Bytes of one matrix element, :math:`e` [bytes].

    Returns
    -------
    numpy.ndarray
        Time [s].

    Notes
    -----
    The larger of the compute time of the :math:`2 m n k` FLOPs and the time to
    move the three matrices through HBM once:

    .. math::

       t = \max\left(\frac{2 m n k}{P\,\eta(m, n, k)},\
           \frac{e\,(m k + k n + m n)}{B_{HBM}}\right)

    References
    ----------
    .. [1] S. Bekman, "Machine Learning Engineering", "Maximum Achievable Matmul
       FLOPS comparison table" (2024-2025).
    .. [2] S. Williams, A. Waterman, D. Patterson, "Roofline", CACM 52(4), 2009.
    """
    m, n, k = as_float(m), as_float(n), as_float(k)
    flop = 2.0 * m * n * k
    compute = flop / (as_float(peak_flop_s) * gemm_efficiency(m, n, k, efficiency_max, half_dim,
                                                         half_k))
    traffic = as_float(bytes_per_element) * (m * k + k * n + m * n) / as_float(hbm_byte_s)
    return np.maximum(compute, traffic)
