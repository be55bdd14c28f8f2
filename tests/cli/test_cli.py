"""The command line: evaluate, check, and the generated documentation being current."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import polars as pl
from conftest import TEST_SWEEPS

ROOT = Path(__file__).resolve().parents[2]


def trainplan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainplan.cli", *args], capture_output=True,
                          text=True)


def test_evaluate_csv_to_parquet(tmp_path):
    configs = tmp_path / "configs.csv"
    configs.write_text("model,gpu,n_gpus,tp,pp,global_batch,recompute\n"
                       "llama2-7b,A100,32,8,1,256,none\n"
                       "gpt3-175b,H100,1024,8,8,1536,selective\n")
    out = tmp_path / "out.parquet"
    proc = trainplan("evaluate", str(configs), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    table = pl.read_parquet(out)
    assert table.height == 2
    assert table["strategy"].to_list() == ["2D (DP x TP)", "3D (DP x TP x PP)"]
    assert (table["step_time_s"] > 0).all()
    assert "evaluated 2 configurations" in proc.stdout


def test_evaluate_error_names_file_row_and_column(tmp_path):
    configs = tmp_path / "configs.csv"
    configs.write_text("model,gpu,n_gpus,global_batch\nllama2-7b,A100,32,256\n"
                       "llama2-7b,A99,32,256\n")
    out = tmp_path / "out.parquet"
    proc = trainplan("evaluate", str(configs), "--out", str(out))
    assert proc.returncode == 2
    assert f"{configs}: row 1: column 'gpu': unknown GPU 'A99'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_check_prints_grid_and_shards():
    proc = trainplan("check", str(TEST_SWEEPS / "tiny.yaml"))
    assert proc.returncode == 0
    assert "1,944 configurations" in proc.stdout and "1 shard(s)" in proc.stdout


def test_generated_docs_are_current():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (ROOT / "docs" / "inputs.md").read_text() == gen.inputs_md()
    assert (ROOT / "docs" / "outputs.md").read_text() == gen.outputs_md()


def test_validate_with_garbage_free_text_never_prints_a_traceback(tmp_path):
    from trainplan.validation import runs

    table = runs.read_runs(runs.shipped_runs_path()).head(3)
    garbage = {"precision": "???", "zero_stage": "🙃", "framework": "(((/", "gpu": "abacus",
               "recompute": "on tuesdays", "seq_parallel": "perhaps", "notes": "\x00"}
    some = tmp_path / "some.csv"
    table.with_columns(*(pl.Series(k, [v, *table[k].to_list()[1:]], dtype=pl.String)
                         for k, v in garbage.items())).write_csv(some)
    proc = trainplan("validate", str(some))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.splitlines()[-1].endswith("n=2")
    none = tmp_path / "none.csv"
    table.with_columns(pl.lit("quantum").alias("precision")).write_csv(none)
    proc = trainplan("validate", str(none))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "n = 0" in proc.stderr
