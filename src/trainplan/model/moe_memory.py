r"""What experts and attention variants add to the memory of a layer's activations.

The routed copies of the tokens an expert-parallel layer dispatches, the router's
probabilities and the attention variants' extra activations that the dense activation
formulas (:mod:`trainplan.model.activations`) do not hold, and the dispatcher's buffers.
Every term is zero for a dense model with :math:`h/a`-wide heads; the copies are
:func:`trainplan.model.moe_step.routed_copy_bytes`.
"""

from __future__ import annotations

import numpy as np

from trainplan.model._array import NDArrayFloat
from trainplan.model.config import Architecture, Layout
from trainplan.model.moe_step import routed_copy_bytes

ROUTER_LOGIT_BYTES = 4.0
"""Bytes of one router logit or probability kept for the backward (fp32, as Megatron-Core's
router computes the softmax / sigmoid) [bytes]."""


def saved_routed_copy_bytes(arch: Architecture, layout: Layout) -> NDArrayFloat:
    r"""
    The routed copies the first expert GEMM keeps for its weight gradient.

    Parameters
    ----------
    arch, layout : Architecture, Layout
        The model and its split (FP8) [-].

    Returns
    -------
    numpy.ndarray
        :math:`(2 - [\text{FP8}]) R h` [bytes]: the 16-bit permuted copy, or under FP8 the
        one-byte cast the FP8 GEMM keeps instead (as for the dense linear layers,
        :func:`~trainplan.model.activations.activation_bytes_per_layer`).

    References
    ----------
    .. [1] NVIDIA Transformer Engine documentation, "Using FP8 with Transformer Engine":
       FP8 GEMM inputs are saved in FP8 for the backward pass.
    """
    return routed_copy_bytes(arch, layout) * np.where(layout.fp8, 0.5, 1.0)


def variant_activation_bytes(arch: Architecture, layout: Layout) -> NDArrayFloat:
    r"""
    Activations one layer stores beyond the dense formula with the active MLP width.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Micro-batch, degrees.

    Returns
    -------
    numpy.ndarray
        Bytes per layer and micro-batch on one GPU [bytes] (not kept under full
        recomputation).

    Notes
    -----
    Wider or latent attention keeps :math:`s b h (c_{attn} - 4 - 4 k_v/a) / t`
    (:func:`~trainplan.model.attention_variants.attention_activation_coefficient`). An MoE
    layer keeps the permuted copy of each routed token (the first expert GEMM's input,
    :math:`2 R h`, one byte per element under FP8: :func:`saved_routed_copy_bytes`) and the
    router's fp32 probabilities (:math:`4 E` per token of the rank):

    .. math::

       \Delta A = [\text{variant}] \frac{s b h}{t} (c_{attn} - 4 - 4 k_v / a)
                 + \phi \left((2 - [\text{FP8}]) R h + 4 E \frac{T}{t}\right)

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, Sec. 4.1.
    .. [2] NVIDIA Megatron-Core MoE README (token permutation before the grouped GEMM).
    """
    sbh = layout.tokens_microbatch * arch.hidden
    dense = 4.0 + 4.0 * arch.n_kv_heads / arch.n_heads
    attention = np.where(arch.variant_attention,
                         sbh * (arch.attention_activation - dense) / layout.tp, 0.0)
    routed = saved_routed_copy_bytes(arch, layout)
    router = ROUTER_LOGIT_BYTES * arch.n_experts * layout.tokens_microbatch / layout.tp
    return attention + arch.moe_share * (routed + router)


def dispatch_buffer_bytes(arch: Architecture, layout: Layout) -> NDArrayFloat:
    r"""
    Send and receive buffers of one all-to-all, live while an MoE layer runs.

    Parameters
    ----------
    arch : Architecture
        The model [-].
    layout : Layout
        The split (:func:`~trainplan.model.moe_step.routed_rows`) [-].

    Returns
    -------
    numpy.ndarray
        :math:`2 \cdot 2 R h` (16-bit) for a model with experts, else 0 [bytes].

    References
    ----------
    .. [1] NVIDIA Megatron-Core MoE README ("alltoall" token dispatcher).
    """
    return np.where(arch.moe_share > 0, 2.0 * routed_copy_bytes(arch, layout), 0.0)
