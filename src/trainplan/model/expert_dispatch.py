r"""Token dispatch and combine of mixture-of-experts layers over the expert-parallel group.

An all-to-all priced on the links the group spans: NCCL's, in which every routed copy
travels on its own, or a deduplicating one (DeepEP) that sends a token once per remote
scale-up domain over the NICs and forwards it over NVLink; per layer and micro-batch.

References
----------
.. [1] NVIDIA Megatron-Core MoE README (token dispatchers, parallel folding).
.. [2] DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437, Sec. 3.2.2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.config import Architecture, Layout, Links
from trainplan.model.moe_recompute import moe_block_recomputed
from trainplan.model.moe_step import routed_copy_bytes
from trainplan.model.topology import place_group


def alltoall_s(n_bytes: ArrayLike, group_size: ArrayLike, members: ArrayLike,
               intra_byte_s: ArrayLike, nic_byte_s_per_gpu: ArrayLike, latency_in_s: ArrayLike,
               latency_out_s: ArrayLike) -> NDArrayFloat:
    r"""
    Time of an all-to-all in which each GPU exchanges ``n_bytes`` with the group.

    Parameters
    ----------
    n_bytes : array_like
        Bytes one GPU holds for the whole group (its share for itself included),
        :math:`n` [bytes].
    group_size : array_like
        :math:`g` [-].
    members : array_like
        Members in the GPU's scale-up domain, :math:`g_{in}` [-].
    intra_byte_s, nic_byte_s_per_gpu : array_like
        In-domain bandwidth and the GPU's NIC bandwidth [byte/s].
    latency_in_s, latency_out_s : array_like
        One step inside and across domains [s].

    Returns
    -------
    numpy.ndarray
        Time [s]; 0 when :math:`g = 1`.

    Notes
    -----
    Each GPU sends :math:`n/g` to every peer; :math:`g_{in} - 1` peers are in its domain and
    :math:`g - g_{in}` outside, reached over its own NICs (rail-optimised fabric). The two
    parts run at once:

    .. math::

       t = \max\left(\frac{n (g_{in} - 1)}{g\, B_{in}}, \frac{n (g - g_{in})}{g\, B_{nic}}
           \right) + \alpha

    with :math:`\alpha` the cross-domain latency when the group leaves the domain. NCCL
    posts the pairwise sends of an all-to-all together, so one latency is paid, not
    :math:`g - 1`.

    References
    ----------
    .. [1] NVIDIA NCCL documentation, "Point-to-point communication: all-to-all".
    .. [2] DeepSeek-AI, arXiv:2412.19437, Sec. 3.2.2 (dispatch over InfiniBand across nodes
       and NVLink inside them).
    """
    g, m = as_float(group_size), np.minimum(as_float(members), as_float(group_size))
    n = as_float(n_bytes)
    inside = n * (m - 1.0) / g / as_float(intra_byte_s)
    outside = n * (g - m) / g / as_float(nic_byte_s_per_gpu)
    latency = np.where(g > m, as_float(latency_out_s), as_float(latency_in_s))
    return np.where(g > 1, np.maximum(inside, outside) + latency, 0.0)


def remote_domains_per_token(top_k: ArrayLike, domains: ArrayLike,
                             max_domains: ArrayLike) -> NDArrayFloat:
    r"""
    Scale-up domains other than its own that one token's experts lie in, on average.

    Parameters
    ----------
    top_k : array_like
        Experts per token :math:`k` [-].
    domains : array_like
        Domains the expert-parallel group spans, :math:`D` [-].
    max_domains : array_like
        Group-limited routing: a token's experts lie in at most :math:`M` domains (0: no
        limit) [-].

    Returns
    -------
    numpy.ndarray
        :math:`r = \min\left((D - 1)\left(1 - (1 - 1/D)^k\right),\ M\right)` [-]
        (:math:`M` applies when set).

    Notes
    -----
    With experts chosen uniformly (balanced routing), another domain holds none of a
    token's :math:`k` experts with probability :math:`(1 - 1/D)^k`.

    References
    ----------
    .. [1] DeepSeek-AI, arXiv:2412.19437, Sec. 2.1.2 (node-limited routing: at most
       :math:`M = 4` nodes per token) and Sec. 3.2.2 (one InfiniBand transfer per node,
       forwarded over NVLink).
    """
    k, d, m = as_float(top_k), np.maximum(as_float(domains), 1.0), as_float(max_domains)
    expected = (d - 1.0) * (1.0 - (1.0 - 1.0 / d) ** k)
    return np.where(m > 0, np.minimum(expected, m), expected)


def hierarchical_alltoall_s(token_bytes: ArrayLike, top_k: ArrayLike, group_size: ArrayLike,
                            members: ArrayLike, remote_domains: ArrayLike,
                            intra_byte_s: ArrayLike, nic_byte_s_per_gpu: ArrayLike,
                            latency_in_s: ArrayLike, latency_out_s: ArrayLike) -> NDArrayFloat:
    r"""
    Time of a deduplicating dispatch (or combine): one copy per remote domain on the NICs.

    Parameters
    ----------
    token_bytes : array_like
        One copy of the GPU's routed tokens, :math:`n_1 = T h e` [bytes].
    top_k : array_like
        :math:`k` [-].
    group_size, members : array_like
        :math:`g` and the members in the GPU's domain :math:`g_{in}` [-].
    remote_domains : array_like
        :func:`remote_domains_per_token`, :math:`r` [-].
    intra_byte_s, nic_byte_s_per_gpu : array_like
        In-domain and NIC bandwidth [byte/s].
    latency_in_s, latency_out_s : array_like
        Step latencies [s].

    Returns
    -------
    numpy.ndarray
        Time [s]; 0 when :math:`g = 1`.

    Notes
    -----
    A token goes once to each remote domain it needs, over the GPU's own NIC to the GPU of
    the same rank there, which forwards it over the scale-up fabric to the experts in its
    domain (DeepEP's normal kernels):

    .. math::

       t = \max\left(\frac{n_1 (k (g_{in} - 1)/g + r)}{B_{in}},\ \frac{n_1 r}{B_{nic}}\right)
           + \alpha

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437, Sec. 3.2.2.
    .. [2] deepseek-ai/DeepEP README: normal kernels on H800 with CX7 InfiniBand reach
       about 43-58 GB/s of RDMA bandwidth for EP 16-64.
    """
    n1, k, g = as_float(token_bytes), as_float(top_k), as_float(group_size)
    m, r = np.minimum(as_float(members), g), as_float(remote_domains)
    inside = n1 * (k * (m - 1.0) / g + r) / as_float(intra_byte_s)
    outside = n1 * r / as_float(nic_byte_s_per_gpu)
    latency = np.where(g > m, as_float(latency_out_s), as_float(latency_in_s))
    return np.where(g > 1, np.maximum(inside, outside) + latency, 0.0)


@dataclass(frozen=True)
class ExpertComm:
    """The expert-parallel all-to-all of one (average) layer and micro-batch."""

    bytes_per_layer: NDArrayFloat
    """Bytes one GPU sends per layer and micro-batch, forward and backward [bytes]."""
    time_layer_s: NDArrayFloat
    """Their time [s]."""


def expert_dispatch(arch: Architecture, layout: Layout, links: Links) -> ExpertComm:
    r"""
    Token dispatch and combine over the expert-parallel group, per layer and micro-batch.

    Parameters
    ----------
    arch, layout : Architecture, Layout
        The model and its split.
    links : Links
        Scale-up domain, NICs, latencies.

    Returns
    -------
    ExpertComm

    Notes
    -----
    Each MoE layer runs an all-to-all to dispatch the routed copies and one to combine
    them, forward and backward, and again in a recomputed forward (full recomputation of
    a share :math:`\rho` of the layers, or the whole MoE blocks, ``recompute_moe``):
    :math:`n_{a2a} = 4 + 2 ([\text{full}]\,\rho + [\text{moe}])`. Each moves :math:`2 R h` bytes
    (16-bit), of which a share :math:`(ep - 1)/ep` leaves the GPU. The group is
    :math:`ep` ranks of stride :math:`e_t` (Megatron-Core's expert rank order
    ``tp-ep-dp-pp`` with the expert tensor parallelism innermost), so it stays on the
    scale-up domain while :math:`e_t \cdot ep` fits in it:

    .. math::

       t = \phi\, n_{a2a}\, t_{a2a}(2 R h, ep)

    with :math:`t_{a2a}` from :func:`alltoall_s`, or with the
    deduplicating dispatcher (``deepep``) from
    :func:`hierarchical_alltoall_s` with
    :func:`remote_domains_per_token` remote domains per token.

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README ("alltoall" token dispatcher, parallel folding).
    .. [2] DeepSeek-AI, arXiv:2412.19437, Sec. 3.2.2.
    """
    per_a2a = routed_copy_bytes(arch, layout)
    group = place_group(layout.ep, layout.etp, links)
    latencies = (links.latency_in_s, links.latency_out_s)
    flat = alltoall_s(per_a2a, layout.ep, group.members, group.intra_byte_s,
                          links.nic_byte_s_per_gpu, *latencies)
    remote = remote_domains_per_token(arch.top_k, group.domains,
                                          layout.moe_router_group_topk)
    one_copy = per_a2a / np.maximum(arch.top_k, 1.0)
    deduplicated = hierarchical_alltoall_s(one_copy, arch.top_k, layout.ep, group.members,
                                               remote, group.intra_byte_s,
                                               links.nic_byte_s_per_gpu, *latencies)
    time = np.where(layout.moe_deepep, deduplicated, flat)
    count = 4.0 + 2.0 * (layout.full_recompute_share
                         + np.where(moe_block_recomputed(arch, layout), 1.0, 0.0))
    sent = np.where(layout.moe_deepep & (group.domains > 1),
                    one_copy * (remote + arch.top_k * (group.members - 1.0) / layout.ep),
                    per_a2a * (layout.ep - 1.0) / layout.ep)
    return ExpertComm(bytes_per_layer=arch.moe_share * count * sent,
                      time_layer_s=arch.moe_share * count * time)
