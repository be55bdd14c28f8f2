r"""Mixture-of-experts layers and attention variants in the step model.

The dense step model counts a layer as attention with :math:`h/a`-wide heads and an MLP of
width :math:`f`. This module gives what changes when a model has experts, wider heads or
multi-head latent attention (MLA), as broadcasting functions: every one returns the dense
value (or zero extra) for a dense model, so dense results do not move.

An MoE layer replaces the MLP by a router, :math:`E` routed experts of width :math:`f_e`
of which each token uses :math:`k`, and shared experts of total width :math:`f_s` that
every token uses [1]_. Per token its FLOPs are those of a dense MLP of width
:math:`k f_e + f_s`; what differs is where the weights live (split over the
expert-parallel group, :math:`ep` GPUs), the shapes of the expert GEMMs (one grouped GEMM
over the :math:`E/ep` local experts), the token dispatch and combine (all-to-all over the
expert-parallel group) and the routed copies of the activations.

Layers with and without experts are averaged over the model: a stage of :math:`L_s` layers
holds :math:`\phi L_s` MoE layers, :math:`\phi = L_m / L` (:func:`moe_layer_share`). The
first stage of DeepSeek-V3, which holds the three dense layers, is priced as an average
stage (an upper bound on its expert memory).

References
----------
.. [1] D. Dai et al., "DeepSeekMoE", arXiv:2401.06066; DeepSeek-AI, "DeepSeek-V3 Technical
   Report", arXiv:2412.19437, Sec. 2 and 3.
.. [2] NVIDIA Megatron-Core, "Mixture of Experts package" (``megatron/core/transformer/moe``
   README): expert parallelism, expert tensor parallelism, grouped GEMM, token dispatchers.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.moe_params import (
    expert_params,
    gqa_attention_params,
    mla_attention_params,
    moe_layer_count,
)

GROUPED_GEMM_TILE_ROWS = 128.0
"""Rows of one grouped-GEMM tile: each expert's token rows are padded up to a multiple of it
[rows]. Source: CUTLASS grouped GEMM and Transformer Engine's ``GroupedLinear`` tile with
128 rows on Hopper and Blackwell; Megatron-Core pads each expert's tokens for FP8
(``--moe-router-padding-for-fp8``: to 16) and the kernels run whole tiles."""

DISPATCH_BYTES_PER_ELEMENT = 2.0
"""Bytes of one element of a dispatched or combined token (16-bit) [bytes]."""

PERMUTE_PASSES = 4.0
"""HBM passes of a token copy through the permutation in one forward: the dispatch
permutation reads and writes it, the combine un-permutation reads and writes it [-]."""


def resolved_head_dim(hidden: ArrayLike, n_heads: ArrayLike, head_dim: ArrayLike) -> NDArrayFloat:
    r"""
    Width of one attention head.

    Parameters
    ----------
    hidden, n_heads : array_like
        :math:`h`, :math:`a` [-].
    head_dim : array_like
        The given head width, 0 when not given [-].

    Returns
    -------
    numpy.ndarray
        :math:`d` if given, else :math:`h / a` [-].

    References
    ----------
    .. [1] Hugging Face transformers ``Qwen3Config.head_dim`` (128 with :math:`h = 2048`,
       :math:`a = 32`).
    """
    d = as_float(head_dim)
    return np.where(d > 0, d, as_float(hidden) / as_float(n_heads))


def attention_projection_params(hidden: ArrayLike, n_heads: ArrayLike, n_kv_heads: ArrayLike,
                                head_dim: ArrayLike, q_lora_rank: ArrayLike,
                                kv_lora_rank: ArrayLike, qk_nope_head_dim: ArrayLike,
                                qk_rope_head_dim: ArrayLike, v_head_dim: ArrayLike
                                ) -> NDArrayFloat:
    r"""
    Weights of the attention projections of one layer (no biases, no head norms).

    Parameters
    ----------
    hidden, n_heads, n_kv_heads, head_dim : array_like
        :math:`h`, :math:`a`, :math:`k_v` and the head width :math:`d` (resolved) [-].
    q_lora_rank, kv_lora_rank : array_like
        MLA latent widths :math:`r_q`, :math:`r_{kv}`; :math:`r_{kv} = 0`: grouped-query
        attention [-].
    qk_nope_head_dim, qk_rope_head_dim, v_head_dim : array_like
        MLA head widths :math:`d_n`, :math:`d_r`, :math:`d_v` [-].

    Returns
    -------
    numpy.ndarray
        Parameters [-].

    Notes
    -----
    .. math::

       P_{attn} = \begin{cases} h d (a + 2 k_v) + a d h & \text{GQA} \\
           P_{MLA} & r_{kv} > 0 \end{cases}

    with :math:`P_{MLA}` from :func:`~trainplan.model.moe_params.mla_attention_params`.

    References
    ----------
    .. [1] J. Ainslie et al., "GQA", arXiv:2305.13245.
    .. [2] DeepSeek-AI, "DeepSeek-V2", arXiv:2405.04434, Sec. 2.1.
    """
    h, a = as_float(hidden), as_float(n_heads)
    gqa = gqa_attention_params(h, a, n_kv_heads, head_dim, False)
    mla = mla_attention_params(h, a, q_lora_rank, kv_lora_rank, qk_nope_head_dim,
                               qk_rope_head_dim, v_head_dim)
    return np.where(as_float(kv_lora_rank) > 0, mla, gqa)


def attention_core_width(n_heads: ArrayLike, head_dim: ArrayLike, kv_lora_rank: ArrayLike,
                         qk_nope_head_dim: ArrayLike, qk_rope_head_dim: ArrayLike,
                         v_head_dim: ArrayLike) -> NDArrayFloat:
    r"""
    Width that sets the FLOPs of :math:`QK^T` and :math:`PV`: the :math:`h` of :math:`4 T s h`.

    Parameters
    ----------
    n_heads, head_dim : array_like
        :math:`a` and the resolved head width :math:`d` [-].
    kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim : array_like
        MLA widths (:math:`r_{kv} = 0`: not MLA) [-].

    Returns
    -------
    numpy.ndarray
        :math:`a d` (GQA) or :math:`a (d_n + d_r + d_v) / 2` (MLA) [-].

    Notes
    -----
    :math:`QK^T` costs :math:`2 T s\, a d_{qk}` and :math:`PV` :math:`2 T s\, a d_v`; their
    sum is :math:`4 T s w` with :math:`w = a (d_{qk} + d_v) / 2`.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V2", arXiv:2405.04434, Sec. 2.1 (MLA head widths).
    """
    a = as_float(n_heads)
    mla = a * (as_float(qk_nope_head_dim) + as_float(qk_rope_head_dim)
               + as_float(v_head_dim)) / 2.0
    return np.where(as_float(kv_lora_rank) > 0, mla, a * as_float(head_dim))


def attention_activation_coefficient(hidden: ArrayLike, n_heads: ArrayLike,
                                     n_kv_heads: ArrayLike, head_dim: ArrayLike,
                                     kv_lora_rank: ArrayLike, qk_nope_head_dim: ArrayLike,
                                     qk_rope_head_dim: ArrayLike,
                                     v_head_dim: ArrayLike) -> NDArrayFloat:
    r"""
    Stored 16-bit Q, K, V and output-projection input of one layer, per :math:`s b h`.

    Parameters
    ----------
    hidden, n_heads, n_kv_heads, head_dim : array_like
        :math:`h`, :math:`a`, :math:`k_v`, resolved :math:`d` [-].
    kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim : array_like
        MLA widths [-].

    Returns
    -------
    numpy.ndarray
        Bytes per :math:`s b h` [bytes].

    Notes
    -----
    GQA: :math:`2 (a d + 2 k_v d + a d) / h`, which is Korthikanti's
    :math:`4 + 4 k_v / a` when :math:`d = h/a`. MLA keeps per-head keys and values
    (:math:`k_v = a`) and both latents: :math:`2 (2 a d_{qk} + 2 a d_v + r_{kv} + d_r) / h`.

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.1.
    """
    h, a, kv, d = (as_float(x) for x in (hidden, n_heads, n_kv_heads, head_dim))
    dqk = as_float(qk_nope_head_dim) + as_float(qk_rope_head_dim)
    dv = as_float(v_head_dim)
    gqa = 2.0 * (2.0 * a * d + 2.0 * kv * d) / h
    mla = 2.0 * (2.0 * a * dqk + 2.0 * a * dv + as_float(kv_lora_rank)
                 + as_float(qk_rope_head_dim)) / h
    return np.where(as_float(kv_lora_rank) > 0, mla, gqa)


def local_attention_keys(seq_len: ArrayLike, window: ArrayLike,
                         chunked: ArrayLike) -> NDArrayFloat:
    r"""
    Sequence length whose full causal attention costs what one local-attention layer costs.

    Parameters
    ----------
    seq_len : array_like
        Sequence length :math:`s` [tokens].
    window : array_like
        Window or chunk :math:`w` (0: no local attention) [tokens].
    chunked : array_like of bool
        Chunked attention (queries attend within their chunk) instead of a sliding window.

    Returns
    -------
    numpy.ndarray
        :math:`s_{eff} = \min(s, 2 w)` sliding, :math:`\min(s, w)` chunked, :math:`s` without
        a window [tokens].

    Notes
    -----
    Causal attention over :math:`s` keys averages :math:`s/2` keys per query; a sliding
    window of :math:`w` about :math:`w`, a chunk of :math:`w` about :math:`w/2`.

    References
    ----------
    .. [1] I. Beltagy et al., "Longformer", arXiv:2004.05150 (sliding-window attention).
    .. [2] Hugging Face transformers ``Llama4TextConfig.attention_chunk_size``; OpenAI
       gpt-oss model card (alternating 128-token banded attention).
    """
    s, w = as_float(seq_len), as_float(window)
    local = np.where(np.asarray(chunked, dtype=bool), w, 2.0 * w)
    return np.where(w > 0, np.minimum(s, local), s)


def moe_layer_share(n_layers: ArrayLike, n_experts: ArrayLike, first_dense_layers: ArrayLike,
                    moe_layer_step: ArrayLike) -> NDArrayFloat:
    r"""
    Share of the layers that have experts.

    Parameters
    ----------
    n_layers, n_experts, first_dense_layers, moe_layer_step : array_like
        :math:`L`, :math:`E` (0: dense), :math:`L_d`, :math:`m` [-].

    Returns
    -------
    numpy.ndarray
        :math:`\phi = L_m / L` (:func:`~trainplan.model.moe_params.moe_layer_count`), 0 for a
        dense model [-].

    References
    ----------
    .. [1] DeepSeek-AI, arXiv:2412.19437, Sec. 4.2 (the first three of 61 layers dense).
    """
    count = np.maximum(moe_layer_count(n_layers, first_dense_layers, moe_layer_step), 0.0)
    return np.where(as_float(n_experts) > 0, count / as_float(n_layers), 0.0)


def active_ffn_width(ffn_hidden: ArrayLike, moe_ffn_hidden: ArrayLike,
                     shared_ffn_width: ArrayLike, top_k: ArrayLike,
                     moe_share: ArrayLike) -> NDArrayFloat:
    r"""
    Width of the dense MLP with the FLOPs of one token's MLP work, averaged over the layers.

    Parameters
    ----------
    ffn_hidden : array_like
        Dense layers' MLP width :math:`f` [-].
    moe_ffn_hidden : array_like
        One routed expert's width :math:`f_e` [-].
    shared_ffn_width : array_like
        All shared experts' width :math:`f_s` [-].
    top_k : array_like
        Routed experts per token :math:`k` [-].
    moe_share : array_like
        :math:`\phi` (:func:`moe_layer_share`) [-].

    Returns
    -------
    numpy.ndarray
        :math:`f_{act} = (1 - \phi) f + \phi (k f_e + f_s)` [-]; :math:`f` for a dense model.

    References
    ----------
    .. [1] D. Dai et al., "DeepSeekMoE", arXiv:2401.06066, Sec. 3 (a token's expert
       computation equals that of :math:`k` fine-grained experts plus the shared ones).
    """
    phi = as_float(moe_share)
    moe = as_float(top_k) * as_float(moe_ffn_hidden) + as_float(shared_ffn_width)
    return np.where(phi > 0, (1.0 - phi) * as_float(ffn_hidden) + phi * moe,
                    as_float(ffn_hidden))


def routed_rows_per_gpu(tokens: ArrayLike, tp: ArrayLike, etp: ArrayLike,
                        top_k: ArrayLike) -> NDArrayFloat:
    r"""
    Token copies one GPU's experts process per micro-batch, on average over the EP group.

    Parameters
    ----------
    tokens : array_like
        Tokens of one micro-batch on one GPU, :math:`T = b s / cp` [tokens].
    tp, etp : array_like
        Tensor- and expert-tensor-parallel degrees [-].
    top_k : array_like
        :math:`k` [-].

    Returns
    -------
    numpy.ndarray
        :math:`R = T k\, e_t / t` [rows].

    Notes
    -----
    With sequence parallelism a tensor-parallel rank routes :math:`T/t` tokens; the
    :math:`e_t` ranks of an expert-tensor-parallel group gather theirs, and the all-to-all
    over :math:`ep` ranks hands each GPU, on average, as many copies as it sent.

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README, "MoE parallel folding" (expert tensor
       parallelism decoupled from attention tensor parallelism).
    """
    return as_float(tokens) * as_float(top_k) * as_float(etp) / as_float(tp)


def grouped_gemm_rows(routed_rows: ArrayLike, n_experts: ArrayLike, ep: ArrayLike,
                      tile_rows: ArrayLike = GROUPED_GEMM_TILE_ROWS) -> NDArrayFloat:
    r"""
    Rows the grouped GEMM of a GPU's local experts computes, each expert padded to whole tiles.

    Parameters
    ----------
    routed_rows : array_like
        Token copies the GPU processes, :math:`R` [rows].
    n_experts, ep : array_like
        :math:`E` and the expert-parallel degree [-].
    tile_rows : array_like, optional
        :data:`GROUPED_GEMM_TILE_ROWS` [rows].

    Returns
    -------
    numpy.ndarray
        :math:`\frac{E}{ep} \lceil R\,ep / (E\, t_r) \rceil t_r` [rows].

    References
    ----------
    .. [1] NVIDIA CUTLASS grouped GEMM and Transformer Engine ``GroupedLinear`` (one kernel
       over the experts, each problem tiled separately).
    """
    local = as_float(n_experts) / as_float(ep)
    per_expert = as_float(routed_rows) / np.maximum(local, 1.0)
    tile = as_float(tile_rows)
    return np.maximum(local, 1.0) * np.ceil(per_expert / tile) * tile


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


__all__ = [
    "DISPATCH_BYTES_PER_ELEMENT", "GROUPED_GEMM_TILE_ROWS", "PERMUTE_PASSES",
    "active_ffn_width", "alltoall_s", "attention_activation_coefficient",
    "attention_core_width", "attention_projection_params", "expert_params",
    "grouped_gemm_rows", "hierarchical_alltoall_s", "local_attention_keys", "moe_layer_share",
    "remote_domains_per_token", "resolved_head_dim",
    "routed_rows_per_gpu",
]
