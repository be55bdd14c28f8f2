"""The memory plain data parallelism would need: the baseline of "memory reduction vs DP"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from trainplan.schema.inputs import INPUTS, InputError
from trainplan.schema.table import evaluate

_INPUT_NAMES = frozenset(spec.name for spec in INPUTS)
REPLICATED = {"tp": 1, "pp": 1, "cp": 1, "vpp": 1, "zero_stage": 0, "recompute": "none",
              "recompute_fraction": 1.0, "micro_batch": 1, "seq_parallel": False}
"""The layout of plain data parallelism: every GPU holds the whole model state, nothing is
sharded or recomputed, one sequence per micro-batch."""


def replicated_memory_bytes(row: Mapping[str, Any]) -> float | None:
    """Memory per GPU [bytes] of plain data parallelism (:data:`REPLICATED`) for the model,
    cluster and job of ``row`` (a row of ``best.parquet``): ``dp = n_gpus``, weights,
    gradients and optimizer states replicated, activations of one micro-batch kept.

    The classic baseline of the ZeRO paper's Figure 1 (Rajbhandari et al. 2020): the memory
    each strategy saves is measured against it. None when the row cannot be evaluated with
    that layout (e.g. a missing input).
    """
    inputs = {k: v for k, v in row.items() if k in _INPUT_NAMES}
    inputs.update(REPLICATED, dp=int(row["n_gpus"]))
    try:
        out = evaluate(pl.DataFrame([inputs], infer_schema_length=None))
    except (InputError, ValueError, TypeError):
        return None
    value = out["memory_total_bytes"][0]
    return float(value) if value is not None and value > 0 else None
