"""The orchestrator's result type: one documented field per output column."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl

from trainplan.model.result import StepResult
from trainplan.model.step import evaluate_arrays
from trainplan.schema.outputs import OUTPUT_COLUMNS, OUTPUTS
from trainplan.schema.resolve import derive
from trainplan.schema.table import resolve

LABELS = {"strategy", "feasible", "reason", "bottleneck"}


def test_fields_are_the_numeric_outputs_in_table_order_with_their_units():
    names = [f.name for f in dataclasses.fields(StepResult)]
    # the order of the table, except that the flags come last (as evaluate_arrays gave them)
    assert names == [c for c in OUTPUT_COLUMNS if c not in LABELS | {"infeasible_flags"}] + [
        "infeasible_flags"]
    for f in dataclasses.fields(StepResult):
        assert (f.metadata["unit"], f.metadata["description"]) == OUTPUTS[f.name]


def test_evaluate_arrays_returns_a_broadcast_result():
    rows = pl.DataFrame({"model": ["llama3-8b", "llama3-70b"], "gpu": ["H100", "A100"],
                         "n_gpus": [8, 64], "tp": [1, 8], "global_batch": [64, 256]})
    arrays = derive(resolve(rows).values)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = evaluate_arrays(arrays)
    assert isinstance(result, StepResult)
    out = result.as_dict()
    assert list(out) == [f.name for f in dataclasses.fields(StepResult)]
    assert {v.shape for v in out.values()} == {(2,)}
    assert out["fits_memory"].dtype == bool and out["infeasible_flags"].dtype == np.int64
    assert (out["step_time_s"] > 0).all()
