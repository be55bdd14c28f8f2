"""What the figures read from the tables: columns as arrays, feasibility and the rows of a
scenario, selected by ``scenario_id``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from trainplan.render.figures._style import strategy_order
from trainplan.schema.inputs import INPUTS

SCENARIO_INPUTS = tuple(i.name for i in INPUTS if not i.layout)
"""Inputs that are not layout choices: they define a scenario (constant within one)."""


@dataclass(frozen=True)
class Context:
    """What the figure functions draw from."""

    best: pl.DataFrame
    tp_pp: pl.DataFrame
    pareto: pl.DataFrame
    ref: pl.DataFrame
    scenario_id: int
    label: str
    axes: tuple[str, ...] = ()
    """The sweep's scenario axes (the varied inputs its question is about)."""
    replicated_memory_bytes: float | None = None
    """Memory per GPU of plain data parallelism for the reference scenario [bytes]."""


def col(df: pl.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as float64 with nulls (and a missing column) as NaN."""
    if name not in df.columns:
        return np.full(df.height, np.nan)
    return df[name].cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)


def feasible(df: pl.DataFrame) -> np.ndarray:
    """Boolean mask of the feasible rows (a missing column means none)."""
    if "feasible" not in df.columns:
        return np.zeros(df.height, dtype=bool)
    return df["feasible"].fill_null(False).to_numpy().astype(bool)


def feasible_rows(df: pl.DataFrame) -> pl.DataFrame:
    """The feasible rows of ``df``."""
    return df.filter(pl.Series(feasible(df))) if df.height else df


def names(df: pl.DataFrame) -> list[str]:
    """Strategy labels of the rows of ``df``."""
    return [str(s) for s in df["strategy"].to_list()] if "strategy" in df.columns else []


def sort_strategies(df: pl.DataFrame) -> pl.DataFrame:
    """One row per strategy (feasible and fastest first) in the fixed display order."""
    if df.height == 0 or "strategy" not in df.columns:
        return df
    order = {name: i for i, name in enumerate(strategy_order(names(df)))}
    keyed = df.with_columns(
        pl.Series("_order", [order[n] for n in names(df)], dtype=pl.Int64),
        pl.Series("_infeasible", ~feasible(df)),
        pl.Series("_step", col(df, "step_time_s")).fill_nan(None))
    keyed = keyed.sort(["_order", "_infeasible", "_step"], nulls_last=True)
    return keyed.unique("_order", keep="first", maintain_order=True).drop(
        "_order", "_infeasible", "_step")


def reference(best: pl.DataFrame, scenario_id: int) -> pl.DataFrame:
    """Rows of ``best`` of the reference scenario, one per strategy, in display order."""
    if best.height == 0 or "scenario_id" not in best.columns or "strategy" not in best.columns:
        return best.clear() if best.width else best
    return sort_strategies(best.filter(pl.col("scenario_id") == scenario_id))


def scenario_rows(df: pl.DataFrame, scenario_id: int) -> pl.DataFrame:
    """Rows of ``df`` whose ``scenario_id`` is ``scenario_id`` (none without the column)."""
    if "scenario_id" not in df.columns:
        return df.clear()
    return df.filter(pl.col("scenario_id") == scenario_id)


def _equal(name: str, value) -> pl.Expr:
    """``name == value``, with None equal to null and NaN equal to NaN."""
    if value is None:
        return pl.col(name).is_null()
    if isinstance(value, float) and math.isnan(value):
        return pl.col(name).is_nan()
    return pl.col(name) == value


def series_ids(best: pl.DataFrame, scenario_id: int, varying: str) -> list[int]:
    """Ids of the scenarios of ``best`` that differ from ``scenario_id`` only in ``varying``.

    A scenario is named by its non-layout inputs (:data:`SCENARIO_INPUTS`); one row per id
    is compared, never the rows of a table against each other.
    """
    if "scenario_id" not in best.columns:
        return []
    keys = [c for c in SCENARIO_INPUTS if c in best.columns and c != varying]
    scenarios = best.select("scenario_id", *keys).unique("scenario_id", keep="first",
                                                        maintain_order=True)
    ref = scenarios.filter(pl.col("scenario_id") == scenario_id)
    if ref.height == 0:
        return []
    same = [_equal(c, ref[c][0]) for c in keys]
    return (scenarios.filter(*same) if same else scenarios)["scenario_id"].to_list()
