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

MAX_MATRIX_COLUMNS = 10
"""Most columns the answer matrix has (more do not fit an A4 page)."""

MAX_PAGE1_LINES = 10
"""Most lines of the answer on page 1; a sweep with more scenarios shows on page 1 the fastest
scenario over its minor axes (:func:`page1_axes`) and every scenario in an appendix."""

PRIMARY_AXES = ("model", "gpu", "n_gpus")
"""The axes a page-1 answer keeps longest: which model, on which GPU, on how many."""

TRILLION = 1e12
"""Tokens per trillion tokens."""

EXPECTED = ("goodput", "expected_time_to_train_days", "expected_gpu_hours", "expected_cost_usd")
"""The budget with failures, checkpoints and restarts (:mod:`trainplan.model.goodput`)."""


AXIS_LABELS = {
    "model": "model", "gpu": "GPU", "n_gpus": "GPUs", "gpus_per_node": "GPUs per node",
    "scaleout_gbit_s_per_node": "scale-out bandwidth per node",
    "scaleup_domain_gpus": "scale-up domain", "precision": "precision",
    "seq_len": "sequence length", "global_batch": "global batch", "framework": "framework",
    "tokens_budget": "token budget", "price_per_gpu_hour_usd": "price",
}
"""Words for the scenario axes sweeps vary most; any other axis is named by its column."""


def axis_label(column: str) -> str:
    """A scenario column in words: ``scale-out bandwidth per node``."""
    return AXIS_LABELS.get(column, column)


def axis_title(column: str) -> str:
    """A scenario column as a heading, in words with its unit:
    ``scale-out bandwidth per node [Gb/s]``."""
    spec = INPUT_BY_NAME.get(column)
    unit = f" [{spec.unit}]" if spec is not None and spec.unit not in ("-", "") else ""
    return f"{axis_label(column)}{unit}"


def short_strategy(strategy: str) -> str:
    """``3D (DP x TP x PP) + CP + EP`` -> ``3D + CP + EP``: the label without its
    parenthesis."""
    head, paren, rest = strategy.partition(" (")
    return head + "".join(s for s in (" + CP", " + EP") if s in rest) if paren else strategy


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


def _lines(columns: list[str], counts: dict[str, int]) -> int:
    """Lines of the answer over ``columns``: as a matrix (one axis of at most
    :data:`MAX_MATRIX_COLUMNS` values across) or as a list."""
    sizes = [counts[c] for c in columns]
    total = 1
    for n in sizes:
        total *= n
    across = max((n for n in sizes if n <= MAX_MATRIX_COLUMNS), default=1) \
        if len(columns) >= 2 else 1
    return total // across


def page1_axes(columns: list[str], counts: dict[str, int],
               declared: list[str] | None = None) -> list[str]:
    """The scenario axes the page-1 answer is laid out over.

    The sweep's ``answer_axes`` when it declares them; otherwise every scenario axis while
    the answer fits in :data:`MAX_PAGE1_LINES` lines, dropping the axes outside
    :data:`PRIMARY_AXES` last-declared first until it does (the primary ones always stay).
    The dropped axes are answered by the fastest scenario over them.
    """
    if declared:
        return [c for c in columns if c in declared]
    kept = list(columns)
    minor = [c for c in reversed(columns) if c not in PRIMARY_AXES]
    while _lines(kept, counts) > MAX_PAGE1_LINES and minor:
        kept.remove(minor.pop(0))
    return kept


def _groups(rows: list[dict], axes: list[str]) -> list[list[dict]]:
    """``rows`` grouped by their values of ``axes``, in order of first appearance."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r["values"][c] for c in axes), []).append(r)
    return list(groups.values())


def _fastest(group: list[dict]) -> dict | None:
    """The feasible row that trains fastest (steady-state days, step time, id)."""
    ok = [r for r in group if r["feasible"]]
    return min(ok, key=lambda r: (_days(r), r["step_time_s"], r["scenario_id"])) if ok else None


def _with_unit(column: str, value: str) -> str:
    """``3,200 Gb/s``: a scenario value with its input's unit."""
    spec = INPUT_BY_NAME.get(column)
    return f"{value} {spec.unit}" if spec is not None and spec.unit not in ("-", "") else value


def _fastest_over(rows: list[dict], axes: list[str], collapsed: list[str]) -> list[dict]:
    """Per combination of ``axes``, the row that trains fastest over the ``collapsed`` axes
    (steady-state days, then step time, then scenario id), with the values it picked (in
    the order of ``collapsed``; the headings give their units)."""
    out = []
    for group in _groups(rows, axes):
        pick = _fastest(group) or group[0]
        out.append({**pick, "values": {c: pick["values"][c] for c in axes},
                    "picked": {c: pick["values"][c] for c in collapsed}})
    return out


def collapsed_effects(rows: list[dict], axes: list[str], collapsed: list[str]) -> list[dict]:
    """How much longer training takes on each value of a collapsed axis than on the fastest.

    For every collapsed column and each of its values, over the page-1 cells (combinations of
    ``axes``) where both are feasible: the median and the largest of
    :math:`t_{value} / t_{fastest} - 1`, with :math:`t` the fastest steady-state days with
    the column at that value (the other collapsed columns free) [%].
    """
    out = []
    for column in collapsed:
        values = list(dict.fromkeys(r["values"][column] for r in rows))
        for value in values:
            ratios = []
            for group in _groups(rows, axes):
                best = _fastest(group)
                here = _fastest([r for r in group if r["values"][column] == value])
                if best is not None and here is not None and _days(best) < float("inf"):
                    ratios.append(_days(here) / _days(best) - 1.0)
            if ratios:
                ratios.sort()
                middle = len(ratios) // 2
                median = ratios[middle] if len(ratios) % 2 else \
                    0.5 * (ratios[middle - 1] + ratios[middle])
                out.append({"axis": axis_label(column), "value": _with_unit(column, value),
                            "median_pct": 100.0 * median, "max_pct": 100.0 * ratios[-1],
                            "cells": len(ratios)})
    return out


def _days(row: dict) -> float:
    """Steady-state days to train, infinite when unknown (no token budget)."""
    days = row.get("time_to_train_days")
    return float(days) if days is not None and days == days else float("inf")


def answer(best: pl.DataFrame, columns: list[str],
           declared: list[str] | None = None) -> dict:
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
        the runner-up with its margin; or ``feasible`` False with the reason), ``matrix``
        (the rows with one axis across; None for fewer than two axes) and ``page1``: the
        same over :func:`page1_axes` (``axes``, ``rows``, ``matrix``), each row the fastest
        scenario over the ``collapsed`` axes with the values it ``picked``; ``collapsed`` is
        empty when page 1 shows every scenario.
    """
    ids = best["scenario_id"].unique().sort().to_list()
    rows = [_row(best.filter(pl.col("scenario_id") == sid), columns) for sid in ids]
    counts = {c: best[c].n_unique() for c in columns}
    kept = page1_axes(columns, counts, declared)
    collapsed = [c for c in columns if c not in kept]
    short = _fastest_over(rows, kept, collapsed) if collapsed else rows
    return {"axes": [{"name": c, "title": axis_title(c)} for c in columns], "rows": rows,
            "matrix": _matrix(rows, columns, best),
            "page1": {"axes": [{"name": c, "title": axis_title(c)} for c in kept],
                      "collapsed": [{"name": c, "title": axis_title(c)} for c in collapsed],
                      "effects": collapsed_effects(rows, kept, collapsed),
                      "rows": short, "matrix": _matrix(short, kept, best)}}
