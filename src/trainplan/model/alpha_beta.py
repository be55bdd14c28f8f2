r"""Alpha-beta (latency-bandwidth) cost of the collective algorithms on one link.

A collective over a group of :math:`g` GPUs moving a buffer of :math:`n` bytes
takes :math:`k\,\alpha + V / \beta` where :math:`k` is its number of steps,
:math:`\alpha` the per-step latency [s], :math:`V` the bytes each GPU sends and
:math:`\beta` the bandwidth of the slowest link the group uses [byte/s] [1]_ [2]_.

This module holds the primitives: the volume a bandwidth-optimal all-reduce and
all-gather send, the time of one algorithm (ring, double binary tree, recursive
halving-doubling) on one link, the two-level (hierarchical) scheme over a
scale-up domain and the NICs, and a point-to-point send. Which algorithm each
row runs, and on which link, is :mod:`trainplan.model.collectives`.

References
----------
.. [1] R. Thakur, R. Rabenseifner, W. Gropp, "Optimization of Collective
   Communication Operations in MPICH", IJHPCA 19(1), 2005.
.. [2] P. Sanders, J. Speck, J. L. Traeff, "Two-tree algorithms for full
   bandwidth broadcast, reduction and scan", Parallel Computing 35, 2009.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float

__all__ = [
    "allgather_volume_bytes", "allreduce_volume_bytes", "p2p_s", "rhd_allgather_s",
    "rhd_allreduce_s", "ring_allgather_s", "ring_allreduce_s", "tree_allreduce_s", "two_level_s",
]


def _log2(g):
    return np.log2(np.maximum(as_float(g), 1.0))


# --- volumes ------------------------------------------------------------------------------------


def allreduce_volume_bytes(n_bytes: ArrayLike, group_size: ArrayLike) -> NDArrayFloat:
    r"""
    Bytes each GPU sends in a bandwidth-optimal all-reduce.

    Parameters
    ----------
    n_bytes : array_like
        Buffer every member reduces, :math:`n` [bytes].
    group_size : array_like
        Members of the group, :math:`g` [-].

    Returns
    -------
    numpy.ndarray
        Bytes sent per GPU [bytes].

    Notes
    -----
    .. math::

       V = \frac{2 (g - 1)}{g}\, n

    References
    ----------
    .. [1] Thakur, Rabenseifner, Gropp 2005 (see the module references).
    """
    g = as_float(group_size)
    return 2.0 * (g - 1.0) / g * as_float(n_bytes)


def allgather_volume_bytes(n_bytes: ArrayLike, group_size: ArrayLike) -> NDArrayFloat:
    r"""
    Bytes each GPU sends in an all-gather or reduce-scatter of an ``n``-byte buffer.

    Parameters
    ----------
    n_bytes : array_like
        The whole (gathered) buffer, :math:`n` [bytes].
    group_size : array_like
        Members of the group, :math:`g` [-].

    Returns
    -------
    numpy.ndarray
        Bytes sent per GPU [bytes].

    Notes
    -----
    .. math::

       V = \frac{g - 1}{g}\, n

    References
    ----------
    .. [1] Thakur, Rabenseifner, Gropp 2005 (see the module references).
    """
    g = as_float(group_size)
    return (g - 1.0) / g * as_float(n_bytes)


# --- times of one algorithm ---------------------------------------------------------------------

_TIME_PARAMETERS = r"""
    Parameters
    ----------
    n_bytes : array_like
        Buffer every member holds, :math:`n` [bytes].
    group_size : array_like
        Members of the group, :math:`g` [-].
    bandwidth_byte_s : array_like
        Per-GPU bandwidth of the slowest link, :math:`\beta` [byte/s].
    latency_s : array_like
        Latency of one step, :math:`\alpha` [s].

    Returns
    -------
    numpy.ndarray
        Time of the collective [s].
"""


def ring_allreduce_s(n_bytes: ArrayLike, group_size: ArrayLike, bandwidth_byte_s: ArrayLike,
                     latency_s: ArrayLike) -> NDArrayFloat:
    g = as_float(group_size)
    return 2.0 * (g - 1.0) * as_float(latency_s) + allreduce_volume_bytes(n_bytes, g) / as_float(
        bandwidth_byte_s)


def tree_allreduce_s(n_bytes: ArrayLike, group_size: ArrayLike, bandwidth_byte_s: ArrayLike,
                     latency_s: ArrayLike) -> NDArrayFloat:
    g = as_float(group_size)
    t = 2.0 * _log2(g) * as_float(latency_s) + 2.0 * as_float(n_bytes) / as_float(
        bandwidth_byte_s)
    return np.where(g > 1.0, t, 0.0)


def rhd_allreduce_s(n_bytes: ArrayLike, group_size: ArrayLike, bandwidth_byte_s: ArrayLike,
                    latency_s: ArrayLike) -> NDArrayFloat:
    g = as_float(group_size)
    return 2.0 * _log2(g) * as_float(latency_s) + allreduce_volume_bytes(n_bytes, g) / as_float(
        bandwidth_byte_s)


def ring_allgather_s(n_bytes: ArrayLike, group_size: ArrayLike, bandwidth_byte_s: ArrayLike,
                     latency_s: ArrayLike) -> NDArrayFloat:
    g = as_float(group_size)
    return (g - 1.0) * as_float(latency_s) + allgather_volume_bytes(n_bytes, g) / as_float(
        bandwidth_byte_s)


def rhd_allgather_s(n_bytes: ArrayLike, group_size: ArrayLike, bandwidth_byte_s: ArrayLike,
                    latency_s: ArrayLike) -> NDArrayFloat:
    g = as_float(group_size)
    return _log2(g) * as_float(latency_s) + allgather_volume_bytes(n_bytes, g) / as_float(
        bandwidth_byte_s)


ring_allreduce_s.__doc__ = r"""
    Time of a ring all-reduce (reduce-scatter then all-gather around a ring) [1]_.
""" + _TIME_PARAMETERS + r"""
    Notes
    -----
    .. math::

       T = 2 (g - 1)\,\alpha + \frac{2 (g - 1)}{g}\,\frac{n}{\beta}

    References
    ----------
    .. [1] R. Thakur, R. Rabenseifner, W. Gropp, "Optimization of Collective
       Communication Operations in MPICH", IJHPCA 19(1), 2005, Sec. 4.
"""

tree_allreduce_s.__doc__ = r"""
    Time of a double-binary-tree all-reduce (NCCL's tree); zero for a group of one [1]_.
""" + _TIME_PARAMETERS + r"""
    Notes
    -----
    .. math::

       T = 2 \log_2(g)\,\alpha + 2\,\frac{n}{\beta}

    References
    ----------
    .. [1] P. Sanders, J. Speck, J. L. Traeff, "Two-tree algorithms for full
       bandwidth broadcast, reduction and scan", Parallel Computing 35, 2009.
"""

rhd_allreduce_s.__doc__ = r"""
    Time of a recursive halving-doubling (Rabenseifner) all-reduce [1]_.
""" + _TIME_PARAMETERS + r"""
    Notes
    -----
    .. math::

       T = 2 \log_2(g)\,\alpha + \frac{2 (g - 1)}{g}\,\frac{n}{\beta}

    References
    ----------
    .. [1] R. Thakur, R. Rabenseifner, W. Gropp, IJHPCA 19(1), 2005, Sec. 4.
"""

ring_allgather_s.__doc__ = r"""
    Time of a ring all-gather (or reduce-scatter) of an ``n``-byte buffer [1]_.
""" + _TIME_PARAMETERS + r"""
    Notes
    -----
    .. math::

       T = (g - 1)\,\alpha + \frac{g - 1}{g}\,\frac{n}{\beta}

    References
    ----------
    .. [1] R. Thakur, R. Rabenseifner, W. Gropp, IJHPCA 19(1), 2005, Sec. 3.
"""

rhd_allgather_s.__doc__ = r"""
    Time of a recursive-doubling all-gather (or recursive-halving reduce-scatter) [1]_.
""" + _TIME_PARAMETERS + r"""
    Notes
    -----
    .. math::

       T = \log_2(g)\,\alpha + \frac{g - 1}{g}\,\frac{n}{\beta}

    References
    ----------
    .. [1] R. Thakur, R. Rabenseifner, W. Gropp, IJHPCA 19(1), 2005, Sec. 3.
"""


def two_level_s(n_bytes: ArrayLike, members: ArrayLike, domains: ArrayLike,
                intra_byte_s: ArrayLike, nic_byte_s_per_gpu: ArrayLike,
                intra_latency_s: ArrayLike, inter_latency_s: ArrayLike, kind: ArrayLike,
                log_steps: ArrayLike) -> NDArrayFloat:
    r"""
    Time of a two-level collective: inside the domain on ``n``, across domains on ``n/g_in``.

    Parameters
    ----------
    n_bytes : array_like
        Buffer every member holds, :math:`n` [bytes].
    members : array_like
        Members per domain, :math:`g_{in}` [-].
    domains : array_like
        Domains spanned, :math:`g_{out}` [-].
    intra_byte_s : array_like
        Bandwidth inside the domain, :math:`B_{in}` [byte/s].
    nic_byte_s_per_gpu : array_like
        One GPU's share of its node's NICs, :math:`B_{nic}` [byte/s].
    intra_latency_s, inter_latency_s : array_like
        Latency of one step inside and across domains, :math:`\alpha_{in}`,
        :math:`\alpha_{out}` [s].
    kind : array_like
        :math:`k` = 2 for an all-reduce (reduce-scatter + all-gather inside,
        all-reduce across), 1 for an all-gather or reduce-scatter [-].
    log_steps : array_like of bool
        Logarithmic latency terms (recursive halving-doubling) instead of linear
        ones (rings).

    Returns
    -------
    numpy.ndarray
        Time of the collective [s].

    Notes
    -----
    The phases are summed, they do not overlap:

    .. math::

       T = k \frac{g_{in} - 1}{g_{in}} \frac{n}{B_{in}}
         + k \frac{g_{out} - 1}{g_{out}} \frac{n / g_{in}}{B_{nic}}
         + k \left(s(g_{in})\,\alpha_{in} + s(g_{out})\,\alpha_{out}\right)

    with :math:`s(g) = \log_2 g` (``log_steps``) or :math:`g - 1`. The outer phase
    puts :math:`n/g_{in}` per GPU on its own NIC share, as a flat ring over the
    :math:`g_{in}` shares of the domain does
    (:func:`~trainplan.model.topology.flat_bandwidth`); what differs is the inner
    phases, which the flat ring overlaps and this scheme adds.

    References
    ----------
    .. [1] R. Thakur, R. Rabenseifner, W. Gropp, IJHPCA 19(1), 2005.
    """
    gi, go = as_float(members), as_float(domains)
    k = as_float(kind)
    inner = np.where(gi > 1.0, k * (gi - 1.0) / gi * as_float(n_bytes) / as_float(intra_byte_s),
                     0.0)
    outer = np.where(go > 1.0, k * (go - 1.0) / go * (as_float(n_bytes) / gi)
                     / as_float(nic_byte_s_per_gpu), 0.0)
    steps_in = np.where(log_steps, _log2(gi), gi - 1.0)
    steps_out = np.where(log_steps, _log2(go), go - 1.0)
    latency = k * (steps_in * as_float(intra_latency_s) + steps_out * as_float(inter_latency_s))
    return inner + outer + latency


def p2p_s(n_bytes: ArrayLike, bandwidth_byte_s: ArrayLike, latency_s: ArrayLike) -> NDArrayFloat:
    r"""
    Time of a point-to-point send; zero for no bytes.

    Parameters
    ----------
    n_bytes : array_like
        Bytes sent, :math:`n` [bytes].
    bandwidth_byte_s : array_like
        Bandwidth of the link, :math:`\beta` [byte/s].
    latency_s : array_like
        Latency of the link, :math:`\alpha` [s].

    Returns
    -------
    numpy.ndarray
        Time [s].

    Notes
    -----
    .. math::

       T = \alpha + \frac{n}{\beta} \quad (n > 0)

    References
    ----------
    .. [1] R. Thakur, R. Rabenseifner, W. Gropp, IJHPCA 19(1), 2005, Sec. 2.
    """
    n = as_float(n_bytes)
    return np.where(n > 0.0, as_float(latency_s) + n / as_float(bandwidth_byte_s), 0.0)
