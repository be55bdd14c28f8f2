r"""What experts and attention variants add to a layer's FLOPs, time and traffic.

Each function takes the parsed :class:`~trainplan.model.config.Architecture` and
:class:`~trainplan.model.config.Layout` and returns the term the dense stage functions do
not have; every term is zero for a dense model with :math:`h/a`-wide heads (the formulas
are in :mod:`trainplan.model.moe`). Expert MLP FLOPs, activations and element-wise traffic
enter the dense functions through the active MLP width
(:attr:`~trainplan.model.config.Architecture.ffn_active`); what is here is what that
width does not capture. What they add to the activation memory is in
:mod:`trainplan.model.moe_memory`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from trainplan.model import moe
from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.attention_variants import local_key_fraction
from trainplan.model.blocks import attention_weight_params
from trainplan.model.config import Architecture, Layout
from trainplan.model.flops import attention_core_flop
from trainplan.model.gemm import gemm_time_of


def _dense_attention_params(arch: Architecture) -> NDArrayFloat:
    """QKV and output projections of the dense formula (heads ``h / a`` wide) [-]."""
    return attention_weight_params(arch.hidden, arch.n_heads, arch.n_kv_heads)


def variant_layer_forward_flop(tokens: ArrayLike, arch: Architecture
                               ) -> tuple[NDArrayFloat, NDArrayFloat]:
    r"""
    Forward FLOPs of one average layer beyond the dense formula with the active MLP width.

    The dense formula is :func:`~trainplan.model.flops.layer_forward_flop`.

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    arch : Architecture
        The model.

    Returns
    -------
    tuple of numpy.ndarray
        All the extra forward FLOPs, and the part of them in the attention core [FLOP].

    Notes
    -----
    With :math:`P_{attn}` the attention projections
    (:func:`~trainplan.model.attention_variants.attention_projection_params`), :math:`w`
    the core width (:func:`~trainplan.model.attention_variants.attention_core_width`) and
    the router's :math:`h E` weights in a share :math:`\phi` of the layers:

    .. math::

       \Delta F = 2 T (P_{attn} - P_{attn}^{dense}) + 4 T s (w \lambda - h)
                 + 2 T \phi h E, \quad \lambda = 1 - \ell + \ell\, s_{eff} / s

    with a share :math:`\ell` of the layers attending locally over an effective
    :math:`s_{eff}` (:func:`~trainplan.model.attention_variants.local_attention_keys`). Both
    attention terms are zero for :math:`d = h/a` without latent or local attention. The
    routed experts' FLOPs, :math:`2 T k (2 + [\text{gated}]) h f_e` per MoE layer, are in
    :func:`~trainplan.model.flops.mlp_flop` through :math:`f_{act}`: model FLOPs count
    the active path only, so MFU is on active FLOPs.

    References
    ----------
    .. [1] DeepSeek-AI, arXiv:2412.19437 (671 B parameters, 37 B activated per token).
    .. [2] NVIDIA Megatron-LM ``num_floating_point_operations`` (MoE and MLA terms).
    """
    t = as_float(tokens)
    projections = np.where(arch.variant_attention,
                           2.0 * t * (arch.attention_params - _dense_attention_params(arch)), 0.0)
    width = np.where(arch.variant_attention, arch.attention_core_width, arch.hidden)
    local = local_key_fraction(arch.seq_len, arch.local_share, arch.local_keys)
    core = attention_core_flop(t, arch.seq_len, width * local - arch.hidden)
    router = 2.0 * t * arch.moe_share * arch.router_params
    return projections + core + router, core


def attention_score_flop(tokens: ArrayLike, arch: Architecture) -> NDArrayFloat:
    r"""
    Attention-score FLOPs of a step's layers and MTP modules, full square, with backward.

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    arch : Architecture
        The model: layers :math:`L`, MTP modules :math:`L_{mtp}`, core width :math:`w`
        and local attention (:func:`~trainplan.model.attention_variants.local_key_fraction`,
        :math:`\lambda`).

    Returns
    -------
    numpy.ndarray
        :math:`F_{att} = 3 (L + L_{mtp})\, 4 T s w \lambda` [FLOP]
        (:func:`~trainplan.model.flops.attention_core_flop` of :math:`w \lambda`, backward
        twice the forward): what a causal convention counts half of
        (:func:`~trainplan.model.published.megatron_causal_flop`).

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, eq. (7).
    """
    width = arch.attention_core_width * local_key_fraction(arch.seq_len, arch.local_share,
                                                           arch.local_keys)
    return 3.0 * (arch.n_layers + arch.mtp_layers) * attention_core_flop(tokens, arch.seq_len,
                                                                         width)


def routed_rows(arch: Architecture, layout: Layout) -> NDArrayFloat:
    r"""
    Token copies the busiest GPU's experts take per micro-batch.

    Parameters
    ----------
    arch : Architecture
        The model (top-k) [-].
    layout : Layout
        Micro-batch tokens, ``tp``, ``etp``, load imbalance [-].

    Returns
    -------
    numpy.ndarray
        :math:`R = \beta T k\, e_t / t` [rows], with :math:`\beta` the load imbalance
        (:func:`~trainplan.model.moe.routed_rows_per_gpu`).

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README ("MoE parallel folding").
    """
    return moe.routed_rows_per_gpu(layout.tokens_microbatch, layout.tp, layout.etp,
                                   arch.top_k) * layout.moe_load_imbalance


def routed_copy_bytes(arch: Architecture, layout: Layout) -> NDArrayFloat:
    r"""
    One 16-bit copy of the token rows the busiest GPU's experts take per micro-batch.

    Parameters
    ----------
    arch : Architecture
        The model [-].
    layout : Layout
        The split (:func:`routed_rows`) [-].

    Returns
    -------
    numpy.ndarray
        :math:`2 R h` [bytes]: what one dispatch or combine moves, one permutation pass
        reads or writes, and the permuted input the first expert GEMM keeps.

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README (token permutation, "alltoall" dispatcher).
    """
    return moe.DISPATCH_BYTES_PER_ELEMENT * routed_rows(arch, layout) * arch.hidden


def permutation_bytes(arch: Architecture, layout: Layout) -> NDArrayFloat:
    r"""
    HBM traffic of permuting routed tokens in one layer's forward, averaged over layers.

    Parameters
    ----------
    arch : Architecture
        The model [-].
    layout : Layout
        The split (:func:`routed_rows`) [-].

    Returns
    -------
    numpy.ndarray
        :math:`\phi \cdot 4 \cdot 2 R h` (:data:`~trainplan.model.moe.PERMUTE_PASSES`
        passes of 16-bit copies) [bytes].

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README (token permutation and un-permutation).
    """
    return arch.moe_share * moe.PERMUTE_PASSES * routed_copy_bytes(arch, layout)


def _mlp_s(rows, width, arch, tp_split, gemm):
    """Both GEMMs of an MLP of ``width`` over ``rows`` rows, split ``tp_split`` ways."""
    gate = np.where(arch.gated_mlp, 2.0, 1.0)
    return gemm(rows, gate * width / tp_split, arch.hidden) \
        + gemm(rows, arch.hidden, width / tp_split)


def _attention_s(arch, layout, gemm):
    """Projection GEMMs of the layer's attention (grouped-query or latent)."""
    t, tokens, h, a = layout.tp, layout.tokens_microbatch, arch.hidden, arch.n_heads
    d = arch.head_dim
    gqa = gemm(tokens, (a + 2.0 * arch.n_kv_heads) * d / t, h) + gemm(tokens, h, a * d / t)
    # latent attention: down projections replicated on the tensor-parallel ranks, up
    # projections column-parallel, output row-parallel
    rq, rkv, dqk, dr, dv = (arch.q_lora_rank, arch.kv_lora_rank, arch.qk_head_dim,
                            arch.qk_rope_head_dim, arch.v_head_dim)
    query = np.where(rq > 0, gemm(tokens, rq, h) + gemm(tokens, a * dqk / t, rq),
                     gemm(tokens, a * dqk / t, h))
    mla = (query + gemm(tokens, rkv + dr, h) + gemm(tokens, a * (dqk - dr + dv) / t, rkv)
           + gemm(tokens, h, a * dv / t))
    return np.where(arch.mla, mla, gqa)


def variant_linear_forward_s(arch: Architecture, layout: Layout, peak_flop_s: ArrayLike,
                             efficiency_max: ArrayLike, wave_elements: ArrayLike,
                             half_k: ArrayLike, hbm_byte_s: ArrayLike,
                             bytes_per_element: ArrayLike,
                             grouped_efficiency: ArrayLike) -> NDArrayFloat:
    r"""
    Forward GEMM time of one (average) layer beyond the dense four linear layers.

    Parameters
    ----------
    arch, layout : Architecture, Layout
        The model and its split.
    peak_flop_s, efficiency_max, wave_elements, half_k, hbm_byte_s, bytes_per_element
        As :func:`~trainplan.model.gemm.gemm_time_s`.
    grouped_efficiency : array_like
        The grouped GEMM's throughput over a dense GEMM of the same total shape,
        :math:`\eta_g` [-].

    Returns
    -------
    numpy.ndarray
        Time [s], negative when the layer's GEMMs are cheaper than the dense ones.

    Notes
    -----
    With :math:`t_G` the GEMM time, :math:`t_{mlp}(M, f, t)` an MLP's two GEMMs and
    :math:`\bar R` the grouped-GEMM rows (:func:`~trainplan.model.moe.grouped_gemm_rows`,
    each local expert padded to whole tiles):

    .. math::

       \Delta t = [\text{variant}](t_{attn} - t_{attn}^{dense})
          + \phi \left(t_{mlp}(T, f_s, t) + t_{mlp}^{\eta_g}(\bar R, f_e, e_t)
          + t_r - t_{mlp}(T, f, t)\right)

    with :math:`t^{\eta_g}` GEMMs at the efficiency :math:`\eta_{max}\eta_g` when a GPU holds
    more than one expert, and :math:`t_r` the router
    (:func:`~trainplan.model.moe.router_forward_s`). The routed experts run as one grouped
    GEMM per projection (Megatron-Core ``--moe-grouped-gemm``): its output is all
    :math:`\bar R` rows, so a GPU with many small experts keeps its SMs busy but pays for
    the padding (:func:`~trainplan.model.moe.grouped_gemm_time_of`).

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README (grouped GEMM, expert tensor parallelism).
    .. [2] DeepSeek-AI, arXiv:2412.19437, Sec. 3.2.
    """
    gemm = gemm_time_of(peak_flop_s, efficiency_max, wave_elements, half_k, hbm_byte_s,
                        bytes_per_element)
    grouped = moe.grouped_gemm_time_of(arch.n_experts, layout.ep, grouped_efficiency,
                                       peak_flop_s, efficiency_max, wave_elements, half_k,
                                       hbm_byte_s, bytes_per_element)

    t, tokens = layout.tp, layout.tokens_microbatch
    d_dense = arch.hidden / arch.n_heads
    dense_attention = gemm(tokens, (arch.hidden + 2.0 * arch.n_kv_heads * d_dense) / t,
                           arch.hidden) + gemm(tokens, arch.hidden, arch.hidden / t)
    attention = np.where(arch.variant_attention,
                         _attention_s(arch, layout, gemm) - dense_attention, 0.0)
    experts = moe_block_linear_s(arch, layout, gemm, grouped, peak_flop_s, efficiency_max,
                                 hbm_byte_s) - _mlp_s(tokens, arch.ffn_hidden, arch, t, gemm)
    return attention + np.where(arch.moe_share > 0, arch.moe_share * experts, 0.0)


def moe_block_linear_s(arch: Architecture, layout: Layout,
                       gemm: Callable[[ArrayLike, ArrayLike, ArrayLike], NDArrayFloat],
                       grouped_gemm: Callable[[ArrayLike, ArrayLike, ArrayLike], NDArrayFloat],
                       peak_flop_s: ArrayLike,
                       efficiency_max: ArrayLike, hbm_byte_s: ArrayLike) -> NDArrayFloat:
    r"""
    Forward GEMM and router time of one MoE layer's expert block.

    Parameters
    ----------
    arch, layout : Architecture, Layout
        The model and its split.
    gemm : callable
        ``gemm(m, n, k)``: the time of one GEMM in the layer's precision [s].
    grouped_gemm : callable
        The same for the routed experts' grouped GEMM, of all their rows [s].
    peak_flop_s, efficiency_max, hbm_byte_s : array_like
        Peak [FLOP/s], largest GEMM efficiency [-] and HBM bandwidth [bytes/s], as
        :func:`~trainplan.model.moe.router_forward_s`.

    Returns
    -------
    numpy.ndarray
        :math:`t_{mlp}(T, f_s, t) + t_{mlp}(\bar R, f_e, e_t) + t_r` [s], the expert terms of
        :func:`variant_linear_forward_s`.

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README (grouped GEMM, shared experts).
    """
    t, tokens = layout.tp, layout.tokens_microbatch
    rows = moe.grouped_gemm_rows(routed_rows(arch, layout), arch.n_experts, layout.ep)
    shared = np.where(arch.shared_ffn_width > 0,
                      _mlp_s(tokens, arch.shared_ffn_width, arch, t, gemm), 0.0)
    routed = _mlp_s(rows, arch.moe_ffn_hidden, arch, layout.etp, grouped_gemm)
    return shared + routed + moe.router_forward_s(tokens / t, arch.hidden, arch.n_experts,
                                                  peak_flop_s, efficiency_max, hbm_byte_s)
