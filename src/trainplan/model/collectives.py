r"""Collective time of each row's algorithm, on the link its group spans.

The alpha-beta cost of one algorithm on one link is
:mod:`~trainplan.model.alpha_beta` (:math:`k\,\alpha + V / \beta` [1]_ [2]_);
this module decides which of them each row runs and on which link.

Where the group sits decides :math:`\beta`: :math:`g_{in}` members share one
scale-up domain (NVLink / NVSwitch, Infinity Fabric) and the group spans
:math:`g_{out}` domains. A group inside one domain runs on the scale-up link. A
group that crosses domains is limited by the scale-out network: the
:math:`g_{in}` members of a domain drive one NIC share each
(:func:`~trainplan.model.topology.scaleout_bandwidth`), so a flat ring or tree
gets :math:`\min(B_{in}, g_{in} B_{nic})` and the hierarchical scheme moves
:math:`1/g_{in}` of the buffer per GPU over its own share: both put
:math:`n/g_{in}` on each NIC [3]_. Groups that run at the same time in one
domain share its NICs (each member counts only its own share).

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
from trainplan.model.alpha_beta import (
    allgather_volume_bytes,
    allreduce_volume_bytes,
    p2p_s,
    rhd_allgather_s,
    rhd_allreduce_s,
    ring_allgather_s,
    ring_allreduce_s,
    tree_allreduce_s,
    two_level_s,
)
from trainplan.model.choices import ALGORITHM_NAMES, Algorithm, dispatch
from trainplan.model.topology import flat_bandwidth

__all__ = [
    "ALGORITHM_NAMES", "ALLGATHER_METHODS", "ALLREDUCE_METHODS", "Algorithm", "allgather_s",
    "allgather_volume_bytes", "allreduce_s", "allreduce_volume_bytes", "p2p_s",
    "rhd_allgather_s", "rhd_allreduce_s", "ring_allgather_s", "ring_allreduce_s",
    "tree_allreduce_s", "two_level_s",
]
"""The primitives of :mod:`~trainplan.model.alpha_beta` are re-exported: the model and its
tests reach every collective through this module."""


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
        One GPU's share of its node's NICs [byte/s]; a group uses :math:`g_{in}`
        shares across domains.
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
