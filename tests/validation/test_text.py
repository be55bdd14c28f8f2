"""A validation's results as text, as the summary line and as the JSON the reports render."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import polars as pl

from trainplan.validation.text import SUMMARY_COLUMNS, format_text, summary_json, summary_line

LAST_LINE = re.compile(r"^median_abs_err_pct=(\d+\.\d+) p90_abs_err_pct=(\d+\.\d+) n=(\d+)$")


def _results() -> pl.DataFrame:
    """Two scored runs, one without a measured MFU, and one run not represented."""
    base = {"gpu": "A100", "n_gpus": 64.0, "step_time_kind": "measured", "tp": 2.0, "pp": 4.0,
            "dp": 8.0, "predicted_tflops_per_gpu": 150.0, "measured_tflops_per_gpu": 140.0,
            "predicted_mfu": 0.48, "measured_mfu": 0.45, "predicted_hfu": None,
            "measured_hfu": None, "predicted_memory_gib": 60.0, "measured_memory_gib": None,
            "predicted_fits": True, "measured_oom": "no", "searched": "micro_batch=2",
            "assumptions": "vocab 51,200 (not stated)", "reason_not_represented": "",
            "represented": True}
    rows = [
        {**base, "row_id": "run_a", "source": "Src A", "measured_step_time_s": 10.0,
         "predicted_step_time_s": 11.0, "abs_err_pct": 10.0},
        {**base, "row_id": "run_b", "source": "Src B", "measured_step_time_s": 4.0,
         "predicted_step_time_s": 3.0, "abs_err_pct": 25.0, "measured_mfu": float("nan"),
         "measured_oom": "yes", "predicted_fits": False, "searched": ""},
        {**{k: None for k in base}, "row_id": "run_c", "source": "Src A",
         "represented": False, "reason_not_represented": "not stated: tp, pp",
         "assumptions": "", "measured_step_time_s": None, "predicted_step_time_s": None,
         "abs_err_pct": None},
    ]
    return pl.DataFrame(rows, infer_schema_length=None)


def test_summary_line():
    assert summary_line(_results()) == "median_abs_err_pct=17.50 p90_abs_err_pct=23.50 n=2"


def test_format_text_sections():
    text = format_text(_results())
    lines = text.splitlines()
    assert lines[0].startswith("row_id") and set(lines[1]) == {"-"}
    assert lines[2].split() == ["run_a", "2/4/8", "11.00", "10.00", "10.0", "150", "140",
                                "0.48", "0.45", "-", "-", "60", "-", "yes", "no"]
    assert lines[3].split()[:2] == ["run_b", "2/4/8"] and lines[3].split()[-2:] == ["NO", "yes"]
    assert "not represented:\n  run_c: not stated: tp, pp" in text
    assert "  run_a: vocab 51,200 (not stated); chosen: micro_batch=2" in text
    assert "  run_b: vocab 51,200 (not stated)\n" in text
    assert "out-of-memory runs predicted not to fit: 1 of 1" in text
    assert re.search(r"Src A +n=1 +median_abs_err_pct=10.00", text)
    assert lines[-1] == summary_line(_results())


def test_summary_json_is_json_with_nulls_for_nan():
    s = summary_json(_results())
    assert json.loads(json.dumps(s, allow_nan=False)) == s
    assert [list(r) for r in s["rows"]] == [list(SUMMARY_COLUMNS)] * 3
    assert s["rows"][1]["measured_mfu"] is None           # NaN in the table
    assert s["per_source"] == [{"source": "Src A", "n": 1, "median_abs_err_pct": 10.0},
                               {"source": "Src B", "n": 1, "median_abs_err_pct": 25.0}]
    assert s["summary"] == {"median_abs_err_pct": 17.5, "p90_abs_err_pct": 23.5, "n": 2}
    assert s["summary_line"] == summary_line(_results())


def test_summary_json_of_nothing():
    s = summary_json(pl.DataFrame({"row_id": [], "source": []}))
    assert s["rows"] == [] and s["per_source"] == [] and s["summary"]["n"] == 0
    assert s["summary"]["median_abs_err_pct"] is None


def test_cli_prints_the_table_and_ends_with_the_summary_line(tmp_path):
    out = tmp_path / "validation.csv"
    proc = subprocess.run([sys.executable, "-m", "trainplan.cli", "validate", "--out", str(out)],
                          capture_output=True, text=True, check=True)
    lines = proc.stdout.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    assert int(match.group(3)) >= 40
    assert "median absolute step-time error per source:" in proc.stdout
    assert pl.read_csv(out).height == 51


def test_cli_reports_a_bad_file_without_a_traceback(tmp_path):
    bad = tmp_path / "runs.csv"
    bad.write_text("a,b\n1,2\n")
    proc = subprocess.run([sys.executable, "-m", "trainplan.cli", "validate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "not a run table: missing column(s) row_id, gpu" in proc.stderr
    assert "Traceback" not in proc.stderr
