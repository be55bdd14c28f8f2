r"""Where a parallel group sits: scale-up domains, members per domain, the link it runs on.

Ranks are laid out with the tensor-parallel index fastest, then context, data
and pipeline (Megatron-LM order) [1]_, so consecutive members of a group are
``stride`` ranks apart (the product of the degrees laid out inside it).

References
----------
.. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on
   GPU Clusters Using Megatron-LM", SC21, arXiv:2104.04473, Sec. 3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.config import Links


def members_per_domain(group_size: ArrayLike, stride: ArrayLike,
                       domain_gpus: ArrayLike) -> NDArrayFloat:
    r"""
    Members of a parallel group inside one scale-up domain.

    Consecutive members are ``stride`` ranks apart (Megatron-LM order) [1]_. The
    domain is the NVLink (Infinity Fabric) domain, not the node: an NVL72 rack is
    one domain of 72 GPUs over 18 nodes of 4, so a group whose ranks lie within
    72 consecutive ones stays on NVLink there. A group that fits in a domain is
    taken to be placed inside one (a launcher fills a domain with whole groups;
    a 16-way group on NVL72 uses 64 of its 72 GPUs rather than straddle two racks).

    Parameters
    ----------
    group_size : array_like
        Members of the group, :math:`g` [-].
    stride : array_like
        Product of the parallel degrees laid out inside the group, :math:`S` [-].
    domain_gpus : array_like
        GPUs of one scale-up domain, :math:`D` [-].

    Returns
    -------
    numpy.ndarray
        Members per domain, :math:`g_{in}` [-].

    Notes
    -----
    .. math::

       g_{in} = \min\left(g, \max\left(1, \lfloor D / S \rfloor\right)\right)

    References
    ----------
    .. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU
       Clusters Using Megatron-LM", SC21, arXiv:2104.04473, Sec. 3 (rank order).
    """
    g, stride, d = as_float(group_size), as_float(stride), as_float(domain_gpus)
    return np.minimum(g, np.maximum(1.0, np.floor(d / stride)))


def domains_spanned(group_size: ArrayLike, stride: ArrayLike,
                    domain_gpus: ArrayLike) -> NDArrayFloat:
    r"""
    Scale-up domains a parallel group spans.

    Parameters
    ----------
    group_size : array_like
        Members of the group, :math:`g` [-].
    stride : array_like
        Product of the parallel degrees laid out inside the group [-].
    domain_gpus : array_like
        GPUs of one scale-up domain [-].

    Returns
    -------
    numpy.ndarray
        Domains spanned, :math:`g_{out}` [-].

    Notes
    -----
    .. math::

       g_{out} = \lceil g / g_{in} \rceil

    with :math:`g_{in}` from :func:`members_per_domain`.

    References
    ----------
    .. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU
       Clusters Using Megatron-LM", SC21, arXiv:2104.04473, Sec. 3 (rank order).
    """
    return np.ceil(as_float(group_size) / members_per_domain(group_size, stride, domain_gpus))


def intra_domain_bandwidth(members: ArrayLike, scaleup_byte_s: ArrayLike, peer_byte_s: ArrayLike,
                           mesh: ArrayLike) -> NDArrayFloat:
    r"""
    Per-GPU bandwidth of a group of GPUs inside one scale-up domain.

    A switched fabric (NVSwitch) gives every GPU its full link bandwidth to any
    peer; a point-to-point mesh (MI300X Infinity Fabric) gives at most
    :math:`g_{in} - 1` peer links [1]_.

    Parameters
    ----------
    members : array_like
        Members of the group inside the domain, :math:`g_{in}` [-].
    scaleup_byte_s : array_like
        Scale-up bandwidth of one GPU, :math:`B_{up}` [byte/s].
    peer_byte_s : array_like
        Bandwidth of one peer link of a mesh, :math:`B_{peer}` [byte/s].
    mesh : array_like of bool
        The domain is a point-to-point mesh rather than a switch.

    Returns
    -------
    numpy.ndarray
        Bandwidth [byte/s].

    Notes
    -----
    .. math::

       B = \begin{cases} \min\left(B_{up}, B_{peer} \max(g_{in} - 1, 1)\right) & \text{mesh} \\
           B_{up} & \text{switch} \end{cases}

    References
    ----------
    .. [1] AMD, "AMD Instinct MI300X" data sheet (seven 64 GB/s Infinity Fabric
       links per GPU in a fully connected 8-GPU mesh).
    """
    mesh_bw = as_float(peer_byte_s) * np.maximum(as_float(members) - 1.0, 1.0)
    return np.where(mesh, np.minimum(as_float(scaleup_byte_s), mesh_bw), as_float(scaleup_byte_s))


def scaleout_bandwidth(members: ArrayLike, nic_byte_s_per_gpu: ArrayLike) -> NDArrayFloat:
    r"""
    NIC bandwidth a group has across domains: its members in one domain drive one NIC share each.

    NCCL gives every channel of a multi-node ring or tree its own NIC on
    rail-optimised nodes, so a group with :math:`g_{in}` members in a scale-up
    domain moves its cross-domain traffic over :math:`g_{in}` NIC shares at once
    (data reaches a member's NIC over the scale-up fabric) [1]_ [2]_. Each member
    counts only its own share, :math:`B_{nic}` (the node's NICs over its GPUs): the
    groups that run at the same time in one domain partition its GPUs, so together
    they never get more than the domain's NICs (8 data-parallel groups of one
    member per node beside 8-way tensor parallelism get one share each).

    Parameters
    ----------
    members : array_like
        Members of the group in one scale-up domain, :math:`g_{in}` [-].
    nic_byte_s_per_gpu : array_like
        One GPU's share of its node's NICs, :math:`B_{nic}` [byte/s].

    Returns
    -------
    numpy.ndarray
        Cross-domain bandwidth of the group, per member of the ring [byte/s].

    Notes
    -----
    .. math::

       B_{out} = g_{in}\,B_{nic} \le D\,B_{nic}

    with :math:`D` the GPUs of a domain (:math:`g_{in} \le D`): never more than
    the NICs the domain holds. No constant is fitted: with the NIC efficiency of
    the inputs (``scaleout_efficiency``) the nccl-tests all-reduce bus
    bandwidths of 4 B200 nodes (EFA), 3 GB200 NVL4 / NVL8 partitions
    (InfiniBand) and DGX A100 nodes come out within 5 %
    (``tests/data/nccl_busbw.csv``).

    References
    ----------
    .. [1] NVIDIA nccl-tests ``doc/PERFORMANCE.md`` (bus bandwidth) and NCCL
       environment documentation (``NCCL_CROSS_NIC``: rings use one NIC per channel
       on rail-optimised nodes).
    .. [2] NVIDIA/nccl issue #812 (maintainer comment, 2023-03-31): 192 GB/s
       all-reduce bus bandwidth on DGX A100 nodes with 8 x 200 Gb/s NICs, i.e. all
       8 NICs at once.
    """
    return np.maximum(as_float(members), 1.0) * as_float(nic_byte_s_per_gpu)


def flat_bandwidth(members: ArrayLike, domains: ArrayLike, intra_byte_s: ArrayLike,
                   nic_byte_s_per_gpu: ArrayLike) -> NDArrayFloat:
    r"""
    Bandwidth of a flat (single-level) ring or tree: the slowest link it crosses.

    Inside one domain: the scale-up bandwidth (NICs play no part). Across
    domains: the :math:`g_{in}` NIC shares of the members of one domain
    (:func:`scaleout_bandwidth`), capped by the scale-up link. A ring over
    :math:`g_{out}` domains crosses each domain boundary once per channel; with
    one NIC per channel the :math:`2 (g-1)/g\,n` bytes that leave a domain
    spread over :math:`g_{in}` NICs, the same :math:`n/g_{in}` per NIC as the
    hierarchical scheme (:func:`~trainplan.model.alpha_beta.two_level_s`).

    Parameters
    ----------
    members : array_like
        Members per domain, :math:`g_{in}` [-].
    domains : array_like
        Domains the group spans, :math:`g_{out}` [-].
    intra_byte_s : array_like
        Bandwidth inside the domain, :math:`B_{in}` [byte/s].
    nic_byte_s_per_gpu : array_like
        One GPU's share of its node's NICs, :math:`B_{nic}` [byte/s].

    Returns
    -------
    numpy.ndarray
        Bandwidth :math:`\beta` [byte/s].

    Notes
    -----
    .. math::

       \beta = \begin{cases} \min(B_{in}, g_{in} B_{nic}) & g_{out} > 1 \\
               B_{in} & g_{out} = 1 \end{cases}

    References
    ----------
    .. [1] NVIDIA nccl-tests ``PERFORMANCE.md`` (bus bandwidth: a flat ring runs at the
       speed of its slowest link; multi-node rings use one NIC per channel).
    """
    across = np.minimum(as_float(intra_byte_s), scaleout_bandwidth(members, nic_byte_s_per_gpu))
    return np.where(as_float(domains) > 1.0, across, as_float(intra_byte_s))


def pipeline_hop_bandwidth(pp: ArrayLike, stage_stride: ArrayLike, links: Links
                           ) -> tuple[NDArrayFloat, NDArrayFloat]:
    r"""
    Bandwidth and latency of the slowest hop between adjacent pipeline stages.

    Stage :math:`j` holds ranks :math:`[jS, (j+1)S)`; every rank sends its
    slice of the activations to the rank :math:`S` ahead. All hops run at once
    and the slowest sets the pace. A hop inside one scale-up domain (a whole
    NVL72 rack included) is on the scale-up link (one peer link of a mesh); as
    soon as the pipeline leaves a domain, some hop crosses it, on the sending
    GPU's own NIC share (every GPU of the stage sends at the same time, so no
    GPU has more than its share) [1]_.

    Parameters
    ----------
    pp : array_like
        Pipeline stages, :math:`p` [-].
    stage_stride : array_like
        Ranks per stage, :math:`S = t\,c\,d` [-].
    links : Links
        Domain size :math:`D`, scale-up, peer-link and per-GPU NIC bandwidths,
        latencies.

    Returns
    -------
    tuple of numpy.ndarray
        Bandwidth [byte/s] and latency [s] of the slowest hop.

    Notes
    -----
    A hop crosses a domain boundary iff the pipeline does not fit in one domain,
    :math:`g_{out} > 1` (:func:`domains_spanned`, i.e. :math:`p S > D`):

    .. math::

       \beta = \begin{cases} B_{nic} & g_{out} > 1 \\
                B_{peer} \text{ (mesh) or } B_{up} & g_{out} = 1 \end{cases}

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 3 and 4.1 (rank order,
       scatter/gather of the pipeline sends over the NICs of a stage).
    """
    cross = domains_spanned(pp, stage_stride, links.domain_gpus) > 1.0
    inside = np.where(links.mesh, links.peer_byte_s, links.scaleup_byte_s)
    return (np.where(cross, links.nic_byte_s_per_gpu, inside),
            np.where(cross, links.latency_out_s, links.latency_in_s))


@dataclass(frozen=True)
class Group:
    """A parallel group placed on the domains."""

    members: NDArrayFloat
    """Members per scale-up domain, :math:`g_{in}` [-]."""
    domains: NDArrayFloat
    """Domains spanned, :math:`g_{out}` [-]."""
    intra_byte_s: NDArrayFloat
    """Per-GPU bandwidth inside a domain [byte/s]."""


def place_group(group_size: ArrayLike, stride: ArrayLike, links: Links) -> Group:
    r"""
    Place a parallel group on the scale-up domains: members per domain, domains, bandwidth.

    Parameters
    ----------
    group_size : array_like
        Members of the group, :math:`g` [-].
    stride : array_like
        Product of the parallel degrees laid out inside the group, :math:`S` [-].
    links : Links
        Domain size, scale-up and peer-link bandwidths, mesh or switch.

    Returns
    -------
    Group
        :math:`g_{in}` (:func:`members_per_domain`), :math:`g_{out}`
        (:func:`domains_spanned`) and the in-domain bandwidth
        (:func:`intra_domain_bandwidth`).

    References
    ----------
    .. [1] D. Narayanan et al., SC21, arXiv:2104.04473, Sec. 3 (rank order).
    """
    members = members_per_domain(group_size, stride, links.domain_gpus)
    domains = domains_spanned(group_size, stride, links.domain_gpus)
    intra = intra_domain_bandwidth(members, links.scaleup_byte_s, links.peer_byte_s, links.mesh)
    return Group(members, domains, intra)
