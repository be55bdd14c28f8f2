r"""Selective recomputation of the modules of mixture-of-experts and latent-attention layers.

For a model with experts or latent attention, ``recompute: selective`` is what the
Megatron-Core MoE recipes run (``--recompute-modules core_attn layernorm moe_act
mla_up_proj``): these functions give the activations it does not keep and the forward work it
repeats. A dense model's selective recomputation (the attention core) is in
:mod:`trainplan.model.activations` and :mod:`trainplan.model.compute`.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat, as_float
from trainplan.model.config import Architecture, Layout
from trainplan.model.gemm import gemm_time_s

NORM_OUTPUT_BYTES = 4.0
"""Bytes per :math:`s b h` of the two norm outputs a layer keeps (the QKV and MLP inputs,
16-bit each, part of Korthikanti's :math:`c_r`) [bytes]."""


def selective_saving_bytes(arch: Architecture, layout: Layout) -> NDArrayFloat:
    r"""
    Activations Megatron-Core's selective recomputation of MoE and MLA modules does not keep.

    Parameters
    ----------
    arch : Architecture
        The model (experts, latent attention) [-].
    layout : Layout
        Micro-batch, degrees, sequence parallelism [-].

    Returns
    -------
    numpy.ndarray
        Bytes per layer and micro-batch on one GPU [bytes]; 0 for a dense model without
        latent attention (whose selective recomputation is the attention core only).

    Notes
    -----
    For a model with experts or latent attention, ``selective`` is what the Megatron-Core
    MoE recipes run, ``--recompute-modules core_attn moe_act layernorm`` (and
    ``mla_up_proj`` with MLA): the activation outputs of the experts (the second expert
    GEMM's input, :math:`2 (k f_e + f_s) / h` per :math:`s b h` in the MoE layers), the norm
    outputs (:math:`4 / t_{sp}`) and the latent up-projections' outputs (queries, keys,
    values: all of the MLA coefficient but the latents and the output projection's input)
    are recomputed in the backward:

    .. math::

       \Delta A = \frac{s b h}{t} \left(2 \phi \frac{k f_e + f_s}{h}
                  + [\text{MLA}] (c_{attn} - 2 \frac{r_{kv} + d_r + a d_v}{h})\right)
                  + \frac{4 s b h}{t_{sp}}

    References
    ----------
    .. [1] NVIDIA Megatron-Core ``--recompute-modules`` (core_attn, moe_act, layernorm,
       mla_up_proj) and the MoE README's memory-saving recipes.
    """
    sbh = layout.tokens_microbatch * arch.hidden
    h, t = arch.hidden, layout.tp
    t_sp = np.where(layout.seq_parallel, t, 1.0)
    act = 2.0 * arch.moe_share * (arch.top_k * arch.moe_ffn_hidden + arch.shared_ffn_width) / h
    kept_mla = 2.0 * (arch.kv_lora_rank + arch.qk_rope_head_dim
                      + arch.n_heads * arch.v_head_dim) / h
    mla = np.where(arch.mla, arch.attention_activation - kept_mla, 0.0)
    applies = (arch.moe_share > 0) | arch.mla
    return np.where(applies, sbh * ((act + mla) / t + NORM_OUTPUT_BYTES / t_sp), 0.0)


def selective_recompute_s(arch: Architecture, layout: Layout, peak_flop_s: ArrayLike,
                          efficiency_max: ArrayLike, wave_elements: ArrayLike,
                          half_k: ArrayLike, hbm_byte_s: ArrayLike,
                          bytes_per_element: ArrayLike) -> NDArrayFloat:
    r"""
    Forward time the selective recomputation of :func:`selective_saving_bytes` repeats.

    Parameters
    ----------
    arch, layout : Architecture, Layout
        The model and its split.
    peak_flop_s, efficiency_max, wave_elements, half_k, hbm_byte_s, bytes_per_element
        As :func:`~trainplan.model.gemm.gemm_time_s`.

    Returns
    -------
    numpy.ndarray
        Time per layer and micro-batch [s] (0 where it does not apply).

    Notes
    -----
    The latent up-projections (two GEMMs of :math:`T` rows) and, as HBM traffic, the norms
    (read and write :math:`2 T h` twice) and the experts' activation (read the first GEMM's
    :math:`2 f` outputs, write :math:`f`, per routed copy):

    .. math::

       t = [\text{MLA}] (t_G(T, a d_{qk} / t, r_q) + t_G(T, a (d_{qk} - d_r + d_v)/t, r_{kv}))
           + \frac{2 \cdot 2 \cdot 2 T h / t_{sp} + 2 \cdot 3 \phi (k f_e + f_s) T / t}{B_{HBM}}

    References
    ----------
    .. [1] NVIDIA Megatron-Core ``--recompute-modules``.
    """
    def gemm(m, n, k):
        return gemm_time_s(m, n, k, peak_flop_s, efficiency_max, wave_elements, half_k,
                           hbm_byte_s, bytes_per_element)

    t, tokens, a = layout.tp, layout.tokens_microbatch, arch.n_heads
    t_sp = np.where(layout.seq_parallel, t, 1.0)
    up = gemm(tokens, a * arch.qk_head_dim / t, np.maximum(arch.q_lora_rank, 1.0)) + gemm(
        tokens, a * (arch.qk_head_dim - arch.qk_rope_head_dim + arch.v_head_dim) / t,
        np.maximum(arch.kv_lora_rank, 1.0))
    width = arch.moe_share * (arch.top_k * arch.moe_ffn_hidden + arch.shared_ffn_width)
    traffic = (8.0 * tokens * arch.hidden / t_sp + 6.0 * width * tokens / t) / as_float(
        hbm_byte_s)
    applies = (arch.moe_share > 0) | arch.mla
    return np.where(applies, np.where(arch.mla, up, 0.0) + traffic, 0.0)
