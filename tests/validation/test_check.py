"""Malformed run tables: ``validate`` and ``validation-table`` end with one line naming the
file (and the row, column and value where there is one) and a non-zero exit, never score
n = 0 as success, and name unknown columns; the shipped table passes unchanged."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from trainplan.cli import main
from trainplan.validation import check, runs

SHIPPED = runs.read_runs(runs.shipped_runs_path())
BASE = SHIPPED.head(2)   # two represented runs with a step time


def _set(column: str, value: str | None, row: int = 0):
    """A mutation setting one cell (as text) of the base table."""
    def mutate(df: pl.DataFrame) -> pl.DataFrame:
        values = df[column].to_list()
        values[row] = value
        return df.with_columns(pl.Series(column, values, dtype=pl.String))
    return mutate


def _every(column: str, value: str | None):
    """A mutation setting a whole column."""
    return lambda df: df.with_columns(pl.lit(value, dtype=pl.String).alias(column))


# (id, mutation of the base table or the file's raw bytes, words the error line must hold)
CASES = [
    ("no-gpu-column", lambda df: df.drop("gpu"), ["missing column(s) gpu", "required: row_id"]),
    ("no-row-id-column", lambda df: df.drop("row_id"), ["missing column(s) row_id"]),
    ("no-cluster-size", lambda df: df.drop("n_gpus", "dp"), ["n_gpus or dp"]),
    ("no-step-time", lambda df: df.drop("measured_step_time_s", "derived_step_time_s"),
     ["measured_step_time_s or derived_step_time_s"]),
    ("header-only", lambda df: df.head(0), ["header but no rows"]),
    ("empty-file", b"", ["not a readable CSV file"]),
    ("not-utf8", b"row_id,gpu\n\xff\xfe,\x81\n", ["not a readable CSV file"]),
    ("ragged-row", b"row_id,gpu,tp\nx,A100,1,2,3,4\n", ["not a readable CSV file"]),
    ("tp-nan", _set("tp", "nan"), ["row 1", "'tp'", "'nan'", "whole number >= 1"]),
    ("tp-inf", _set("tp", "inf"), ["'tp'", "'inf'", "whole number >= 1"]),
    ("tp-zero", _set("tp", "0", row=1), ["row 2 (row_id nar21_t1_02)", "'tp'", "'0'"]),
    ("pp-negative", _set("pp", "-2"), ["'pp'", "'-2'"]),
    ("layers-text", _set("n_layers", "twenty-four"), ["'n_layers'", "'twenty-four'",
                                                      "whole number >= 1"]),
    ("layers-24.5", _set("n_layers", "24.5"), ["'n_layers'", "'24.5'", "whole number >= 1"]),
    ("step-time-text", _set("measured_step_time_s", "~3 s"), ["'measured_step_time_s'",
                                                               "'~3 s'", "finite number > 0"]),
    ("step-time-negative", _set("derived_step_time_s", "-3.5"), ["'derived_step_time_s'",
                                                                  "finite number > 0"]),
    ("all-gpus-unknown", _every("gpu", "TPU-v9"), ["no run could be scored (n = 0)",
                                                    "unknown accelerator 'TPU-v9'"]),
    ("no-step-time-stated", lambda df: _every("derived_step_time_s", None)(
        _every("measured_step_time_s", None)(df)), ["n = 0", "no measured or derived step"]),
    ("required-cells-blank", lambda df: _every("model_name", None)(_every("hidden", None)(df)),
     ["n = 0", "not stated: hidden"]),
]


def _write(tmp_path: Path, make) -> Path:
    """The case's table written as ``runs.csv``."""
    path = tmp_path / "runs.csv"
    if isinstance(make, bytes):
        path.write_bytes(make)
    else:
        make(BASE).write_csv(path)
    return path


@pytest.mark.parametrize("command", ["validate", "validation-table"])
@pytest.mark.parametrize("make,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_run_table_is_one_line_error(command, make, words, tmp_path, capsys):
    path = _write(tmp_path, make)
    out = tmp_path / "out"
    out.mkdir()
    argv = ([command, str(path), "--out", str(out / "v.csv")] if command == "validate" else
            [command, "--runs", str(path), "--out", str(out / "v.parquet"),
             "--text", str(out / "v.txt"), "--json", str(out / "v.json")])
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"trainplan: error: {path}: "), lines
    for word in words:
        assert word in lines[0]
    assert list(out.iterdir()) == []


def test_unknown_columns_are_named_on_one_warning_line(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    BASE.with_columns(pl.lit("2").alias("micro_bacth"), pl.lit("x").alias("comment")) \
        .write_csv(path)
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"trainplan: warning: {path}: unknown column(s) 'micro_bacth' (did you mean "
        "'micro_batch'?), 'comment': ignored (a run table has the columns of "
        "published_runs.csv)"]
    assert captured.out.splitlines()[-1].endswith("n=2")


def test_a_row_that_cannot_be_represented_is_listed_not_an_error(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    _set("gpu", "TPU-v9", row=1)(BASE).write_csv(path)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "nar21_t1_02: unknown accelerator 'TPU-v9'" in out
    assert out.splitlines()[-1].endswith("n=1")


def test_the_shipped_table_passes_without_a_warning():
    assert check.check_runs(SHIPPED, where="x: ") == []


def test_known_columns_are_the_shipped_header_and_the_optional_columns():
    assert check.KNOWN_COLUMNS - check.OPTIONAL_COLUMNS == set(SHIPPED.columns)


def test_require_scored_accepts_one_scored_row():
    results = pl.DataFrame({"row_id": ["a", "b"], "reason_not_represented": ["", "x"],
                            "abs_err_pct": [1.0, None]})
    check.require_scored(results)
    with pytest.raises(check.RunTableError, match=r"^f: no run could be scored \(n = 0\): a: "):
        check.require_scored(results.with_columns(pl.lit(None).alias("abs_err_pct")), "f: ")


GARBAGE = {"precision": "quantum (whatever)", "recompute": "sometimes", "seq_parallel": "maybe",
           "zero_stage": "7", "activation": "swish-ish", "measured_oom": "perhaps"}


@pytest.mark.parametrize("column,value", GARBAGE.items(), ids=list(GARBAGE))
def test_a_free_text_cell_that_cannot_be_read_leaves_its_row_not_represented(
        column, value, tmp_path, capsys):
    path = tmp_path / "runs.csv"
    _set(column, value, row=1)(BASE).write_csv(path)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"nar21_t1_02: column {column!r}: value {value!r} not understood (expected" in out
    assert out.splitlines()[-1].endswith("n=1")


@pytest.mark.parametrize("command", ["validate", "validation-table"])
def test_free_text_no_row_can_be_read_is_one_line_error(command, tmp_path, capsys):
    path = tmp_path / "runs.csv"
    _every("precision", "quantum (whatever)")(BASE).write_csv(path)
    out = tmp_path / "out"
    out.mkdir()
    argv = ([command, str(path)] if command == "validate" else
            [command, "--runs", str(path), "--out", str(out / "v.parquet"),
             "--text", str(out / "v.txt"), "--json", str(out / "v.json")])
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "n = 0" in lines[0]
    assert "column 'precision': value 'quantum (whatever)' not understood" in lines[0]
