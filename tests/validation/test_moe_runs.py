"""The held-out mixture-of-experts runs as a new user's table: expert columns and catalog
names are read, every row is scored or listed with its reason, never a traceback."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from trainplan.validation import runs
from trainplan.validation.text import format_text

MOE_RUNS = Path(__file__).parents[2] / "benchmarks" / "heldout" / "moe_runs.csv"


@pytest.fixture(scope="module")
def results() -> pl.DataFrame:
    table = pl.read_csv(MOE_RUNS, infer_schema_length=0)
    return runs.predict_runs(table)


def test_every_row_is_scored_or_says_why(results):
    assert results.height == pl.read_csv(MOE_RUNS, infer_schema_length=0).height
    scored = results.filter(pl.col("abs_err_pct").is_not_null())
    assert scored.height >= 20
    unscored = results.filter(pl.col("abs_err_pct").is_null())
    for r in unscored.iter_rows(named=True):
        assert r["reason_not_represented"] or r["reason_not_scored"] \
            or not r["measured_step_time_s"], r["row_id"]
    assert results.filter(pl.col("represented"))["experts"].all()


def test_catalog_names_fill_the_architecture(results):
    ds = results.filter(pl.col("row_id") == "moe_mb02").row(0, named=True)
    assert "from catalog entry deepseek-v3" in ds["assumptions"]
    qwen2 = results.filter(pl.col("row_id") == "moe_pf03").row(0, named=True)
    assert qwen2["represented"]          # not in the catalog: its columns state the experts


def test_the_text_reports_the_experts_apart(results):
    text = format_text(results)
    assert "mixture-of-experts   median_abs_err_pct=" in text
    assert text.splitlines()[-1].startswith("median_abs_err_pct=")
