"""Named constants of the step model, each with the sentence that justifies it.

Byte sizes, the forward/backward work ratios, and how many collectives and
transfers one layer, one micro-batch or one step performs. Unit conversions
of the outputs are at the end. The model takes them from here instead of
writing bare ``2.0``/``3.0``/``4.0`` into its expressions.
"""

from __future__ import annotations

# --- bytes per element --------------------------------------------------------------------------

BYTES_16BIT = 2.0
"""Bytes of one bf16 / fp16 element."""

BYTES_FP8 = 1.0
"""Bytes of one FP8 (E4M3 / E5M2) element."""

ACTIVATION_BYTES = BYTES_16BIT
"""Bytes per stored or communicated activation element (16-bit activations; Korthikanti et al.
2022, Table 2)."""

PARAM_BYTES = BYTES_16BIT
"""Bytes per 16-bit weight held for the forward and backward (Rajbhandari et al. 2020, ZeRO,
Sec. 3.1)."""

BYTES_FP32 = 4.0
"""Bytes of one fp32 element (the optimizer's master copy of a weight)."""

# --- work of the backward pass ------------------------------------------------------------------

BACKWARD_PER_FORWARD = 2.0
"""A matrix product's backward costs twice its forward: one product for the input gradient and
one for the weight gradient, each as large as the forward (Narayanan et al. 2021, Sec. 3)."""

FORWARD_BACKWARD_FACTOR = 1.0 + BACKWARD_PER_FORWARD
"""Forward plus backward is three forwards (the same sentence as above); applied to the model
FLOPs, the embedding and LM-head time and the split of the FP8 cast traffic."""

CROSS_ENTROPY_PASSES = 2.0
"""The softmax cross-entropy reads the logits once and writes their gradient once."""

# --- keys and values ----------------------------------------------------------------------------

KEY_VALUE_TENSORS = 2.0
"""Attention keeps two tensors per key/value head, the keys and the values."""

# --- collectives of tensor parallelism (Shoeybi et al. 2019, Sec. 3; Korthikanti et al. 2022) ---

TP_COLLECTIVES_FORWARD = 2.0
"""All-reduces of one layer's forward under tensor parallelism: one after the attention block,
one after the MLP (the ``g`` operators of Megatron-LM)."""

TP_COLLECTIVES_BACKWARD = 2.0
"""All-reduces of one layer's backward: the input gradients of the attention and of the MLP
block (the ``f`` operators)."""

COLLECTIVES_PER_ALLREDUCE = 2.0
"""Under sequence parallelism each all-reduce becomes an all-gather plus a reduce-scatter of
the same buffer (an all-reduce is a reduce-scatter followed by an all-gather)."""

# --- context parallelism (ring attention) -------------------------------------------------------

CP_EXCHANGES_FORWARD = 1.0
"""Ring-attention forward: the key/value chunks go once around the ring."""

CP_EXCHANGES_BACKWARD = 2.0
"""Ring-attention backward: the key/value chunks go around again and their gradients travel
back the same way, twice the forward traffic."""

# --- ZeRO-3 and pipeline point-to-point ---------------------------------------------------------

ZERO3_GATHERS = 2.0
"""ZeRO-3 gathers a stage's parameters twice per micro-batch, for the forward and for the
backward (Rajbhandari et al. 2020, Sec. 5.3); a recomputed forward gathers them once more."""

PP_TRANSFERS_PER_MICROBATCH = 2.0
"""Each micro-batch crosses each stage boundary twice: its activations forward and their
gradients backward (Narayanan et al. 2021, Sec. 2.2)."""

# --- unit conversions of the outputs ------------------------------------------------------------

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
JOULES_PER_MWH = 3.6e9
"""1 MWh = 1e6 Wh x 3600 s/h."""
FLOP_PER_TFLOP = 1e12
