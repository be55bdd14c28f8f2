"""The answer to a sweep's question, over the axes it varies: what page 1 of a report shows.

Every scenario (one combination of the varied inputs that are not layout choices) gets one
row: its fastest feasible layout, the time and cost of training the token budget with it,
the cost per trillion tokens, and the runner-up strategy with the margin between the two.
The rows are laid out as a matrix: the scenario axis with the most values (at most
:data:`MAX_MATRIX_COLUMNS`) across, the product of the other axes down, so that a sweep over
two axes reads as one table of days and dollars.
"""

from __future__ import annotations

import polars as pl

from trainplan.analysis.summary import display_value, layout_text, optional_float, whole
from trainplan.schema.inputs import INPUT_BY_NAME

MAX_MATRIX_COLUMNS = 9
"""Most columns the answer matrix has (more do not fit an A4 page)."""

TRILLION = 1e12
"""Tokens per trillion tokens."""

EXPECTED = ("goodput", "expected_time_to_train_days", "expected_gpu_hours", "expected_cost_usd")
"""The budget with failures, checkpoints and restarts (:mod:`trainplan.model.goodput`)."""


def axis_title(column: str) -> str:
    """A scenario column as a table heading, with its unit: ``scaleout_gbit_s_per_node [Gb/s]``."""
    spec = INPUT_BY_NAME.get(column)
    unit = f" [{spec.unit}]" if spec is not None and spec.unit not in ("-", "") else ""
    return f"{column}{unit}"


def short_strategy(strategy: str) -> str:
    """``3D (DP x TP x PP) + CP`` -> ``3D + CP``: the label without its parenthesis."""
    head, _, rest = strategy.partition(" (")
    return head + (" + CP" if rest.endswith("+ CP") else "")


def _runner_up(group: pl.DataFrame, first: dict) -> dict | None:
    """The fastest feasible layout of another strategy, with how much slower it is [%]."""
    others = group.filter(pl.col("feasible") & (pl.col("strategy") != first["strategy"]))
    if others.height == 0:
        return None
    second = others.sort(["step_time_s", "config_id"]).row(0, named=True)
    return {"strategy": second["strategy"], "strategy_short": short_strategy(second["strategy"]),
            "layout": layout_text(second),
            "margin_pct": (second["step_time_s"] / first["step_time_s"] - 1.0) * 100.0}


def _row(group: pl.DataFrame, columns: list[str]) -> dict:
    """The answer for one scenario (the rows of best.parquet that share its id)."""
    winners = group.filter(pl.col("rank_in_scenario") == 1)
    any_row = (winners if winners.height else group).row(0, named=True)
    row = {"scenario_id": int(any_row["scenario_id"]),
           "values": {c: display_value(any_row[c]) for c in columns}}
    if winners.height == 0:
        return {**row, "feasible": False, "reason": any_row["reason"]}
    first = winners.row(0, named=True)
    budget = first["tokens_budget"]
    cost = first["cost_usd"]
    per_trillion = cost / budget * TRILLION if budget and cost == cost else None
    return {**row, "feasible": True, "strategy": first["strategy"],
            "strategy_short": short_strategy(first["strategy"]),
            "layout": layout_text(first), "n_gpus": whole(first["n_gpus"]),
            "gpu": first["gpu"], "model": first["model"],
            "time_to_train_days": first["time_to_train_days"], "cost_usd": cost,
            "usd_per_trillion_tokens": per_trillion, "mfu": first["mfu"],
            "tflop_s_per_gpu": first["achieved_tflop_s_per_gpu"],
            "step_time_s": first["step_time_s"], **_expected(first),
            "runner_up": _runner_up(group, first)}


def _expected(row: dict) -> dict:
    """The winner's expected figures (None where the table has none: no token budget, or a
    table written before the budget columns existed)."""
    return {k: optional_float(row.get(k)) for k in EXPECTED}


def _matrix(rows: list[dict], columns: list[str], best: pl.DataFrame) -> dict | None:
    """Rows laid out with one scenario axis across (None for fewer than two axes)."""
    if len(columns) < 2:
        return None
    counts = {c: best[c].n_unique() for c in columns}
    fitting = [c for c in columns if counts[c] <= MAX_MATRIX_COLUMNS]
    if not fitting:
        return None
    across = max(fitting, key=lambda c: (counts[c], -columns.index(c)))
    down = [c for c in columns if c != across]
    heads = list(dict.fromkeys(r["values"][across] for r in rows))
    lines: dict[tuple, dict] = {}
    for r in rows:
        key = tuple(r["values"][c] for c in down)
        line = lines.setdefault(key, {"values": list(key), "cells": [None] * len(heads)})
        line["cells"][heads.index(r["values"][across])] = r
    return {"across": across, "across_title": axis_title(across), "heads": heads,
            "down": down, "down_titles": [axis_title(c) for c in down],
            "lines": list(lines.values())}


def answer(best: pl.DataFrame, columns: list[str]) -> dict:
    """The sweep's answer over its scenario ``columns``.

    Parameters
    ----------
    best : polars.DataFrame
        ``best.parquet`` (every strategy's best row per scenario, ``rank_in_scenario`` 1 for
        the scenario's winner).
    columns : list of str
        The scenario axes (the sweep's varied inputs that are not layout choices).

    Returns
    -------
    dict
        ``axes`` (name and heading of each scenario column), ``rows`` (one per scenario, in
        id order: the winner's strategy, layout, days, cost, USD per trillion tokens, MFU, the
        expected days, GPU-hours and cost with failures and checkpoints (and the goodput), and
        the runner-up with its margin; or ``feasible`` False with the reason) and ``matrix``
        (the rows with one axis across; None for fewer than two axes).
    """
    ids = best["scenario_id"].unique().sort().to_list()
    rows = [_row(best.filter(pl.col("scenario_id") == sid), columns) for sid in ids]
    return {"axes": [{"name": c, "title": axis_title(c)} for c in columns], "rows": rows,
            "matrix": _matrix(rows, columns, best)}
