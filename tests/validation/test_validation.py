"""The model against published training runs (the acceptance criteria of the model issue)."""

from __future__ import annotations

import re
import subprocess
import sys

import polars as pl
import pytest

from trainplan.validation import parse, runs
from trainplan.validation.text import format_text

LAST_LINE = re.compile(r"^median_abs_err_pct=(\d+\.\d+) p90_abs_err_pct=(\d+\.\d+) n=(\d+)$")


@pytest.fixture(scope="module")
def shipped():
    return runs.read_runs(runs.shipped_runs_path())


@pytest.fixture(scope="module")
def results(shipped):
    return runs.predict_runs(shipped)


def test_step_time_accuracy_on_the_shipped_runs(results):
    s = runs.summary(results)
    assert s["n"] >= 40
    assert s["median_abs_err_pct"] <= 5.0
    assert s["p90_abs_err_pct"] <= 15.0


def test_every_source_is_scored_and_reported(results):
    table = runs.per_source(results)
    assert table.height == 4
    assert (table["median_abs_err_pct"] <= 10.0).all()


def test_oom_runs(results):
    oom = results.filter(pl.col("measured_oom") == "yes")
    assert oom.height == 3
    caught = set(oom.filter(~pl.col("predicted_fits"))["row_id"])
    # 184B with tp=4 pp=6 (both micro-batches) needs more than 80 GiB per GPU.
    assert {"bloom_prequel_0228_05", "bloom_prequel_0228_06"} <= caught
    # Every run the source reports as fitting is predicted to fit.
    ran = results.filter(pl.col("measured_oom") == "no")
    assert ran["predicted_fits"].all()


def test_memory_is_below_nvidia_smi_which_adds_the_allocator_cache(results):
    measured = results.filter(pl.col("measured_memory_gib").is_not_null())
    ratio = measured["measured_memory_gib"] / measured["predicted_memory_gib"]
    assert measured.height == 17
    assert ratio.min() >= 1.0 and ratio.max() <= 1.35


def test_rows_not_represented_are_listed_with_the_reason(results):
    missing = results.filter(~pl.col("represented"))
    assert missing["row_id"].to_list() == ["nar21_s51_gpt3"]
    assert "not stated: tp, pp" in missing["reason_not_represented"][0]


def test_defaults_for_blank_cells_are_stated(results):
    mcore = results.filter(pl.col("row_id") == "mcore24_h100_1").row(0, named=True)
    assert "ffn_hidden = 4h (not stated)" in mcore["assumptions"]
    assert "micro_batch searched" in mcore["assumptions"]
    assert "micro_batch=" in mcore["searched"]


def test_order_extra_columns_and_blank_cells_do_not_matter(shipped, results):
    shuffled = shipped.sample(fraction=1.0, shuffle=True, seed=3).with_columns(
        pl.lit("x").alias("my_extra_column"))
    again = runs.predict_runs(shuffled).sort("row_id")
    base = results.sort("row_id")
    assert again["predicted_step_time_s"].to_list() == base["predicted_step_time_s"].to_list()
    blanked = shipped.head(3).with_columns(pl.lit(None, dtype=pl.String).alias("vpp"))
    out = runs.predict_runs(blanked)
    assert out["represented"].all()


def test_unknown_accelerator_is_listed_not_dropped(shipped):
    odd = shipped.head(2).with_columns(pl.Series("gpu", ["TPU v4", "A100-SXM4-80GB"]))
    out = runs.predict_runs(odd)
    assert out.height == 2
    assert "unknown accelerator 'TPU v4'" in out["reason_not_represented"][0]
    text = format_text(out)
    assert "not represented:" in text and "TPU v4" in text


@pytest.mark.parametrize(("cell", "expected"), [
    ("full (every layer; --activations-checkpoint-method uniform)", "full"),
    ("selective (attention only)", "selective"), ("none", "none"), ("", None),
    ("not stated", None)])
def test_recompute_cells(cell, expected):
    assert parse.recompute(cell) == expected


@pytest.mark.parametrize(("cell", "expected"), [
    ("bf16 (BF16 optimizer, fp32 grad accumulation)", ("bf16", True)),
    ("fp16 mixed (script --fp16)", ("fp16", False)), ("mixed 16-bit", ("fp16", False)),
    ("FP8-CS (FP8 current scaling)", ("fp8", False)),
    ("not stated (BF16 implied by MFU vs 989 TFLOP/s)", (None, False))])
def test_precision_cells(cell, expected):
    assert parse.precision(cell) == expected


def test_interconnect_and_gpu_cells():
    assert parse.interconnect("8x 200 Gb/s HDR InfiniBand HCAs per node") == (1600.0, None)
    assert parse.interconnect("4x Omni-Path links per node") == (400.0, None)
    assert parse.interconnect("NVL72 rack: NVLink-5 domain of 72 GPUs") == (None, 72)
    assert parse.gpu_name("B200 (HGX/DGX B200, 1000 W)") == "B200"
    assert parse.gpu_name("A100-SXM4-80GB") == "A100-SXM4-80GB"
    assert parse.zero_stage("Megatron-FSDP (sharding group 8)") == 3
    assert parse.zero_stage("1 (BF16Optimizer, ZeRO-1 sharding)") == 1


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
    assert "not a published-runs table" in proc.stderr
    assert "Traceback" not in proc.stderr
