r"""Collective communication time from an alpha-beta (latency-bandwidth) model.

A collective over a group of :math:`g` GPUs moving a buffer of :math:`n` bytes
takes :math:`k\,\alpha + V / \beta` where :math:`k` is its number of steps,
:math:`\alpha` the per-step latency [s], :math:`V` the bytes each GPU sends and
:math:`\beta` the bandwidth of the slowest link the group uses [byte/s] [1]_ [2]_.

Where the group sits decides :math:`\beta`: :math:`g_{in}` members share one
scale-up domain (NVLink / NVSwitch, Infinity Fabric) and the group spans
:math:`g_{out}` domains. A group inside one domain runs on the scale-up link. A
group that crosses domains is limited by the scale-out network: each GPU's
share of its node's NICs. The hierarchical scheme moves only :math:`1/g_{in}`
of the buffer across domains per GPU, which is how it uses all the NICs of a
node for one collective [3]_.

The algorithms are :class:`~trainplan.model.choices.Algorithm` codes: ring,
tree (double binary tree), recursive halving-doubling (Rabenseifner) and
hierarchical two-level (reduce-scatter inside the domain, all-reduce across
domains on :math:`1/g_{in}` of the data, all-gather inside; the phases add up,
they do not overlap). :data:`ALLREDUCE_METHODS` and :data:`ALLGATHER_METHODS`
map each code to its time function.

References
----------
.. [1] R. Thakur, R. Rabenseifner, W. Gropp, "Optimization of Collective
   Communication Operations in MPICH", IJHPCA 19(1), 2005.
.. [2] P. Sanders, J. Speck, J. L. Traeff, "Two-tree algorithms for full
   bandwidth broadcast, reduction and scan", Parallel Computing 35, 2009.
.. [3] NVIDIA NCCL documentation and nccl-tests ``PERFORMANCE.md`` (bus
   bandwidth; multi-node rings use one NIC per channel, so a node's NICs work
   in parallel).
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.choices import ALGORITHM_NAMES, Algorithm, dispatch
from trainplan.model.topology import flat_bandwidth

__all__ = [
    "ALGORITHM_NAMES", "ALLGATHER_METHODS", "ALLREDUCE_METHODS", "Algorithm", "allgather_s",
    "allgather_volume_bytes", "allreduce_s", "allreduce_volume_bytes", "p2p_s",
    "rhd_allgather_s", "rhd_allreduce_s", "ring_allgather_s", "ring_allreduce_s",
    "tree_allreduce_s", "two_level_s",
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

    with :math:`s(g) = \log_2 g` (``log_steps``) or :math:`g - 1`.

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


# --- the algorithm registries -------------------------------------------------------------------
# Every registry function takes (n_bytes, group_size, members, domains, intra_byte_s,
# nic_byte_s_per_gpu, intra_latency_s, inter_latency_s, kind, link), ``link`` being the
# (bandwidth, latency) of the slowest link and hop, computed once per allreduce_s/allgather_s
# call: flat algorithms run on it; RHD over several domains takes its near partners first, so
# its large steps stay inside the domain (bandwidth as the two-level scheme, latency
# logarithmic). ``kind`` is 2 for all-reduce, 1 for all-gather.


def _flat_link(members, domains, intra_byte_s, nic_byte_s_per_gpu, intra_latency_s,
               inter_latency_s):
    bw = flat_bandwidth(members, domains, intra_byte_s, nic_byte_s_per_gpu)
    lat = np.where(as_float(domains) > 1.0, as_float(inter_latency_s), as_float(intra_latency_s))
    return bw, lat


def _flat(method):
    def time_s(n, g, members, domains, intra, nic, lat_in, lat_out, kind, link):
        bw, lat = link
        return method(n, as_float(g), bw, lat)
    time_s.__doc__ = f"{method.__name__} on the slowest link of the group."
    return time_s


def _rhd(flat_method):
    def time_s(n, g, members, domains, intra, nic, lat_in, lat_out, kind, link):
        flat = _flat(flat_method)(n, g, members, domains, intra, nic, lat_in, lat_out, kind, link)
        two_level = two_level_s(n, members, domains, intra, nic, lat_in, lat_out, kind, True)
        return np.where(as_float(domains) > 1.0, two_level, flat)
    time_s.__doc__ = "Recursive halving-doubling; two-level with log steps across domains."
    return time_s


def _hierarchical(n, g, members, domains, intra, nic, lat_in, lat_out, kind, link):
    """Two-level rings."""
    return two_level_s(n, members, domains, intra, nic, lat_in, lat_out, kind, False)


ALLREDUCE_METHODS = {
    Algorithm.RING: _flat(ring_allreduce_s),
    Algorithm.TREE: _flat(tree_allreduce_s),
    Algorithm.RHD: _rhd(rhd_allreduce_s),
    Algorithm.HIERARCHICAL: _hierarchical,
}
"""All-reduce time of each :class:`~trainplan.model.choices.Algorithm`."""

ALLGATHER_METHODS = {
    Algorithm.RING: _flat(ring_allgather_s),
    Algorithm.TREE: _flat(ring_allgather_s),   # no tree all-gather: NCCL runs a ring
    Algorithm.RHD: _rhd(rhd_allgather_s),
    Algorithm.HIERARCHICAL: _hierarchical,
}
"""All-gather / reduce-scatter time of each :class:`~trainplan.model.choices.Algorithm`."""

_COLLECTIVE_PARAMETERS = r"""
    Parameters
    ----------
    algorithm : array_like of int
        :class:`~trainplan.model.choices.Algorithm` code per row.
    n_bytes : array_like
        Buffer every member holds, :math:`n` [bytes].
    group_size : array_like
        Members of the group, :math:`g` [-].
    members : array_like
        Members per scale-up domain, :math:`g_{in}` [-].
    domains : array_like
        Domains spanned, :math:`g_{out}` [-].
    intra_byte_s : array_like
        Bandwidth inside the domain [byte/s].
    nic_byte_s_per_gpu : array_like
        One GPU's share of its node's NICs [byte/s].
    intra_latency_s, inter_latency_s : array_like
        Latency of one step inside and across domains [s].

    Returns
    -------
    numpy.ndarray
        Time of the collective [s]; zero for a group of one.

    Raises
    ------
    ValueError
        For an algorithm code without an entry in the registry.
"""


def allreduce_s(algorithm: ArrayLike, n_bytes: ArrayLike, group_size: ArrayLike,
                members: ArrayLike, domains: ArrayLike, intra_byte_s: ArrayLike,
                nic_byte_s_per_gpu: ArrayLike, intra_latency_s: ArrayLike,
                inter_latency_s: ArrayLike) -> NDArrayFloat:
    g = as_float(group_size)
    link = _flat_link(members, domains, intra_byte_s, nic_byte_s_per_gpu, intra_latency_s,
                      inter_latency_s)
    t = dispatch(algorithm, ALLREDUCE_METHODS, n_bytes, g, members, domains, intra_byte_s,
                 nic_byte_s_per_gpu, intra_latency_s, inter_latency_s, 2.0, link)
    return np.where(g > 1.0, t, 0.0)


def allgather_s(algorithm: ArrayLike, n_bytes: ArrayLike, group_size: ArrayLike,
                members: ArrayLike, domains: ArrayLike, intra_byte_s: ArrayLike,
                nic_byte_s_per_gpu: ArrayLike, intra_latency_s: ArrayLike,
                inter_latency_s: ArrayLike) -> NDArrayFloat:
    g = as_float(group_size)
    link = _flat_link(members, domains, intra_byte_s, nic_byte_s_per_gpu, intra_latency_s,
                      inter_latency_s)
    t = dispatch(algorithm, ALLGATHER_METHODS, n_bytes, g, members, domains, intra_byte_s,
                 nic_byte_s_per_gpu, intra_latency_s, inter_latency_s, 1.0, link)
    return np.where(g > 1.0, t, 0.0)


allreduce_s.__doc__ = r"""
    All-reduce time of each row's algorithm (:data:`ALLREDUCE_METHODS`) [1]_ [2]_.
""" + _COLLECTIVE_PARAMETERS + r"""
    Notes
    -----
    Ring: :math:`2 (g - 1)\alpha + 2 \frac{g-1}{g} \frac{n}{\beta}`; tree:
    :math:`2 \log_2(g)\alpha + 2 \frac{n}{\beta}`; RHD:
    :math:`2 \log_2(g)\alpha + 2 \frac{g-1}{g} \frac{n}{\beta}` inside a domain and
    :func:`two_level_s` with logarithmic steps across domains; hierarchical:
    :func:`two_level_s` with ring steps (:math:`k = 2`). Flat algorithms use
    :math:`\beta` from :func:`flat_bandwidth` and the latency of the slowest hop.

    References
    ----------
    .. [1] R. Thakur, R. Rabenseifner, W. Gropp, IJHPCA 19(1), 2005.
    .. [2] P. Sanders, J. Speck, J. L. Traeff, Parallel Computing 35, 2009.
"""

allgather_s.__doc__ = r"""
    All-gather or reduce-scatter time of each row's algorithm (:data:`ALLGATHER_METHODS`) [1]_.

    Trees do not apply to all-gather; a tree request runs as a ring (NCCL does the same).
""" + _COLLECTIVE_PARAMETERS + r"""
    Notes
    -----
    Ring: :math:`(g - 1)\alpha + \frac{g-1}{g} \frac{n}{\beta}`; RHD:
    :math:`\log_2(g)\alpha + \frac{g-1}{g} \frac{n}{\beta}` inside a domain and
    :func:`two_level_s` with logarithmic steps across domains; hierarchical:
    :func:`two_level_s` with ring steps (:math:`k = 1`).

    References
    ----------
    .. [1] R. Thakur, R. Rabenseifner, W. Gropp, IJHPCA 19(1), 2005.
"""


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
