"""Collective communication time from an alpha-beta (latency-bandwidth) model.

A collective over a group of ``g`` GPUs moving a buffer of ``n`` bytes takes
``steps * alpha + volume / beta`` where ``alpha`` is the per-step latency [s]
and ``beta`` the bandwidth of the slowest link the group uses [byte/s] [1] [2].

Where the group sits decides ``beta``: ``g_in`` members share one scale-up
domain (NVLink / NVSwitch, Infinity Fabric) and the group spans ``g_out``
domains. A group inside one domain runs on the scale-up link. A group that
crosses domains is limited by the scale-out network: each GPU's share of its
node's NICs. The hierarchical scheme moves only ``1/g_in`` of the buffer across
domains per GPU, which is how it uses all the NICs of a node for one
collective [3].

``algorithm`` codes: 0 ring, 1 tree (double binary tree), 2 recursive
halving-doubling (Rabenseifner), 3 hierarchical two-level (reduce-scatter
inside the domain, all-reduce across domains on ``1/g_in`` of the data,
all-gather inside; the phases add up, they do not overlap).

References
----------
.. [1] R. Thakur, R. Rabenseifner, W. Gropp, "Optimization of Collective
   Communication Operations in MPICH", IJHPCA 19(1), 2005: ring all-reduce
   ``2(g-1) alpha + 2 (g-1)/g n beta^-1``; recursive halving-doubling
   ``2 log2(g) alpha + 2 (g-1)/g n beta^-1``; ring all-gather and
   reduce-scatter ``(g-1) alpha + (g-1)/g n beta^-1``.
.. [2] P. Sanders, J. Speck, J. L. Traeff, "Two-tree algorithms for full
   bandwidth broadcast, reduction and scan", Parallel Computing 35, 2009
   (NCCL's double binary tree): ``2 log2(g) alpha + 2 n beta^-1``.
.. [3] NVIDIA NCCL documentation and nccl-tests ``PERFORMANCE.md`` (bus
   bandwidth; multi-node rings use one NIC per channel, so a node's NICs work
   in parallel).
"""

from __future__ import annotations

import numpy as np

RING, TREE, RHD, HIERARCHICAL = 0, 1, 2, 3
ALGORITHM_NAMES = {"ring": RING, "tree": TREE, "rhd": RHD, "hierarchical": HIERARCHICAL}


def _f(x):
    return np.asarray(x, dtype=np.float64)


def _log2(g):
    return np.log2(np.maximum(_f(g), 1.0))


# --- where a group sits -------------------------------------------------------------------------


def members_per_domain(group_size, stride, domain_gpus):
    """Members of a parallel group inside one scale-up domain [1].

    Ranks are laid out with the tensor-parallel index fastest, then context,
    data and pipeline (Megatron-LM order), so consecutive members of a group
    are ``stride`` ranks apart (``stride`` = product of the degrees inside
    it). ``min(g, max(1, floor(D / stride)))`` for a domain of ``D`` GPUs.
    """
    g, stride, d = _f(group_size), _f(stride), _f(domain_gpus)
    return np.minimum(g, np.maximum(1.0, np.floor(d / stride)))


def domains_spanned(group_size, stride, domain_gpus):
    """Scale-up domains a parallel group spans: ``ceil(g / g_in)`` [1]."""
    return np.ceil(_f(group_size) / members_per_domain(group_size, stride, domain_gpus))


def intra_domain_bandwidth(members, scaleup_byte_s, peer_byte_s, mesh):
    """Per-GPU bandwidth of a group of ``members`` GPUs inside one domain [byte/s].

    A switched fabric (NVSwitch) gives every GPU its full link bandwidth to
    any peer; a point-to-point mesh (MI300X Infinity Fabric) gives at most
    ``(members - 1)`` peer links [3].
    """
    mesh_bw = _f(peer_byte_s) * np.maximum(_f(members) - 1.0, 1.0)
    return np.where(mesh, np.minimum(_f(scaleup_byte_s), mesh_bw), _f(scaleup_byte_s))


def flat_bandwidth(members, domains, intra_byte_s, nic_byte_s_per_gpu):
    """Bandwidth of a flat (single-level) collective: the slowest link it crosses [byte/s].

    Inside one domain: the scale-up bandwidth. Across domains: each GPU's
    share of its node's NICs, capped by the scale-up link (a data-parallel
    group across nodes is priced on the per-GPU NIC share). Only the
    hierarchical scheme uses the NICs of all ``g_in`` members for one buffer.
    """
    across = np.minimum(_f(intra_byte_s), _f(nic_byte_s_per_gpu))
    del members
    return np.where(_f(domains) > 1.0, across, _f(intra_byte_s))


# --- volumes ------------------------------------------------------------------------------------


def allreduce_volume_bytes(n_bytes, group_size):
    """Bytes each GPU sends in a bandwidth-optimal all-reduce: ``2 (g-1)/g n`` [1]."""
    g = _f(group_size)
    return 2.0 * (g - 1.0) / g * _f(n_bytes)


def allgather_volume_bytes(n_bytes, group_size):
    """Bytes each GPU sends in an all-gather or reduce-scatter of an ``n``-byte buffer:
    ``(g-1)/g n`` [1]."""
    g = _f(group_size)
    return (g - 1.0) / g * _f(n_bytes)


# --- times --------------------------------------------------------------------------------------


def ring_allreduce_s(n_bytes, group_size, bandwidth_byte_s, latency_s):
    """Ring all-reduce ``2(g-1) alpha + 2(g-1)/g n / beta`` [s] [1]."""
    g = _f(group_size)
    return 2.0 * (g - 1.0) * _f(latency_s) + allreduce_volume_bytes(n_bytes, g) / _f(
        bandwidth_byte_s)


def tree_allreduce_s(n_bytes, group_size, bandwidth_byte_s, latency_s):
    """Double-binary-tree all-reduce ``2 log2(g) alpha + 2 n / beta`` [s] [2] (0 for g = 1)."""
    g = _f(group_size)
    t = 2.0 * _log2(g) * _f(latency_s) + 2.0 * _f(n_bytes) / _f(bandwidth_byte_s)
    return np.where(g > 1.0, t, 0.0)


def rhd_allreduce_s(n_bytes, group_size, bandwidth_byte_s, latency_s):
    """Recursive halving-doubling all-reduce ``2 log2(g) alpha + 2(g-1)/g n / beta`` [s] [1]."""
    g = _f(group_size)
    return 2.0 * _log2(g) * _f(latency_s) + allreduce_volume_bytes(n_bytes, g) / _f(
        bandwidth_byte_s)


def ring_allgather_s(n_bytes, group_size, bandwidth_byte_s, latency_s):
    """Ring all-gather (or reduce-scatter) ``(g-1) alpha + (g-1)/g n / beta`` [s] [1]."""
    g = _f(group_size)
    return (g - 1.0) * _f(latency_s) + allgather_volume_bytes(n_bytes, g) / _f(bandwidth_byte_s)


def rhd_allgather_s(n_bytes, group_size, bandwidth_byte_s, latency_s):
    """Recursive-doubling all-gather ``log2(g) alpha + (g-1)/g n / beta`` [s] [1]."""
    g = _f(group_size)
    return _log2(g) * _f(latency_s) + allgather_volume_bytes(n_bytes, g) / _f(bandwidth_byte_s)


def two_level_s(n_bytes, members, domains, intra_byte_s, nic_byte_s_per_gpu, intra_latency_s,
                inter_latency_s, kind, log_steps):
    """Two-level collective: inside the domain on ``n``, across domains on ``n/g_in`` [s].

    ``kind`` 2.0 for all-reduce (reduce-scatter + all-gather inside, all-reduce
    across), 1.0 for all-gather / reduce-scatter. With ``log_steps`` the
    latency terms are logarithmic (recursive halving-doubling), otherwise
    linear (rings). The phases are summed [1].
    """
    gi, go = _f(members), _f(domains)
    k = _f(kind)
    inner = np.where(gi > 1.0, k * (gi - 1.0) / gi * _f(n_bytes) / _f(intra_byte_s), 0.0)
    outer = np.where(go > 1.0, k * (go - 1.0) / go * (_f(n_bytes) / gi)
                     / _f(nic_byte_s_per_gpu), 0.0)
    steps_in = np.where(log_steps, _log2(gi), gi - 1.0)
    steps_out = np.where(log_steps, _log2(go), go - 1.0)
    latency = k * (steps_in * _f(intra_latency_s) + steps_out * _f(inter_latency_s))
    return inner + outer + latency


def allreduce_s(algorithm, n_bytes, group_size, members, domains, intra_byte_s,
                nic_byte_s_per_gpu, intra_latency_s, inter_latency_s):
    """All-reduce time for ``algorithm`` (0 ring, 1 tree, 2 RHD, 3 hierarchical) [s].

    Zero for a group of one. Flat algorithms run at the bandwidth of the
    slowest link (:func:`flat_bandwidth`) with the latency of the slowest hop;
    RHD over several domains takes its near partners first, so its large
    steps stay inside the domain (bandwidth as the two-level scheme, latency
    logarithmic).
    """
    alg = np.asarray(algorithm)
    g = _f(group_size)
    spans = _f(domains) > 1.0
    bw = flat_bandwidth(members, domains, intra_byte_s, nic_byte_s_per_gpu)
    lat = np.where(spans, _f(inter_latency_s), _f(intra_latency_s))
    ring = ring_allreduce_s(n_bytes, g, bw, lat)
    tree = tree_allreduce_s(n_bytes, g, bw, lat)
    rhd_flat = rhd_allreduce_s(n_bytes, g, bw, lat)
    two_level_log = two_level_s(n_bytes, members, domains, intra_byte_s, nic_byte_s_per_gpu,
                                intra_latency_s, inter_latency_s, 2.0, True)
    hier = two_level_s(n_bytes, members, domains, intra_byte_s, nic_byte_s_per_gpu,
                       intra_latency_s, inter_latency_s, 2.0, False)
    rhd = np.where(spans, two_level_log, rhd_flat)
    t = np.where(alg == TREE, tree, np.where(alg == RHD, rhd,
                                             np.where(alg == HIERARCHICAL, hier, ring)))
    return np.where(g > 1.0, t, 0.0)


def allgather_s(algorithm, n_bytes, group_size, members, domains, intra_byte_s,
                nic_byte_s_per_gpu, intra_latency_s, inter_latency_s):
    """All-gather or reduce-scatter time for ``algorithm`` [s].

    Trees do not apply to all-gather; a tree request runs as a ring (NCCL does
    the same). Zero for a group of one.
    """
    alg = np.asarray(algorithm)
    g = _f(group_size)
    spans = _f(domains) > 1.0
    bw = flat_bandwidth(members, domains, intra_byte_s, nic_byte_s_per_gpu)
    lat = np.where(spans, _f(inter_latency_s), _f(intra_latency_s))
    ring = ring_allgather_s(n_bytes, g, bw, lat)
    rhd_flat = rhd_allgather_s(n_bytes, g, bw, lat)
    two_level_log = two_level_s(n_bytes, members, domains, intra_byte_s, nic_byte_s_per_gpu,
                                intra_latency_s, inter_latency_s, 1.0, True)
    hier = two_level_s(n_bytes, members, domains, intra_byte_s, nic_byte_s_per_gpu,
                       intra_latency_s, inter_latency_s, 1.0, False)
    rhd = np.where(spans, two_level_log, rhd_flat)
    t = np.where(alg == RHD, rhd, np.where(alg == HIERARCHICAL, hier, ring))
    return np.where(g > 1.0, t, 0.0)


def p2p_s(n_bytes, bandwidth_byte_s, latency_s):
    """Point-to-point send of ``n`` bytes: ``alpha + n / beta`` [s] [1]; zero for no bytes."""
    n = _f(n_bytes)
    return np.where(n > 0.0, _f(latency_s) + n / _f(bandwidth_byte_s), 0.0)
