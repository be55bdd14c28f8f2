"""scenarios.csv: the scenario table next to the report, one row per scenario with its axes,
best layout, days, cost and MFU, written by the report stage with the HTML and PDF."""

from __future__ import annotations

import copy
import io
import json

import polars as pl
import pytest

from trainplan.cli import main
from trainplan.render.report.scenarios import scenario_rows, scenarios_csv

pytestmark = pytest.mark.pdf   # whole PDFs with WeasyPrint: CI runs them (-m pdf)


def _table(text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(text), infer_schema_length=None)


def test_one_row_per_scenario_with_its_axes_and_numbers(inputs):
    a = inputs["analysis"]
    table = _table(scenarios_csv(a))
    assert table.height == len(a["scenarios"]) == 6
    assert table.columns[:4] == ["scenario_id", "model", "n_gpus", "label"]
    assert table["n_gpus"].dtype == pl.Int64 and table["n_gpus"].to_list() == [8, 16, 32] * 2
    for row, s in zip(table.iter_rows(named=True), a["scenarios"], strict=True):
        best = s["best"]
        assert row["scenario_id"] == s["scenario_id"] and row["label"] == s["label"]
        assert (row["strategy"], row["layout"]) == (best["strategy"], best["layout"])
        for column in ("time_to_train_days", "cost_usd", "mfu", "step_time_s", "tokens_per_s"):
            assert row[column] == best[column], column          # full precision
    answer = {r["scenario_id"]: r for r in a["answer"]["rows"]}
    first = table.row(0, named=True)
    assert first["usd_per_trillion_tokens"] == answer[0]["usd_per_trillion_tokens"]
    assert first["runner_up_strategy"] == answer[0]["runner_up"]["strategy"]


def test_an_infeasible_scenario_has_its_reason_and_no_numbers(inputs):
    a = copy.deepcopy(inputs["analysis"])
    a["scenarios"][0]["best"] = None
    a["answer"]["rows"][0] = {"scenario_id": 0, "values": {"model": "llama2-7b", "n_gpus": "8"},
                              "feasible": False, "reason": "memory"}
    _, rows = scenario_rows(a)
    assert rows[0]["feasible"] is False and rows[0]["reason"] == "memory"
    table = _table(scenarios_csv(a))
    first = table.row(0, named=True)
    assert first["feasible"] is False and first["cost_usd"] is None and first["n_gpus"] == 8


def test_thousands_separated_axis_values_become_numbers(inputs):
    a = copy.deepcopy(inputs["analysis"])
    for r in a["answer"]["rows"]:
        r["values"]["n_gpus"] = "16,384"
    assert set(_table(scenarios_csv(a))["n_gpus"]) == {16384}


def test_the_report_command_writes_the_csv_with_the_report(inputs, tmp_path, capsys):
    out = inputs["out"]
    (tmp_path / "analysis.json").write_text(json.dumps(inputs["analysis"]))
    (tmp_path / "figures.json").write_text(json.dumps(inputs["figures"]))
    (tmp_path / "validation.json").write_text(json.dumps(inputs["validation"]))
    status = main(["report", "--analysis", str(tmp_path / "analysis.json"),
                   "--figures", str(tmp_path / "figures.json"),
                   "--validation", str(tmp_path / "validation.json"),
                   "--html", str(out / "cli.html"), "--pdf", str(out / "cli.pdf"),
                   "--csv", str(out / "cli.csv")])
    assert status == 0, capsys.readouterr().err
    assert (out / "cli.csv").read_text() == scenarios_csv(inputs["analysis"])
    assert 'href="cli.csv"' in (out / "cli.html").read_text()
