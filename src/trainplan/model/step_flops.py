r"""FLOPs of one training step over the global batch: the layer formulas of
:mod:`trainplan.model.flops` applied to a model and its layout, with the attention
variants, experts and multi-token-prediction modules.

References
----------
.. [1] V. Korthikanti et al., arXiv:2205.05198, eq. (7) and Sec. 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model._array import ArrayLike, NDArrayFloat
from trainplan.model.choices import Recompute
from trainplan.model.config import Architecture, Layout
from trainplan.model.constants import FORWARD_BACKWARD_FACTOR
from trainplan.model.flops import (
    attention_core_flop,
    hardware_flop,
    layer_forward_flop,
    logits_flop,
    model_flop,
)
from trainplan.model.moe_recompute import moe_block_forward_flop, moe_block_recomputed
from trainplan.model.op_sac import op_sac_applies, op_sac_recomputed_share

__all__ = ["StepFlop", "step_flop"]


@dataclass(frozen=True)
class StepFlop:
    """FLOPs of one training step."""

    tokens: NDArrayFloat
    """Tokens of the step, ``B s`` [tokens]."""
    model: NDArrayFloat
    """Model FLOPs (forward + backward) [FLOP]."""
    hardware: NDArrayFloat
    """Model FLOPs plus recomputation [FLOP]."""


def step_flop(arch: Architecture, layout: Layout,
              variant: tuple[ArrayLike, ArrayLike] | None = None) -> StepFlop:
    r"""
    Model and hardware FLOPs of one step over the global batch.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Global batch :math:`B` and the recomputation choice.
    variant : tuple of array_like, optional
        Forward FLOPs of one layer beyond the dense formula, and their attention-core part
        (:func:`~trainplan.model.moe_step.variant_layer_forward_flop`) [FLOP]; the MLP
        term uses the active width
        (:attr:`~trainplan.model.config.Architecture.ffn_active`). Multi-token-prediction
        modules add one layer, a :math:`2h \times h` projection and the output layer each.
        Recomputed MoE blocks add their forward
        (:func:`~trainplan.model.moe_recompute.moe_block_forward_flop`) to the hardware FLOPs.

    Returns
    -------
    StepFlop

    Notes
    -----
    :func:`model_flop` and :func:`hardware_flop` over :math:`T = B s` tokens.

    References
    ----------
    .. [1] V. Korthikanti et al., arXiv:2205.05198, eq. (7) and Sec. 5.
    """
    tokens = layout.global_batch * arch.seq_len
    shape = (arch.n_layers, arch.seq_len, arch.hidden, arch.n_heads, arch.n_kv_heads,
             arch.ffn_active, arch.gated_mlp, arch.vocab)
    extra, extra_core = variant if variant is not None else (0.0, 0.0)
    extra_model = FORWARD_BACKWARD_FACTOR * arch.n_layers * extra
    rc = np.asarray(layout.recompute)
    extra_recompute = arch.n_layers * (np.where(
        rc == Recompute.FULL, layout.full_recompute_share * extra,
        np.where(rc == Recompute.SELECTIVE, extra_core, 0.0))
        + np.where(moe_block_recomputed(arch, layout), moe_block_forward_flop(tokens, arch), 0.0))
    # operator-level selective recomputation: the products it does not keep, no attention core
    core = attention_core_flop(tokens, arch.seq_len, arch.hidden)
    products = layer_forward_flop(tokens, *shape[1:7]) - core
    extra_recompute = extra_recompute + arch.n_layers * np.where(
        op_sac_applies(arch, layout),
        op_sac_recomputed_share(arch.hidden, arch.n_kv_heads, arch.n_heads, arch.ffn_active)
        * products - core, 0.0)
    # multi-token prediction: one more layer, its 2h x h projection and the output layer
    mtp = FORWARD_BACKWARD_FACTOR * arch.mtp_layers * (
        layer_forward_flop(tokens, *shape[1:7]) + extra + logits_flop(tokens, arch.hidden,
                                                                        arch.vocab)
        + 2.0 * tokens * 2.0 * arch.hidden * arch.hidden)
    extra_model = extra_model + mtp
    model = model_flop(tokens, *shape) + extra_model
    return StepFlop(tokens=tokens, model=model,
                    hardware=hardware_flop(tokens, *shape, layout.recompute,
                                           layout.full_recompute_share)
                    + extra_model + extra_recompute)

