"""Floating-point operations of the training step.

Counts are [FLOP], with one multiply-accumulate = 2 FLOP. Only matrix
multiplications are counted (the convention of every source below); the
element-wise work is priced separately as memory traffic (see
:mod:`trainplan.model.compute`). Attention scores are counted over the full
``s x s`` square, as in all the conventions reproduced here, even though a
causal mask makes half of them unused.

*Model FLOPs* are the FLOPs of one forward and one backward pass (backward =
2x forward); *hardware FLOPs* add whatever recomputation re-executes.

References
----------
.. [1] D. Narayanan et al., SC21, arXiv:2104.04473, eq. (3):
   ``F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h))`` (includes the extra forward
   pass of full activation recomputation).
.. [2] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198, eq. (7) (model FLOPs
   ``72 B L s h^2 (1 + s/(6h) + V/(12 h L))``) and eq. (8) (hardware FLOPs with
   selective recomputation ``72 B L s h^2 (1 + s/(3h) + V/(12 h L))``).
.. [3] NVIDIA Megatron-LM, ``megatron/training/training.py``
   ``num_floating_point_operations`` and the README performance table (2024):
   ``12 B s L h^2 [(1 + g/a + s/h) q/h + (f/h) (1.5 if SwiGLU) + V/(2 L h)]``.
.. [4] A. Chowdhery et al., "PaLM", arXiv:2204.02311, Appendix B: model FLOPs
   per token ``6 N + 12 L H Q T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainplan.model._array import NDArrayFloat, as_float
from trainplan.model.choices import Recompute
from trainplan.model.config import Architecture, Layout
from trainplan.model.constants import FORWARD_BACKWARD_FACTOR


def qkv_projection_flop(tokens, hidden, n_heads, n_kv_heads):
    """Forward FLOPs of the Q, K, V projections: ``2 T h d (a + 2 kv)`` [FLOP]."""
    h = as_float(hidden)
    a, kv = as_float(n_heads), as_float(n_kv_heads)
    return 2.0 * as_float(tokens) * h * (h / a) * (a + 2.0 * kv)


def attention_output_flop(tokens, hidden):
    """Forward FLOPs of the attention output projection ``2 T h^2`` [FLOP]."""
    return 2.0 * as_float(tokens) * as_float(hidden) ** 2


def attention_core_flop(tokens, seq_len, hidden):
    """Forward FLOPs of ``Q K^T`` and ``softmax(.) V``: ``4 T s h`` [FLOP] (full square) [2]."""
    return 4.0 * as_float(tokens) * as_float(seq_len) * as_float(hidden)


def mlp_flop(tokens, hidden, ffn_hidden, gated_mlp):
    """Forward FLOPs of the MLP: ``4 T h f``, or ``6 T h f`` for a gated MLP [FLOP] [3]."""
    return (as_float(tokens) * as_float(hidden) * as_float(ffn_hidden)
            * np.where(gated_mlp, 6.0, 4.0))


def logits_flop(tokens, hidden, vocab):
    """Forward FLOPs of the output layer ``2 T h V`` [FLOP] [1]."""
    return 2.0 * as_float(tokens) * as_float(hidden) * as_float(vocab)


def layer_forward_flop(tokens, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp):
    """Forward FLOPs of one transformer layer for ``tokens`` tokens [FLOP].

    For a GPT layer: ``24 T h^2 (1 + s/(6h))`` [2].
    """
    return (
        qkv_projection_flop(tokens, hidden, n_heads, n_kv_heads)
        + attention_output_flop(tokens, hidden)
        + attention_core_flop(tokens, seq_len, hidden)
        + mlp_flop(tokens, hidden, ffn_hidden, gated_mlp)
    )


def model_flop(tokens, n_layers, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp,
               vocab):
    """Model FLOPs of forward + backward over ``tokens`` tokens [FLOP].

    Equals Korthikanti eq. (7) [2] for a GPT model and Megatron-Core's
    ``num_floating_point_operations`` [3] for any GQA / SwiGLU model.
    """
    forward = as_float(n_layers) * layer_forward_flop(
        tokens, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp
    ) + logits_flop(tokens, hidden, vocab)
    return FORWARD_BACKWARD_FACTOR * forward


def recompute_flop(tokens, n_layers, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp,
                   recompute):
    """FLOPs re-executed by activation recomputation [FLOP].

    ``recompute`` is a :class:`~trainplan.model.choices.Recompute` code: none,
    selective (the attention core ``Q K^T``, softmax, ``softmax V`` is
    recomputed [2]) or full (one extra forward of every layer [1]).
    """
    rc = np.asarray(recompute)
    full = as_float(n_layers) * layer_forward_flop(
        tokens, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp
    )
    selective = as_float(n_layers) * attention_core_flop(tokens, seq_len, hidden)
    return np.where(rc == Recompute.FULL, full, np.where(rc == Recompute.SELECTIVE, selective, 0.0))


def hardware_flop(tokens, n_layers, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp,
                  vocab, recompute):
    """Hardware FLOPs: model FLOPs plus recomputation [FLOP].

    With full recomputation this equals Narayanan eq. (3) [1] for a GPT model.
    """
    return model_flop(
        tokens, n_layers, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, vocab
    ) + recompute_flop(
        tokens, n_layers, seq_len, hidden, n_heads, n_kv_heads, ffn_hidden, gated_mlp, recompute
    )


# --- published conventions, reproduced literally ---------------------------------------------


def narayanan_eq3_flop(batch, seq_len, n_layers, hidden, vocab):
    """Narayanan et al. 2021 eq. (3): ``96 B s l h^2 (1 + s/(6h) + V/(16 l h))`` [FLOP] [1]."""
    b, s, l, h, v = (as_float(x) for x in (batch, seq_len, n_layers, hidden, vocab))
    return 96.0 * b * s * l * h**2 * (1.0 + s / (6.0 * h) + v / (16.0 * l * h))


def korthikanti_eq7_model_flop(batch, seq_len, n_layers, hidden, vocab):
    """Korthikanti et al. 2022 eq. (7): ``72 B L s h^2 (1 + s/(6h) + V/(12 h L))`` [FLOP] [2]."""
    b, s, l, h, v = (as_float(x) for x in (batch, seq_len, n_layers, hidden, vocab))
    return 72.0 * b * l * s * h**2 * (1.0 + s / (6.0 * h) + v / (12.0 * h * l))


def korthikanti_eq8_hardware_flop(batch, seq_len, n_layers, hidden, vocab):
    """Korthikanti et al. 2022 eq. (8), selective recompute:
    ``72 B L s h^2 (1 + s/(3h) + V/(12 h L))`` [FLOP] [2].

    Note that eq. (8) adds ``12 B L s^2 h``, i.e. the forward *and* backward of
    the attention core, whereas :func:`hardware_flop` adds only the recomputed
    forward (``4 B L s^2 h``); eq. (8) is reproduced here as published.
    """
    b, s, l, h, v = (as_float(x) for x in (batch, seq_len, n_layers, hidden, vocab))
    return 72.0 * b * l * s * h**2 * (1.0 + s / (3.0 * h) + v / (12.0 * h * l))


def megatron_core_flop(batch, seq_len, n_layers, hidden, n_heads, n_kv_heads, ffn_hidden,
                       gated_mlp, vocab):
    """Megatron-Core ``num_floating_point_operations`` (2024) [FLOP] [3].

    ``12 B s L h^2 [(1 + g/a + s/h) q/h + (f/h)(1.5 if SwiGLU) + V/(2 L h)]``
    with ``q = h`` (query projection width) and ``g`` key/value heads.
    """
    b, s, l, h = as_float(batch), as_float(seq_len), as_float(n_layers), as_float(hidden)
    a, g, f, v = as_float(n_heads), as_float(n_kv_heads), as_float(ffn_hidden), as_float(vocab)
    gated = np.where(gated_mlp, 1.5, 1.0)
    return 12.0 * b * s * l * h**2 * ((1.0 + g / a + s / h) + (f / h) * gated + v / (2.0 * l * h))


def palm_model_flop_per_token(n_params, n_layers, hidden, seq_len):
    """PaLM Appendix B: ``6 N + 12 L H Q T`` model FLOPs per token [FLOP] [4] (``H Q = h``)."""
    return (6.0 * as_float(n_params)
            + 12.0 * as_float(n_layers) * as_float(hidden) * as_float(seq_len))


@dataclass(frozen=True)
class StepFlop:
    """FLOPs of one training step."""

    tokens: NDArrayFloat
    """Tokens of the step, ``B s`` [tokens]."""
    model: NDArrayFloat
    """Model FLOPs (forward + backward) [FLOP]."""
    hardware: NDArrayFloat
    """Model FLOPs plus recomputation [FLOP]."""


def step_flop(arch: Architecture, layout: Layout) -> StepFlop:
    r"""
    Model and hardware FLOPs of one step over the global batch [1]_ [2]_.

    Parameters
    ----------
    arch : Architecture
        The model.
    layout : Layout
        Global batch :math:`B` and the recomputation choice.

    Returns
    -------
    StepFlop

    Notes
    -----
    :func:`model_flop` and :func:`hardware_flop` over :math:`T = B s` tokens.
    """
    tokens = layout.global_batch * arch.seq_len
    shape = (arch.n_layers, arch.seq_len, arch.hidden, arch.n_heads, arch.n_kv_heads,
             arch.ffn_hidden, arch.gated_mlp, arch.vocab)
    return StepFlop(tokens=tokens, model=model_flop(tokens, *shape),
                    hardware=hardware_flop(tokens, *shape, layout.recompute))
