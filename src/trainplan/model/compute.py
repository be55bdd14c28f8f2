r"""Computation of one transformer layer, of the first and last pipeline stages, and of Adam [s].

Matrix multiplications run at a fraction of the dense peak that depends on
their shape (:mod:`~trainplan.model.gemm`); the kernels of one layer's forward
are :mod:`~trainplan.model.kernels`. This module assembles them: the
backward of a linear layer costs two forwards, the FlashAttention backward 2.5
[2]_, the element-wise backward twice the forward's traffic; recomputation
repeats forward work [1]_; the first stage adds the embedding, the last the LM
head and the cross-entropy; the optimizer update is bound by HBM traffic [3]_.

References
----------
.. [1] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198, Sec. 4.1 and 5.
.. [2] T. Dao, "FlashAttention-2", arXiv:2307.08691, 2023, Sec. 3.
.. [3] S. Rajbhandari et al., "ZeRO", SC20, arXiv:1910.02054, Sec. 5.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.choices import Recompute
from trainplan.model.config import Architecture, Gpu, Layout
from trainplan.model.constants import (
    ACTIVATION_BYTES,
    BACKWARD_PER_FORWARD,
    BYTES_16BIT,
    BYTES_FP8,
    CROSS_ENTROPY_PASSES,
    FORWARD_BACKWARD_FACTOR,
)
from trainplan.model.gemm import gemm_efficiency, gemm_time_s, gemm_wave_elements
from trainplan.model.kernels import (
    ELEMENTWISE_BACKWARD_RATIO,
    FLASH_BACKWARD_RATIO,
    FLASH_CAUSAL_WORK_FRACTION,
    FLASH_HALF_KEYS,
    FP8_CAST_BYTES,
    attention_core_forward_s,
    elementwise_forward_bytes,
    expert_fp8_cast_bytes,
    fp8_cast_bytes,
    fp8_cast_bytes_per_element,
    fused_attention_efficiency,
    linear_layers_forward_s,
)
from trainplan.model.moe_recompute import moe_block_recompute_s, selective_recompute_s
from trainplan.model.moe_step import permutation_bytes, routed_rows, variant_linear_forward_s
from trainplan.model.op_sac import op_sac_applies, op_sac_recomputed_share

__all__ = [
    "ELEMENTWISE_BACKWARD_RATIO", "FLASH_BACKWARD_RATIO", "FLASH_CAUSAL_WORK_FRACTION",
    "FLASH_HALF_KEYS", "FP8_CAST_BYTES", "LayerCompute", "StageCompute",
    "attention_core_forward_s", "elementwise_forward_bytes", "fp8_cast_bytes",
    "fused_attention_efficiency", "gemm_efficiency", "gemm_time_s", "gemm_wave_elements",
    "layer_compute", "linear_layers_forward_s", "optimizer_step_s",
    "recompute_forward_s", "stage_compute",
]
"""The GEMM model and the kernels are re-exported: they were part of this module."""


@dataclass(frozen=True)
class LayerCompute:
    """Computation of one transformer layer for one micro-batch on one GPU [s]."""

    linear_forward_s: NDArrayFloat
    """The four linear layers, forward."""
    column_parallel_forward_s: NDArrayFloat
    """Its column-parallel part (QKV, first MLP)."""
    attention_forward_s: NDArrayFloat
    attention_backward_s: NDArrayFloat
    forward_s: NDArrayFloat
    backward_s: NDArrayFloat
    total_s: NDArrayFloat
    """Forward, backward and recomputation."""


def recompute_forward_s(recompute: ArrayLike, forward_s: ArrayLike,
                        attention_forward_s: ArrayLike,
                        full_share: ArrayLike = 1.0) -> NDArrayFloat:
    r"""
    Time of the forward work recomputation repeats in the backward [1]_.

    Parameters
    ----------
    recompute : array_like of int
        :class:`~trainplan.model.choices.Recompute` code per row.
    forward_s : array_like
        Forward time of the layer, :math:`t_f` [s].
    attention_forward_s : array_like
        Forward time of the attention core, :math:`t_a` [s].
    full_share : array_like, optional
        Share of the layers full recomputation recomputes, :math:`\phi` [-].

    Returns
    -------
    numpy.ndarray
        :math:`\phi t_f` (full), :math:`t_a` (selective) or 0 (none) [s], averaged over
        the stage's layers.

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 5.
    """
    rc = np.asarray(recompute)
    return np.where(rc == Recompute.FULL, as_float(full_share) * as_float(forward_s),
                    np.where(rc == Recompute.SELECTIVE, attention_forward_s, 0.0))


def layer_compute(arch: Architecture, layout: Layout, gpu: Gpu) -> LayerCompute:
    r"""
    Time of one layer's forward, backward and recomputation for one micro-batch [1]_ [2]_.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Tensor-parallel degree, micro-batch, precision, recomputation.
    gpu : Gpu
        Peaks, efficiencies and HBM bandwidth.

    Returns
    -------
    LayerCompute

    Notes
    -----
    With :math:`t_{lin}` the linear layers (:func:`linear_layers_forward_s`, FP8
    peak and efficiency when FP8), :math:`t_a` the attention core
    (:func:`attention_core_forward_s`), :math:`t_e` the element-wise traffic over
    HBM and :math:`t_c` the FP8 casts (a third forward, two thirds backward):

    .. math::

       t_f = t_{lin} + t_a + t_e + t_c / 3

       t_b = 2 t_{lin} + \rho_a t_a + 2 t_e + 2 t_c / 3

    with :math:`\rho_a` = 2.5 fused (FlashAttention) or 2 unfused; the total adds
    :func:`recompute_forward_s`.

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.1 and 5.
    .. [2] T. Dao, "FlashAttention-2", arXiv:2307.08691, Sec. 3.
    """
    h, a, kv, f, tp = arch.hidden, arch.n_heads, arch.n_kv_heads, arch.ffn_hidden, layout.tp
    tokens, fp8, hbm = layout.tokens_microbatch, layout.fp8, gpu.hbm_byte_s
    peak16, eff16 = gpu.peak_16bit_flop_s, gpu.gemm_efficiency_16bit
    wave = gemm_wave_elements(gpu.gemm_tile_elements, gpu.sm_count)
    # the linear layers' GEMM constants: FP8 peak, efficiency and input bytes under FP8
    linear = (np.where(fp8, gpu.peak_fp8_flop_s, peak16),
              np.where(fp8, gpu.gemm_efficiency_fp8, eff16), wave, gpu.gemm_half_k, hbm,
              np.where(fp8, BYTES_FP8, BYTES_16BIT))
    lin_fwd, lin_col = linear_layers_forward_s(tokens, h, a, kv, f, arch.gated_mlp, tp,
                                               *linear)
    lin_fwd = lin_fwd + variant_linear_forward_s(arch, layout, *linear,
                                                 gpu.grouped_gemm_efficiency)
    core_width = np.where(arch.variant_attention, arch.attention_core_width, h)
    core = (layout.micro_batch, layout.seq_local)
    kernel = (core_width, a, tp, layout.flash_attention, arch.dropout, peak16,
              gpu.attention_efficiency, eff16, wave, gpu.gemm_half_k, hbm)
    attn_fwd = attention_core_forward_s(*core, arch.seq_len, *kernel)
    # local attention (sliding window, chunks) in a share of the layers: fewer keys per query
    attn_fwd = np.where(arch.local_share > 0, (1.0 - arch.local_share) * attn_fwd
                        + arch.local_share * attention_core_forward_s(*core, arch.local_keys,
                                                                      *kernel), attn_fwd)
    attn_bwd = attn_fwd * np.where(layout.flash_attention, FLASH_BACKWARD_RATIO,
                                   BACKWARD_PER_FORWARD)
    f_act = arch.ffn_active
    elem_fwd = (elementwise_forward_bytes(tokens, h, a, kv, f_act, arch.gated_mlp, arch.dropout,
                                          arch.rotary, tp, layout.seq_parallel)
                + permutation_bytes(arch, layout)) / hbm
    per_element = fp8_cast_bytes_per_element(layout.fp8_recipe)
    experts = expert_fp8_cast_bytes(routed_rows(arch, layout), tokens, h,
                                    arch.shared_ffn_width > 0, per_element)
    cast = np.where(fp8, (fp8_cast_bytes(tokens, h, a, kv, f_act, arch.gated_mlp, tp, per_element)
                          + np.where(arch.moe_share > 0, arch.moe_share * experts, 0.0)) / hbm,
                    0.0)
    fwd = lin_fwd + attn_fwd + elem_fwd + cast / FORWARD_BACKWARD_FACTOR
    bwd = (BACKWARD_PER_FORWARD * lin_fwd + attn_bwd + ELEMENTWISE_BACKWARD_RATIO * elem_fwd
           + cast * BACKWARD_PER_FORWARD / FORWARD_BACKWARD_FACTOR)
    selective = np.where(np.asarray(layout.recompute) == Recompute.SELECTIVE,
                         selective_recompute_s(arch, layout, *linear), 0.0)
    # operator-level selective recomputation repeats the products it does not keep and the
    # element-wise work, not the attention core
    op_sac = op_sac_applies(arch, layout)
    op_extra = op_sac_recomputed_share(h, kv, a, f) * lin_fwd + elem_fwd - attn_fwd
    moe_block = moe_block_recompute_s(arch, layout, *linear, gpu.grouped_gemm_efficiency)
    total = (fwd + bwd + selective + moe_block
             + recompute_forward_s(layout.recompute, fwd, attn_fwd, layout.full_recompute_share)
             + np.where(op_sac, op_extra, 0.0))
    return LayerCompute(linear_forward_s=lin_fwd, column_parallel_forward_s=lin_col,
                        attention_forward_s=attn_fwd, attention_backward_s=attn_bwd,
                        forward_s=fwd, backward_s=bwd, total_s=total)


@dataclass(frozen=True)
class StageCompute:
    """Computation of one micro-batch through the first and the last pipeline stage [s]."""

    first_s: NDArrayFloat
    last_s: NDArrayFloat


def stage_compute(arch: Architecture, layout: Layout, gpu: Gpu, layer: LayerCompute,
                  logits_bytes_per_element: ArrayLike) -> StageCompute:
    r"""
    Computation of one micro-batch through the first and last stages [1]_ [2]_.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Tensor-parallel degree, layers per stage, micro-batch.
    gpu : Gpu
        Peaks, efficiencies and HBM bandwidth.
    layer : LayerCompute
        One layer (:func:`layer_compute`).
    logits_bytes_per_element : array_like
        Bytes per logit the cross-entropy reads and writes [bytes].

    Returns
    -------
    StageCompute

    Notes
    -----
    The first stage adds the embedding lookup (:math:`3 T h` 16-bit elements of
    HBM traffic, forward and backward); the last the LM head, a
    :math:`(T, V/t, h)` GEMM three times (forward and backward), and the
    cross-entropy reading the logits and writing their gradient. Without a
    pipeline one stage does all of it:

    .. math::

       t_1 = L_1 t_l + t_{emb} + [p = 1]\, (t_{head} + t_{mtp}), \quad
       t_p = L_p t_l + t_{head} + t_{mtp} \quad (p > 1)

    with :math:`t_{mtp} = D (t_l + t_{head} + 3 t_G(T, h/t, 2h))` for :math:`D`
    multi-token-prediction modules (DeepSeek-V3: one)

    with :math:`L_1`, :math:`L_p` the layers of the first and last stage
    (:func:`~trainplan.model.stages.stage_layers`; :math:`L/p` when :math:`p` divides
    :math:`L`).

    References
    ----------
    .. [1] M. Shoeybi et al., "Megatron-LM", arXiv:1909.08053, Sec. 3 (vocabulary-parallel
       output layer and cross-entropy).
    .. [2] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU
       Clusters Using Megatron-LM", SC21, arXiv:2104.04473, Sec. 2.2.
    """
    tokens, tp, hbm, h = layout.tokens_microbatch, layout.tp, gpu.hbm_byte_s, arch.hidden
    peak16, eff16 = gpu.peak_16bit_flop_s, gpu.gemm_efficiency_16bit
    wave = gemm_wave_elements(gpu.gemm_tile_elements, gpu.sm_count)
    emb_t = FORWARD_BACKWARD_FACTOR * tokens * h * ACTIVATION_BYTES / hbm
    logits_t = FORWARD_BACKWARD_FACTOR * gemm_time_s(tokens, arch.vocab / tp, h, peak16, eff16,
                                                     wave, gpu.gemm_half_k, hbm, BYTES_16BIT)
    loss_t = (tokens * arch.vocab / tp * CROSS_ENTROPY_PASSES * as_float(logits_bytes_per_element)
              / hbm)
    head_t = logits_t + loss_t
    # multi-token prediction on the last stage: a layer, its 2h x h projection, another head
    mtp_t = arch.mtp_layers * (layer.total_s + head_t + FORWARD_BACKWARD_FACTOR * gemm_time_s(
        tokens, h / tp, 2.0 * h, peak16, eff16, wave, gpu.gemm_half_k, hbm, BYTES_16BIT))
    first = layout.layers_first * layer.total_s + emb_t + np.where(layout.pipelined, 0.0,
                                                                   head_t + mtp_t)
    return StageCompute(first_s=first, last_s=np.where(
        layout.pipelined, layout.layers_last * layer.total_s + head_t + mtp_t, first))


def optimizer_step_s(params: ArrayLike, shard_group: ArrayLike, zero_stage: ArrayLike,
                     adam_step_bytes_per_param: ArrayLike, hbm_byte_s: ArrayLike) -> NDArrayFloat:
    r"""
    Time of the Adam update on one GPU, bound by HBM traffic [1]_.

    Parameters
    ----------
    params : array_like
        Parameters of the busiest GPU before sharding, :math:`\Psi` [-].
    shard_group : array_like
        GPUs the optimizer states are sharded over, :math:`N_d` [-].
    zero_stage : array_like of int
        ZeRO stage; from 1 on each GPU updates only its shard [-].
    adam_step_bytes_per_param : array_like
        HBM traffic of the update per parameter, :math:`q` [bytes].
    hbm_byte_s : array_like
        Achievable HBM bandwidth [byte/s].

    Returns
    -------
    numpy.ndarray
        Time [s].

    Notes
    -----
    .. math::

       t_{opt} = \frac{\Psi / N_d'\, q}{B_{HBM}}, \quad N_d' = N_d \text{ from stage 1, else } 1

    References
    ----------
    .. [1] S. Rajbhandari et al., arXiv:1910.02054, Sec. 5.1 (ZeRO stage 1 partitions the
       optimizer states and each process updates only its partition).
    """
    shards = np.where(np.asarray(zero_stage) >= 1, shard_group, 1.0)
    return as_float(params) / shards * as_float(adam_step_bytes_per_param) / as_float(hbm_byte_s)
