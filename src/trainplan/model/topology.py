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

    Consecutive members are ``stride`` ranks apart (Megatron-LM order) [1]_.

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


def flat_bandwidth(members: ArrayLike, domains: ArrayLike, intra_byte_s: ArrayLike,
                   nic_byte_s_per_gpu: ArrayLike) -> NDArrayFloat:
    r"""
    Bandwidth of a flat (single-level) collective: the slowest link it crosses.

    Inside one domain: the scale-up bandwidth. Across domains: each GPU's share
    of its node's NICs, capped by the scale-up link. Only the hierarchical
    scheme uses the NICs of all :math:`g_{in}` members for one buffer.

    Parameters
    ----------
    members : array_like
        Members per domain (unused; kept for a uniform signature) [-].
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

       \beta = \begin{cases} \min(B_{in}, B_{nic}) & g_{out} > 1 \\ B_{in} & g_{out} = 1
               \end{cases}

    References
    ----------
    .. [1] NVIDIA nccl-tests ``PERFORMANCE.md`` (bus bandwidth: a flat ring runs at the
       speed of its slowest link).
    """
    across = np.minimum(as_float(intra_byte_s), as_float(nic_byte_s_per_gpu))
    del members
    return np.where(as_float(domains) > 1.0, across, as_float(intra_byte_s))



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
