"""``analyse`` on the baseline tables: the analysis.json of the pre-restructuring code,
whatever the dtype of the integer columns of best.parquet."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from conftest import TEST_SWEEPS

from trainplan.analysis import analyse, assumptions, models_table
from trainplan.analysis.summary import INTEGER_COLUMNS
from trainplan.sweep.file import load_sweep

TESTS = Path(__file__).parents[1]
ROOT = TESTS.parent
BASELINE = TESTS / "data" / "baseline"
EXPECTED = Path(__file__).parent / "data"
SWEEPS = {"tiny": TEST_SWEEPS / "tiny.yaml", "small_dp": TEST_SWEEPS / "small_dp.yaml",
          "original_study": ROOT / "sweeps" / "original_study.yaml"}


def _analysis_json(name: str, best: pl.DataFrame) -> str:
    """analysis.json as ``trainplan analyse`` writes it."""
    counts = json.loads((BASELINE / name / "counts.json").read_text())
    result = analyse(load_sweep(SWEEPS[name]), best, counts)
    return json.dumps(result, indent=1, sort_keys=True, default=str) + "\n"


def _as_int64(best: pl.DataFrame) -> pl.DataFrame:
    """Integer columns as Int64, null where not whole (``dp`` of a layout that does not
    divide the cluster)."""
    cols = [c for c in INTEGER_COLUMNS if c != "n_microbatches" and c in best.columns]
    return best.with_columns(pl.when(pl.col(c) == pl.col(c).round()).then(pl.col(c))
                             .cast(pl.Int64).alias(c) for c in cols)


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_analysis_json_of_the_int64_tables(name):
    """The pipeline's tables (integers as Int64) give the expected analysis.json exactly."""
    best = _as_int64(pl.read_parquet(BASELINE / name / "best.parquet"))
    assert best["tp"].dtype == pl.Int64
    assert _analysis_json(name, best) == (EXPECTED / f"{name}.json").read_text()


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_the_pre_restructuring_tables_give_the_same_values(name):
    """The baseline's Float64 tables (before integers stayed integers) say the same: every
    number equal (8.0 == 8), every text equal."""
    best = pl.read_parquet(BASELINE / name / "best.parquet")
    assert json.loads(_analysis_json(name, best)) == \
        json.loads((EXPECTED / f"{name}.json").read_text())


def test_an_empty_table_has_no_reference():
    best = pl.read_parquet(BASELINE / "tiny" / "best.parquet").clear()
    result = analyse(load_sweep(SWEEPS["tiny"]), best, {})
    assert result["reference"] is None and result["models"] == [] and result["scaling"] == []


def test_assumptions_mark_defaults_and_varied_axes():
    rows = {a["name"]: a for a in assumptions(load_sweep(SWEEPS["tiny"]))}
    assert rows["tp"]["values"] == ["1", "2", "4", "8"] and rows["tp"]["varied"]
    assert rows["tokens_budget"]["values"] == ["100,000,000,000"]
    assert not rows["tokens_budget"]["default"] and rows["tokens_budget"]["source"] == ""
    assert rows["dp"]["values"] == ["n_gpus / (tp pp cp)"] and rows["dp"]["default"]
    assert "n_layers" not in rows                     # architecture: the model table


def test_models_table_names_the_catalog_source():
    best = pl.read_parquet(BASELINE / "tiny" / "best.parquet")
    models = models_table(best)
    assert [m["model"] for m in models] == ["llama2-13b", "llama2-7b"]
    assert (models[1]["n_layers"], models[1]["hidden"], models[1]["gated_mlp"]) == \
        (32, 4096, True)
    assert "Touvron" in models[1]["source"] or "arXiv" in models[1]["source"]
