"""The baseline of "memory reduction vs DP": plain data parallelism of the same job."""

from __future__ import annotations

import polars as pl

from trainplan import evaluate
from trainplan.analysis.replicated import replicated_memory_bytes


def _row(**changes) -> dict:
    base = {"model": "llama2-7b", "gpu": "A100", "n_gpus": 16, "global_batch": 64,
            "tp": 2, "pp": 2, "zero_stage": 3, "recompute": "full", "micro_batch": 2}
    return evaluate(pl.DataFrame([{**base, **changes}])).row(0, named=True)


def test_plain_dp_holds_the_whole_mixed_precision_adam_state():
    # ZeRO paper (Rajbhandari et al. 2020, Sec. 3.1): 2 + 2 + 12 = 16 bytes per parameter
    # at least, whatever layout the row had
    row = _row()
    replicated = replicated_memory_bytes(row)
    assert replicated >= 16 * row["params_total"]
    assert replicated > row["memory_total_bytes"]
    assert replicated == replicated_memory_bytes(_row(tp=1, pp=4, zero_stage=1))


def test_a_row_that_cannot_be_evaluated_gives_none():
    assert replicated_memory_bytes({"n_gpus": 8, "model": "no such model"}) is None
