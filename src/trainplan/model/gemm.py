r"""Time of one matrix multiplication (GEMM): wave occupancy and main-loop length under a roofline.

A GEMM reaches the maximum achievable fraction :math:`\eta_{max}` of the dense
peak (the "MAMF" of [1]_) when its output tiles fill every SM and each tile's
main loop is long against its fixed prologue and epilogue [2]_:

.. math::

   \eta(m, n, k) = \eta_{max} \min\left(1, \frac{m n}{N_{SM}\, a}\right)
                   \frac{k}{k + k_{1/2}}

with :math:`a` the output elements of one SM's tile and :math:`k_{1/2}` the
inner length of the per-tile overhead. A roofline bound on the HBM traffic of
the three matrices applies to every GEMM [3]_.

Both shape constants are fitted to cuBLASLt / ``torch.mm`` / ``torch._scaled_mm``
shape sweeps (A100 fp16, H100, H200, GB200 and MI300X fp8, B200 bf16;
``tests/data/gemm_benchmarks.csv``), not to training runs; :math:`\eta_{max}` is the
catalog's MAMF / peak, so a large GEMM runs at the published MAMF.

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

from collections.abc import Callable

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.constants import BYTES_16BIT

__all__ = ["gemm_efficiency", "gemm_time_of", "gemm_time_s", "gemm_wave_elements"]


def gemm_wave_elements(tile_elements: ArrayLike, sm_count: ArrayLike) -> NDArrayFloat:
    r"""
    Output elements of one full wave of GEMM tiles: one tile on every SM.

    Parameters
    ----------
    tile_elements : array_like
        Output elements of one SM's tile, :math:`a` (128 x 256 = 32768 for the
        Hopper tensor-core GEMMs of cuBLAS and CUTLASS) [elements].
    sm_count : array_like
        Streaming multiprocessors (compute units), :math:`N_{SM}` [-].

    Returns
    -------
    numpy.ndarray
        :math:`W = N_{SM}\, a` [elements].

    References
    ----------
    .. [1] NVIDIA, "Matrix Multiplication Background User's Guide" (wave quantisation).
    """
    return as_float(tile_elements) * as_float(sm_count)


def gemm_efficiency(m: ArrayLike, n: ArrayLike, k: ArrayLike, efficiency_max: ArrayLike,
                    wave_elements: ArrayLike, half_k: ArrayLike) -> NDArrayFloat:
    r"""
    Achieved fraction of the dense peak of an ``(m x k) @ (k x n)`` GEMM.

    An output smaller than one wave of tiles leaves SMs idle; the inner
    dimension :math:`k` sets how long each tile's main loop runs against its
    fixed prologue and epilogue. Non-decreasing in every dimension and never
    above :math:`\eta_{max}`.

    Parameters
    ----------
    m, n : array_like
        Output dimensions, :math:`m`, :math:`n` [elements].
    k : array_like
        Inner (reduction) dimension, :math:`k` [elements].
    efficiency_max : array_like
        Maximum achievable fraction of the peak (MAMF / peak), :math:`\eta_{max}` [-].
    wave_elements : array_like
        Output elements of one wave of tiles, :math:`W` (:func:`gemm_wave_elements`)
        [elements].
    half_k : array_like
        Inner dimension at which the main-loop factor halves, :math:`k_{1/2}` [elements].

    Returns
    -------
    numpy.ndarray
        Efficiency :math:`\eta` [-].

    Notes
    -----
    .. math::

       \eta = \eta_{max} \min\left(1, \frac{m n}{W}\right) \frac{k}{k + k_{1/2}}

    Fitted on published shape sweeps (``tests/data/gemm_benchmarks.csv``): with
    :math:`a = 32768` and :math:`k_{1/2} = 128` the sweeps normalised to their own
    :math:`8192^3` row are matched to a median 5 %.

    References
    ----------
    .. [1] S. Bekman, "Machine Learning Engineering", "Maximum Achievable Matmul
       FLOPS comparison table" (2024-2025).
    .. [2] NVIDIA, "Matrix Multiplication Background User's Guide".
    """
    m, n, k = as_float(m), as_float(n), as_float(k)
    occupancy = np.minimum(1.0, m * n / as_float(wave_elements))
    return as_float(efficiency_max) * occupancy * (k / (k + as_float(half_k)))


def gemm_time_s(m: ArrayLike, n: ArrayLike, k: ArrayLike, peak_flop_s: ArrayLike,
                efficiency_max: ArrayLike, wave_elements: ArrayLike, half_k: ArrayLike,
                hbm_byte_s: ArrayLike, bytes_per_element: ArrayLike) -> NDArrayFloat:
    r"""
    Time of an ``(m x k) @ (k x n)`` GEMM: compute at its efficiency, or HBM traffic.

    Parameters
    ----------
    m, n, k : array_like
        Output and inner dimensions [elements].
    peak_flop_s : array_like
        Dense peak of the precision, :math:`P` [FLOP/s].
    efficiency_max, wave_elements, half_k : array_like
        :math:`\eta_{max}` [-], :math:`W` and :math:`k_{1/2}` [elements] of
        :func:`gemm_efficiency`.
    hbm_byte_s : array_like
        Achievable HBM bandwidth, :math:`B_{HBM}` [byte/s].
    bytes_per_element : array_like
        Bytes of one input element, :math:`e` [bytes]; the output is 16-bit
        (FP8 GEMMs write 16-bit results [3]_).

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
           \frac{e\,(m k + k n) + 2\, m n}{B_{HBM}}\right)

    References
    ----------
    .. [1] S. Bekman, "Machine Learning Engineering", "Maximum Achievable Matmul
       FLOPS comparison table" (2024-2025).
    .. [2] S. Williams, A. Waterman, D. Patterson, "Roofline", CACM 52(4), 2009.
    .. [3] NVIDIA Transformer Engine documentation, "Using FP8 with Transformer Engine".
    """
    m, n, k = as_float(m), as_float(n), as_float(k)
    flop = 2.0 * m * n * k
    eta = gemm_efficiency(m, n, k, efficiency_max, wave_elements, half_k)
    compute = flop / (as_float(peak_flop_s) * eta)
    traffic = (as_float(bytes_per_element) * (m * k + k * n) + BYTES_16BIT * m * n) / as_float(
        hbm_byte_s)
    return np.maximum(compute, traffic)


def gemm_time_of(peak_flop_s: ArrayLike, efficiency_max: ArrayLike, wave_elements: ArrayLike,
                 half_k: ArrayLike, hbm_byte_s: ArrayLike, bytes_per_element: ArrayLike
                 ) -> Callable[[ArrayLike, ArrayLike, ArrayLike], NDArrayFloat]:
    """
    :func:`gemm_time_s` with the GPU's and the precision's constants bound.

    Parameters
    ----------
    peak_flop_s, efficiency_max, wave_elements, half_k, hbm_byte_s, bytes_per_element
        As :func:`gemm_time_s` [FLOP/s], [-], [elements], [elements], [byte/s], [bytes].

    Returns
    -------
    callable
        ``gemm(m, n, k)``: the time of one ``(m x k) @ (k x n)`` GEMM [s].

    References
    ----------
    .. [1] :func:`gemm_time_s`.
    """
    def gemm(m: ArrayLike, n: ArrayLike, k: ArrayLike) -> NDArrayFloat:
        return gemm_time_s(m, n, k, peak_flop_s, efficiency_max, wave_elements, half_k,
                           hbm_byte_s, bytes_per_element)

    return gemm
