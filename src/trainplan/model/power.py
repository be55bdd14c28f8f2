r"""Compute clocks under a power limit below the GPU's rated board power.

A GPU capped below its TDP (``nvidia-smi -pl``) lowers its SM clock until the board
draws no more than the cap. Dynamic CMOS power is :math:`P = \alpha C V^2 f` and in the
DVFS range the voltage scales with the clock, so dynamic power grows as :math:`f^3` [1]_;
the static part (leakage, memory, fans) does not scale [2]_.

References
----------
.. [1] N. S. Kim et al., "Leakage Current: Moore's Law Meets Static Power", IEEE Computer
   36(12), 2003 (dynamic power :math:`\propto C V^2 f`, static power from leakage).
.. [2] A. Ujeniya, G. Hager, G. Wellein, J. Eitzinger, "Architectural Trade-offs in the
   Energy-Efficient Era: A Comparative Study of power-capping NVIDIA H100 and H200",
   arXiv:2604.11391, 2026 (SM frequency and DGEMM throughput fall with the power cap).
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float

__all__ = ["capped_clock_fraction"]


def capped_clock_fraction(power_limit_w: ArrayLike, tdp_w: ArrayLike,
                          static_power_fraction: ArrayLike) -> NDArrayFloat:
    r"""
    SM clock under a power limit, as a fraction of the clock at the rated power.

    Parameters
    ----------
    power_limit_w : array_like
        Board power limit, :math:`P_{cap}` [W]; NaN or at least the TDP: no limit.
    tdp_w : array_like
        Rated board power, :math:`P_{TDP}` [W].
    static_power_fraction : array_like
        Share of the rated power that does not scale with the clock, :math:`s` [-].

    Returns
    -------
    numpy.ndarray
        :math:`f / f_{TDP}` in (0, 1] [-]; 1 without a limit below the TDP.

    Notes
    -----
    .. math::

       \frac{f}{f_{TDP}} = \left(\frac{P_{cap} - s P_{TDP}}{(1 - s) P_{TDP}}\right)^{1/3}

    clipped to (0, 1]. An H100 (700 W) capped at 500 W with :math:`s = 0.3` runs at 0.84 of
    its clock.

    References
    ----------
    .. [1] N. S. Kim et al., IEEE Computer 36(12), 2003.
    """
    cap, tdp, s = as_float(power_limit_w), as_float(tdp_w), as_float(static_power_fraction)
    dynamic = (np.where(np.isnan(cap), tdp, cap) - s * tdp) / ((1.0 - s) * tdp)
    return np.clip(np.cbrt(np.maximum(dynamic, 1e-6)), 1e-2, 1.0)
