"""Rows of a scenario, selected by scenario_id; the scaling series of a scenario."""

from __future__ import annotations

import math

import polars as pl

from trainplan.render.figures._tables import col, reference, scenario_rows, series_ids


def _best() -> pl.DataFrame:
    """Six scenarios: two models x GPU counts, one with another price (NaN: no price)."""
    rows = [  # scenario_id, model, n_gpus, price, strategy, feasible, step, tp
        (1, "a", 8, math.nan, "TP", True, 2.0, 2), (1, "a", 8, math.nan, "DP", True, 3.0, 1),
        (2, "a", 16, math.nan, "DP", True, 1.5, 1), (3, "a", 32, math.nan, "DP", False, 1.0, 1),
        (4, "b", 16, math.nan, "DP", True, 9.0, 1), (5, "a", 16, 2.0, "DP", True, 1.4, 1),
        (6, "a", 64, None, "DP", True, 0.5, 1),
    ]
    names = ["scenario_id", "model", "n_gpus", "price_per_gpu_hour_usd", "strategy", "feasible",
             "step_time_s", "tp"]
    return pl.DataFrame(rows, schema=names, orient="row")


def test_series_ids_differ_only_in_the_varying_input():
    best = _best()
    assert sorted(series_ids(best, 1, "n_gpus")) == [1, 2, 3]
    assert series_ids(best, 4, "n_gpus") == [4]
    assert sorted(series_ids(best, 4, "model")) == [2, 4]
    assert series_ids(best, 6, "n_gpus") == [6]        # a missing price matches only itself
    assert series_ids(best, 99, "n_gpus") == []
    assert series_ids(best.drop("scenario_id"), 1, "n_gpus") == []


def test_series_ids_ignore_layout_columns():
    """tp is a layout choice: it varies inside a scenario and never splits a series."""
    best = _best().with_columns(pl.when(pl.col("scenario_id") == 2).then(8)
                                .otherwise(pl.col("tp")).alias("tp"))
    assert sorted(series_ids(best, 1, "n_gpus")) == [1, 2, 3]


def test_scenario_rows_by_id():
    best = _best()
    assert scenario_rows(best, 1)["strategy"].to_list() == ["TP", "DP"]
    assert scenario_rows(best, 99).height == 0
    assert scenario_rows(best.drop("scenario_id"), 1).height == 0


def test_reference_one_row_per_strategy_in_display_order():
    best = pl.concat([_best(), _best().filter(pl.col("scenario_id") == 1)
                      .with_columns(pl.lit(7.0).alias("step_time_s"))])
    ref = reference(best, 1)
    assert ref["strategy"].to_list() == ["DP", "TP"]
    assert ref["step_time_s"].to_list() == [3.0, 2.0]


def test_col_fills_nulls_and_missing_columns_with_nan():
    df = pl.DataFrame({"x": [1, None]})
    assert math.isnan(col(df, "x")[1]) and col(df, "x")[0] == 1.0
    assert all(math.isnan(v) for v in col(df, "nope"))
