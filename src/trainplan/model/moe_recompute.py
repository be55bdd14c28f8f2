r"""Selective recomputation of the modules of mixture-of-experts and latent-attention layers.

For a model with experts or latent attention, ``recompute: selective`` is what the
Megatron-Core MoE recipes run (``--recompute-modules core_attn layernorm moe_act
mla_up_proj``): these functions give the activations it does not keep and the forward work it
repeats. ``recompute_moe`` recomputes each MoE block whole (``--recompute-modules moe``):
:func:`moe_block_saving_bytes`, :func:`moe_block_recompute_s` and
:func:`moe_block_forward_flop`. ``offload_moe_inputs`` moves the experts' inputs to host
memory instead (``--offload-modules expert_fc1 moe_act``): :func:`moe_input_offload_bytes`.
A dense model's selective recomputation (the attention core) is in
:mod:`trainplan.model.activations` and :mod:`trainplan.model.compute`.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayBool, NDArrayFloat, as_float
from trainplan.model.choices import Recompute
from trainplan.model.config import Architecture, Layout
from trainplan.model.constants import BYTES_16BIT
from trainplan.model.gemm import gemm_time_of
from trainplan.model.moe import grouped_gemm_time_of
from trainplan.model.moe_memory import ROUTER_LOGIT_BYTES, saved_routed_copy_bytes
from trainplan.model.moe_step import moe_block_linear_s, permutation_bytes

NORM_OUTPUT_BYTES = 4.0
"""Bytes per :math:`s b h` of the two norm outputs a layer keeps (the QKV and MLP inputs,
16-bit each, part of Korthikanti's :math:`c_r`) [bytes]."""


def _expert_width(arch: Architecture) -> NDArrayFloat:
    """The active expert width of one MoE layer, :math:`W = k f_e + f_s` [-]."""
    return arch.top_k * arch.moe_ffn_hidden + arch.shared_ffn_width


def _activation_output_bytes(layout: Layout) -> NDArrayFloat:
    """Bytes per element of the experts' activation output kept for the second GEMM: 16-bit,
    or the one-byte cast under FP8 [bytes]."""
    return BYTES_16BIT - np.where(layout.fp8, 1.0, 0.0)


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
    GEMM's input, :math:`(2 - [\text{FP8}]) (k f_e + f_s) / h` per :math:`s b h` in the MoE
    layers), the norm
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
    # the activation's output: 16-bit, or the FP8 cast the second GEMM keeps under FP8
    act = _activation_output_bytes(layout) * arch.moe_share * _expert_width(arch) / h
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
    gemm = gemm_time_of(peak_flop_s, efficiency_max, wave_elements, half_k, hbm_byte_s,
                        bytes_per_element)

    t, tokens, a = layout.tp, layout.tokens_microbatch, arch.n_heads
    t_sp = np.where(layout.seq_parallel, t, 1.0)
    up = gemm(tokens, a * arch.qk_head_dim / t, np.maximum(arch.q_lora_rank, 1.0)) + gemm(
        tokens, a * (arch.qk_head_dim - arch.qk_rope_head_dim + arch.v_head_dim) / t,
        np.maximum(arch.kv_lora_rank, 1.0))
    # a whole recomputed MoE block repeats its activation with it (moe_block_recompute_s)
    width = np.where(moe_block_recomputed(arch, layout), 0.0,
                     arch.moe_share * _expert_width(arch))
    traffic = (8.0 * tokens * arch.hidden / t_sp + 6.0 * width * tokens / t) / as_float(
        hbm_byte_s)
    applies = (arch.moe_share > 0) | arch.mla
    return np.where(applies, np.where(arch.mla, up, 0.0) + traffic, 0.0)


def moe_block_recomputed(arch: Architecture, layout: Layout) -> NDArrayBool:
    """
    Where ``recompute_moe`` recomputes the MoE blocks whole.

    Parameters
    ----------
    arch, layout : Architecture, Layout
        The model (its share of MoE layers) and its split (``recompute``,
        ``recompute_moe``) [-].

    Returns
    -------
    numpy.ndarray
        True for a model with experts whose layers are not already fully recomputed [-].

    References
    ----------
    .. [1] NVIDIA Megatron-Core ``--recompute-modules moe`` (with ``--recompute-granularity
       selective``).
    """
    return (np.asarray(layout.recompute_moe, dtype=bool) & (as_float(arch.moe_share) > 0)
            & (np.asarray(layout.recompute) != Recompute.FULL))


def moe_block_activation_bytes(arch: Architecture, layout: Layout) -> NDArrayFloat:
    r"""
    Activations one MoE layer's expert block keeps for its backward on one GPU.

    Parameters
    ----------
    arch, layout : Architecture, Layout
        The model (experts, gated MLP) and its split (FP8, tensor parallelism) [-].

    Returns
    -------
    numpy.ndarray
        Bytes of one MoE layer and micro-batch (0 for a dense model) [bytes].

    Notes
    -----
    With :math:`W = k f_e + f_s` the active expert width: the first expert GEMMs' outputs
    (:math:`2 W`, twice for a gated MLP), the activation's output (:math:`2 W`; one byte
    under FP8, which keeps the FP8 copy), the permuted routed copies (:math:`2 R h`, one byte
    per element under FP8) and the router's fp32 probabilities, the MLP terms of
    :func:`~trainplan.model.activations.sharded_activation_coefficient` and
    :func:`~trainplan.model.moe_memory.variant_activation_bytes` for one MoE layer:

    .. math::

       A_{moe} = \frac{s b h}{t}\,\frac{(2 + 2[\text{gated}] + 2 - [\text{FP8}])\,W}{h}
                 + (2 - [\text{FP8}]) R h + 4 E \frac{T}{t}

    The block's input (the MLP norm output) stays: it is what the checkpoint keeps.

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.1.
    .. [2] NVIDIA Megatron-Core MoE README (token permutation, ``--recompute-modules moe``).
    """
    tokens, t = layout.tokens_microbatch, layout.tp
    width = _expert_width(arch)
    per_width = 2.0 + 2.0 * np.where(arch.gated_mlp, 1.0, 0.0) + _activation_output_bytes(layout)
    router = ROUTER_LOGIT_BYTES * arch.n_experts * tokens / t
    block = tokens * per_width * width / t + saved_routed_copy_bytes(arch, layout) + router
    return np.where(as_float(arch.moe_share) > 0, block, 0.0)


def moe_block_saving_bytes(arch: Architecture, layout: Layout) -> NDArrayFloat:
    r"""
    Activations ``recompute_moe`` does not keep.

    Parameters
    ----------
    arch, layout : Architecture, Layout
        The model and its split (recomputation mode, ``recompute_moe``, FP8) [-].

    Returns
    -------
    numpy.ndarray
        Bytes per (average) layer and micro-batch where :func:`moe_block_recomputed`, else
        0 [bytes].

    Notes
    -----
    The block's activations (:func:`moe_block_activation_bytes`) less what selective
    recomputation already drops of them (the experts' activation output), in the share
    :math:`\phi` of MoE layers:

    .. math::

       \Delta A = \phi \left(A_{moe} - [\text{selective}]\,
                   \frac{(2 - [\text{FP8}])\, T W}{t}\right)

    References
    ----------
    .. [1] NVIDIA Megatron-Core ``--recompute-modules moe`` (the whole MoE layer is
       checkpointed; ``moe_act`` is part of it).
    """
    width = _expert_width(arch)
    act = _activation_output_bytes(layout) * layout.tokens_microbatch * width / layout.tp
    dropped = np.where(np.asarray(layout.recompute) == Recompute.SELECTIVE, act, 0.0)
    saving = as_float(arch.moe_share) * np.maximum(
        moe_block_activation_bytes(arch, layout) - dropped, 0.0)
    return np.where(moe_block_recomputed(arch, layout), saving, 0.0)


def moe_block_recompute_s(arch: Architecture, layout: Layout, peak_flop_s: ArrayLike,
                          efficiency_max: ArrayLike, wave_elements: ArrayLike,
                          half_k: ArrayLike, hbm_byte_s: ArrayLike,
                          bytes_per_element: ArrayLike,
                          grouped_efficiency: ArrayLike) -> NDArrayFloat:
    r"""
    Forward time ``recompute_moe`` repeats in the backward.

    Parameters
    ----------
    arch, layout : Architecture, Layout
        The model and its split.
    peak_flop_s, efficiency_max, wave_elements, half_k, hbm_byte_s, bytes_per_element
        As :func:`~trainplan.model.gemm.gemm_time_s`.
    grouped_efficiency : array_like
        As :func:`~trainplan.model.moe_step.variant_linear_forward_s` [-].

    Returns
    -------
    numpy.ndarray
        Time per (average) layer and micro-batch [s] where :func:`moe_block_recomputed`,
        else 0.

    Notes
    -----
    The expert block's GEMMs and router
    (:func:`~trainplan.model.moe_step.moe_block_linear_s`), its permutations
    (:func:`~trainplan.model.moe_step.permutation_bytes`) and its activation (read the
    first GEMM's :math:`(1 + [\text{gated}]) W` outputs, write :math:`W`, 16-bit) as HBM
    traffic:

    .. math::

       t = \phi\,t_{block} + \frac{B_{perm} + 2 (2 + [\text{gated}]) \phi W T / t}{B_{HBM}}

    The experts' FP8 casts are not repeated here (a few per cent of the block).

    The dispatch and combine all-to-alls it repeats are priced with the expert-parallel
    communication (:func:`~trainplan.model.expert_dispatch.expert_dispatch`).

    References
    ----------
    .. [1] NVIDIA Megatron-Core ``--recompute-modules moe``.
    """
    gemm = gemm_time_of(peak_flop_s, efficiency_max, wave_elements, half_k, hbm_byte_s,
                        bytes_per_element)

    phi = as_float(arch.moe_share)
    width = _expert_width(arch)
    grouped = grouped_gemm_time_of(arch.n_experts, layout.ep, grouped_efficiency, peak_flop_s,
                                   efficiency_max, wave_elements, half_k, hbm_byte_s,
                                   bytes_per_element)
    block = moe_block_linear_s(arch, layout, gemm, grouped, peak_flop_s, efficiency_max,
                               hbm_byte_s)
    # the activation reads the first GEMM's outputs (two for a gated MLP) and writes one
    passes = 2.0 + np.where(arch.gated_mlp, 1.0, 0.0)
    traffic = (permutation_bytes(arch, layout)
               + passes * BYTES_16BIT * phi * width * layout.tokens_microbatch / layout.tp)
    return np.where(moe_block_recomputed(arch, layout),
                    phi * block + traffic / as_float(hbm_byte_s), 0.0)


def moe_block_forward_flop(tokens: ArrayLike, arch: Architecture) -> NDArrayFloat:
    r"""
    FLOPs of the expert blocks' forward of one (average) layer.

    Parameters
    ----------
    tokens : array_like
        Tokens, :math:`T` [tokens].
    arch : Architecture
        The model.

    Returns
    -------
    numpy.ndarray
        :math:`2 \phi T h ((2 + [\text{gated}]) W + E)`: the experts' matrices of the
        active width and the router [FLOP].

    References
    ----------
    .. [1] D. Narayanan et al., arXiv:2104.04473, Sec. 5.1 (two FLOPs per multiply-add).
    """
    width = _expert_width(arch)
    matrices = 2.0 + np.where(arch.gated_mlp, 1.0, 0.0)
    return (2.0 * as_float(arch.moe_share) * as_float(tokens) * arch.hidden
            * (matrices * width + arch.n_experts))


def moe_input_offload_bytes(arch: Architecture, layout: Layout) -> NDArrayFloat:
    r"""
    Activations ``offload_moe_inputs`` copies to host memory, per MoE layer and micro-batch.

    Parameters
    ----------
    arch, layout : Architecture, Layout
        The model (experts, gated MLP) and its split (``offload_moe_inputs``,
        recomputation) [-].

    Returns
    -------
    numpy.ndarray
        Bytes of one MoE layer on one GPU [bytes]; 0 without ``offload_moe_inputs``, for a
        dense model, under full recomputation or with the MoE blocks recomputed whole
        (which keep neither).

    Notes
    -----
    Megatron-Core's fine-grained offloading moves the saved input of the named modules of
    the routed experts (the shared experts keep theirs): of ``expert_fc1`` the permuted
    routed copies (:math:`(2 - [\text{FP8}]) R h`,
    :func:`~trainplan.model.moe_memory.saved_routed_copy_bytes`), of ``moe_act`` the first
    expert GEMMs' outputs (:math:`(2 + 2[\text{gated}])\,k f_e` per token of the rank, the
    routed part of the term of :func:`moe_block_activation_bytes`), kept also when selective
    recomputation repeats the activation:

    .. math::

       A_{off} = (2 - [\text{FP8}]) R h + \frac{T (2 + 2[\text{gated}])\, k f_e}{t}

    The step prices the copies with :func:`~trainplan.model.offload.offload_exposed_layer_s`
    over the host link, hidden behind the layers' computation only (the expert all-to-alls,
    which also run between a copy and its use, are left out of the window: an upper bound
    on the exposed time).

    References
    ----------
    .. [1] NVIDIA Megatron-Core, "Fine-grained Activation Offloading"
       (``--fine-grained-activation-offloading --offload-modules expert_fc1 moe_act``:
       each module's input is offloaded after its forward and reloaded for its backward).
    """
    # the routed experts' module only: shared experts keep theirs
    width = arch.top_k * arch.moe_ffn_hidden
    gate = 2.0 + 2.0 * np.where(arch.gated_mlp, 1.0, 0.0)
    inputs = (saved_routed_copy_bytes(arch, layout)
              + layout.tokens_microbatch * gate * width / layout.tp)
    applies = (np.asarray(layout.offload_moe_inputs, dtype=bool) & (as_float(arch.moe_share) > 0)
               & (np.asarray(layout.recompute) != Recompute.FULL)
               & ~np.asarray(layout.recompute_moe, dtype=bool))
    return np.where(applies, inputs, 0.0)
