"""The scenario table as CSV, written next to the report (``scenarios.csv``) for whoever takes
the plan further: one row per scenario with the values of its axes, its fastest feasible
layout, the time and cost of training with it and the runner-up strategy.

Every value comes from ``analysis.json``: the axes and the runner-up from ``answer``, the
rest from ``scenarios``. Numbers are written in full precision with the unit in the column
name; a missing value is an empty field.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

SUMMARY_COLUMNS = ("feasible", "strategy", "layout", "model", "gpu", "n_gpus", "step_time_s",
                   "tokens_per_s", "mfu", "memory_gib", "memory_usable_gib",
                   "time_to_train_days", "gpu_hours", "cost_usd", "energy_mwh", "reason")
"""Columns taken from each scenario's best configuration (``scenarios[].best``)."""

ANSWER_COLUMNS = ("usd_per_trillion_tokens", "expected_time_to_train_days", "expected_gpu_hours",
                  "expected_cost_usd", "runner_up_strategy", "runner_up_margin_pct")
"""Columns taken from each scenario's answer row."""

_NUMBER = re.compile(r"-?\d{1,3}(,\d{3})*(\.\d+)?|-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _value(text: Any) -> Any:
    """An axis value as the answer shows it (``1,024``) back as a number; text as it is."""
    if isinstance(text, str) and _NUMBER.fullmatch(text):
        x = float(text.replace(",", ""))
        return int(x) if x.is_integer() and abs(x) < 1e15 else x
    return text


def _answer_part(row: dict | None, axes: list[str]) -> dict[str, Any]:
    """The axis values, cost per trillion tokens and runner-up of one answer row."""
    row = row or {}
    values = row.get("values") or {}
    runner = row.get("runner_up") or {}
    return {**{a: _value(values.get(a)) for a in axes},
            "usd_per_trillion_tokens": row.get("usd_per_trillion_tokens"),
            **{k: row.get(k) for k in ("expected_time_to_train_days", "expected_gpu_hours",
                                       "expected_cost_usd")},
            "runner_up_strategy": runner.get("strategy"),
            "runner_up_margin_pct": runner.get("margin_pct")}


def scenario_rows(analysis: dict) -> tuple[list[str], list[dict[str, Any]]]:
    """The CSV's columns and its rows (one per scenario, in scenario-id order)."""
    answer = analysis.get("answer") or {}
    axes = [a["name"] for a in answer.get("axes") or []]
    by_id = {r["scenario_id"]: r for r in answer.get("rows") or []}
    summary = [c for c in SUMMARY_COLUMNS if c not in axes]
    columns = ["scenario_id", *axes, "label", *summary, *ANSWER_COLUMNS]
    rows = []
    for s in analysis.get("scenarios") or []:
        best = s.get("best") or {"feasible": False}
        row = {"scenario_id": s["scenario_id"], "label": s.get("label"),
               **{c: best.get(c) for c in summary},
               **_answer_part(by_id.get(s["scenario_id"]), axes)}
        if not best["feasible"] and row["reason"] is None:
            row["reason"] = (by_id.get(s["scenario_id"]) or {}).get("reason")
        rows.append(row)
    return columns, rows


def _cell(value: Any) -> Any:
    """A CSV field: empty for None, ``true``/``false`` for a truth value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def scenarios_csv(analysis: dict) -> str:
    """``scenarios.csv``: the header and one line per scenario (``\\n`` line ends)."""
    columns, rows = scenario_rows(analysis)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_cell(r.get(c)) for c in columns])
    return out.getvalue()
