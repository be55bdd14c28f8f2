"""End to end: tiny sweeps through Snakemake to Parquet, figures, HTML and PDF."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = Path(__file__).parents[1] / "sweeps"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

pytestmark = pytest.mark.e2e


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [*SNAKEMAKE, "--cores", "2", "--config", f"sweeps_dir={workdir / 'sweeps'}",
           f"reports_dir={workdir / 'reports'}", f"logs_dir={workdir / 'logs'}", *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("e2e")
    shutil.copytree(SWEEPS, work / "sweeps")
    snakemake(work)
    return work


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_every_output_is_written(built):
    reports = built / "reports"
    for sweep in ("tiny", "small_dp"):
        for name in ("best.parquet", "tp_pp.parquet", "pareto.parquet", "counts.json",
                     "analysis.json", "report.html", "report.pdf", "figures.json"):
            assert (reports / sweep / name).stat().st_size > 0, (sweep, name)
        assert (built / "logs" / sweep / "combine.log").exists()
    assert (reports / "index.html").exists()
    assert list((reports / "tiny" / "points").glob("shard=*/part-*.parquet"))
    assert not (reports / "small_dp" / "points").exists()            # keep: best
    assert not list((reports / "tiny").glob("shards/*"))               # temporary


def test_parquet_schema_and_values(built):
    best = pl.read_parquet(built / "reports" / "tiny" / "best.parquet")
    for column, dtype in [("model", pl.String), ("n_gpus", pl.Int64), ("tp", pl.Int64),
                          ("step_time_s", pl.Float64), ("memory_total_bytes", pl.Float64),
                          ("feasible", pl.Boolean), ("reason", pl.String),
                          ("strategy", pl.String), ("mfu", pl.Float64),
                          ("rank_in_scenario", pl.Int64)]:
        assert best.schema[column] == dtype, column
    assert set(best["model"]) == {"llama2-7b", "llama2-13b"}
    assert set(best["n_gpus"]) == {8.0, 16.0, 32.0}
    feasible = best.filter(pl.col("feasible"))
    assert ((feasible["tp"] * feasible["pp"] * feasible["dp"] * feasible["cp"])
            == feasible["n_gpus"]).all()
    assert ((feasible["mfu"] > 0) & (feasible["mfu"] <= 1)).all()
    assert (feasible["memory_total_bytes"] <= feasible["memory_usable_bytes"]).all()
    points = pl.scan_parquet(built / "reports" / "tiny" / "points" / "**" / "*.parquet")
    assert points.select(pl.len()).collect().item() == 1944
    infeasible = points.filter(~pl.col("feasible")).select("reason").collect()
    assert infeasible.height > 0 and (infeasible["reason"] != "").all()


def test_html_report_matches_best(built):
    analysis = json.loads((built / "reports" / "tiny" / "analysis.json").read_text())
    best = pl.read_parquet(built / "reports" / "tiny" / "best.parquet")
    ref = analysis["reference"]
    top = best.filter((pl.col("scenario_id") == ref["scenario_id"])
                      & (pl.col("rank_in_scenario") == 1)).row(0, named=True)
    assert ref["best"]["config_id"] == top["config_id"]
    html = (built / "reports" / "tiny" / "report.html").read_text()
    assert top["strategy"].replace(" x ", " x ") in html
    assert ref["best"]["layout"] in html
    assert "torchrun" in html and "--tensor-model-parallel-size" in html
    assert "median_abs_err_pct=" in html
    assert "http://" not in html.replace("http://www.w3.org", "")


def test_pdf_text_has_recommendation_rankings_and_guidelines(built):
    text = pdf_text(built / "reports" / "tiny" / "report.pdf")
    flat = re.sub(r"\s+", " ", text)
    analysis = json.loads((built / "reports" / "tiny" / "analysis.json").read_text())
    ref = analysis["reference"]
    assert "Recommended configuration" in flat
    assert ref["best"]["strategy"] in flat
    assert ref["label"].split(",")[0] in flat
    for heading in ("Rankings", "Use-case recommendations", "Scaling guidelines",
                    "Implementation notes", "Model accuracy"):
        assert heading in flat, heading
    for case in analysis["use_cases"]:
        assert case["case"] in flat
    for band in analysis["scaling"]:
        assert band["band"].split(" ")[0] in flat
    overall = analysis["rankings"]["overall"][0]
    assert overall["strategy"] == ref["best"]["strategy"]
    assert re.search(r"median_abs_err_pct=\d+\.\d+ p90_abs_err_pct=\d+\.\d+ n=\d+", flat)


def test_second_run_does_nothing(built):
    proc = snakemake(built, "--dry-run")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_editing_one_sweep_reruns_only_its_jobs(built, tmp_path):
    work = tmp_path / "edit"
    shutil.copytree(built, work, symlinks=True)
    # copied files keep their times; make the edit the newest thing
    path = work / "sweeps" / "small_dp.yaml"
    path.write_text(path.read_text().replace("tp: [4, 8]", "tp: [2, 4, 8]"))
    proc = snakemake(work, "--dry-run", "--quiet", "rules")
    out = proc.stdout + proc.stderr
    assert "evaluate_shard" in out
    plan = snakemake(work, "--dry-run", "--printshellcmds").stdout
    assert "small_dp" in plan
    assert "sweeps/tiny.yaml --shard" not in plan


@pytest.mark.parametrize(("kind", "text", "message"), [
    ("unknown key", "title: x\nmodel: llama2-7b\nhardware: {gpu: H100, n_gpus: 8}\n"
                    "job: {global_batch: 8}\nparalel: {tp: 2}\n", "unknown key 'paralel'"),
    ("unknown GPU", "title: x\nmodel: llama2-7b\nhardware: {gpu: H1000, n_gpus: 8}\n"
                    "job: {global_batch: 8}\n", "unknown GPU 'H1000'"),
    ("grid too large", "title: x\nmax_grid_size: 3\nmodel: llama2-7b\n"
                       "hardware: {gpu: H100, n_gpus: 8}\njob: {global_batch: 8}\n"
                       "parallel: {tp: [1, 2, 4, 8]}\n", "more than max_grid_size 3"),
])
def test_bad_sweep_fails_before_any_job_and_writes_nothing(tmp_path, kind, text, message):
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "bad.yaml").write_text(text)
    proc = snakemake(tmp_path, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert message in out and "bad.yaml" in out
    assert "Traceback" not in out
    assert not (tmp_path / "reports").exists()
