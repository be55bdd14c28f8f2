"""End to end: tiny sweeps through Snakemake to Parquet, figures, HTML and PDF."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import BASELINE, ROOT, TEST_CONFIG
from pypdf import PdfReader

SNAKEMAKE = [sys.executable, "-m", "snakemake"]

pytestmark = pytest.mark.e2e


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the workflow from the repository root on a copy of .test/ (``--directory``), with
    the copy's config/config.yaml as it is: no --config overrides."""
    cmd = [*SNAKEMAKE, "--directory", str(workdir), "--cores", "2", *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc


def copy_test_config(dest: Path, sweeps: bool = True) -> Path:
    """.test/config (and .test/sweeps) copied to ``dest``, so a test may edit or add sweeps."""
    shutil.copytree(TEST_CONFIG / "config", dest / "config")
    if sweeps:
        shutil.copytree(TEST_CONFIG / "sweeps", dest / "sweeps")
    else:
        (dest / "sweeps").mkdir()
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    work = copy_test_config(tmp_path_factory.mktemp("e2e") / ".test")
    snakemake(work)
    return work


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_every_output_is_written(built):
    reports = built / "reports"
    for sweep in ("tiny", "small_dp"):
        for name in ("best.parquet", "tp_pp.parquet", "pareto.parquet", "counts.json",
                     "analysis.json", "report.html", "report.pdf", "figures.json",
                     "scenarios.csv", "launch.zip"):
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


def test_pdf_gives_the_time_band_from_the_out_of_sample_error(built):
    """Page 1 carries the steady-state time between the bounds the leave-one-source-out
    errors put on it, and the accuracy section quotes those errors."""
    flat = re.sub(r"\s+", " ", pdf_text(built / "reports" / "tiny" / "report.pdf"))
    analysis = json.loads((built / "reports" / "tiny" / "analysis.json").read_text())
    cv = json.loads((built / "reports" / "validation" / "validation.json").read_text())[
        "cross_validation"]["out_of_sample"]
    days = analysis["reference"]["best"]["time_to_train_days"]
    low = days / (1 + cv["p90_signed_err_pct"] / 100)
    high = days / (1 + cv["p10_signed_err_pct"] / 100)
    assert f"between {low:,.1f} days and {high:,.1f} days" in flat
    assert f"has not seen is a median of {cv['median_abs_err_pct']:.1f} %" in flat


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
    assert "sweeps/small_dp.yaml --shard" in plan
    assert "sweeps/tiny.yaml --shard" not in plan


def test_a_changed_trainplan_re_makes_every_sweep(built, tmp_path):
    """The plan rule's command carries a fingerprint of trainplan's installed files: after
    an upgrade (here: one file's modification time moved) every sweep is planned and
    evaluated again, not left with the old model's numbers."""
    import trainplan

    work = tmp_path / "changed"
    shutil.copytree(built, work, symlinks=True)
    path = Path(trainplan.__file__).parent / "units.py"
    before = path.stat()
    try:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
        plan = snakemake(work, "--dry-run", "--printshellcmds").stdout
    finally:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert "Code has changed since last execution" in plan
    assert "sweeps/small_dp.yaml --shard" in plan and "sweeps/tiny.yaml --shard" in plan
    assert "Nothing to be done" in snakemake(work, "--dry-run").stdout + \
        snakemake(work, "--dry-run").stderr


def incomplete_outputs(work: Path) -> list[str]:
    """The outputs Snakemake has marked as being written (.snakemake/incomplete/<base64>)."""
    marks = work / ".snakemake" / "incomplete"
    names = [p.name for p in marks.iterdir()] if marks.is_dir() else []
    return [base64.b64decode(n).decode() for n in names if n != "migration_underway"]


def output_bytes(work: Path, sweep: str | None = None) -> dict[str, bytes]:
    """Every file under reports/ (or reports/<sweep>/), by its path relative to reports/."""
    reports = work / "reports"
    root = reports / sweep if sweep else reports
    return {str(p.relative_to(reports)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def differing(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    """The files missing on one side or with other bytes."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def test_outputs_are_byte_identical_from_another_folder_and_core_count(built, tmp_path):
    """Tables, JSON, PNG, HTML and PDF do not depend on the working directory (WeasyPrint
    names images by URL: trainplan renders against a constant base) or on --cores."""
    work = copy_test_config(tmp_path / "another" / "place" / ".test")
    cmd = [*SNAKEMAKE, "--directory", str(work), "--cores", "1"]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    a, b = output_bytes(built), output_bytes(work)
    assert {Path(k).suffix for k in a} >= {".parquet", ".json", ".png", ".html", ".pdf", ".txt"}
    assert differing(a, b) == []
    assert str(tmp_path).encode() not in b"".join(b.values())


def kill_during(work: Path, stage: str, log: Path) -> None:
    """Run the workflow and SIGKILL Snakemake (and its jobs) while an output whose path
    contains ``stage`` is marked incomplete, i.e. that job is running."""
    cmd = [*SNAKEMAKE, "--directory", str(work), "--cores", "1"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline, running = time.monotonic() + 180, []
        while not running and proc.poll() is None and time.monotonic() < deadline:
            running = [f for f in incomplete_outputs(work) if stage in f]
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert running, log.read_text()[-3000:]


@pytest.mark.parametrize("stage", ["/shards/", "/best.parquet", "/report.pdf"])
def test_plain_rerun_after_sigkill_gives_the_clean_outputs(built, tmp_path, stage):
    """The default profile (profiles/ -> workflow/profiles) applies without a flag: no stale
    lock and no "incomplete files" error after a kill -9 during the shards, the combine or
    the PDF, and the plain rerun's outputs are those of a clean run, byte for byte."""
    work = copy_test_config(tmp_path / ".test")
    (work / "sweeps" / "small_dp.yaml").unlink()      # one sweep is enough here
    kill_during(work, stage, tmp_path / "killed.log")
    out = snakemake(work).stdout      # plain: no --unlock, no --rerun-incomplete
    assert "workflow specific profile profiles/default" in snakemake(work, "-n").stderr
    assert not incomplete_outputs(work), out
    assert differing(output_bytes(built, "tiny"), output_bytes(work, "tiny")) == []


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", [
    "truncate tiny/best.parquet", "truncate tiny/points/shard=00000/part-00000.parquet",
    "delete tiny/points/shard=00000", "truncate tiny/figures/step_breakdown.png",
    "truncate tiny/report.pdf",
])
def test_a_damaged_or_deleted_output_is_re_made_by_a_plain_rerun(built, tmp_path, damage):
    """Snakemake only looks at times and presence: the workflow removes outputs whose framing
    is broken when it loads, and lists the points/ partitions as targets, so the plain rerun
    re-makes them (not "Nothing to be done", nor a failure on every rerun)."""
    work = tmp_path / "damaged"
    shutil.copytree(built, work, symlinks=True)
    action, name = damage.split(" ")
    path = work / "reports" / name
    if action == "truncate":
        truncate(path)
    else:
        shutil.rmtree(path)
    proc = snakemake(work)
    assert "Nothing to be done" not in proc.stdout + proc.stderr
    if action == "truncate":
        assert f"{name}: not a complete" in proc.stderr
    assert differing(output_bytes(built), output_bytes(work)) == []
    assert "Nothing to be done" in snakemake(work, "-n").stdout + snakemake(work, "-n").stderr


def test_a_sweep_file_name_cannot_inject_a_shell_command(tmp_path):
    work = copy_test_config(tmp_path / ".test", sweeps=False)
    name = "x;$(touch PWNED) `touch PWNED2`"
    shutil.copy(TEST_CONFIG / "sweeps" / "small_dp.yaml", work / "sweeps" / f"{name}.yaml")
    proc = snakemake(work, check=False)
    assert proc.returncode != 0
    assert "the sweep name" in proc.stderr and "is not allowed; allowed: [A-Za-z0-9]" in \
        proc.stderr, proc.stderr
    assert not (work / "reports").exists()
    assert not list(work.rglob("PWNED*")) and not list(ROOT.glob("PWNED*"))


def test_lint_reports_only_the_documented_warning():
    """`snakemake --lint` finds nothing but the conda/container advice docs/workflow.md
    explains (the rules run the project's own interpreter)."""
    proc = subprocess.run([*SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    headers = re.findall(r"^Lints for (.*)$", out, flags=re.M)
    lints = set(re.findall(r"^    \* (.*):$", out, flags=re.M))
    assert len(headers) == 9 and all(h.startswith("rule ") for h in headers), out
    assert lints == {"Specify a conda environment or container for each rule."}, out


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
    work = copy_test_config(tmp_path, sweeps=False)
    (work / "sweeps" / "bad.yaml").write_text(text)
    proc = snakemake(work, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("trainplan: error: bad sweep file: ") and "bad.yaml" in last
    assert message in last
    assert "Traceback" not in out and "WorkflowError" not in out and "File " not in out
    assert not (work / "reports").exists()
    assert not (work / "logs").exists()


# The same tables as the baseline: tests/data/baseline holds what the model wrote for the two
# .test sweeps when its numbers last changed on purpose (scripts/regenerate_goldens.py rewrites
# it; the diff is reviewed and committed with the change). Two planned changes are allowed:
# new columns, and integer columns stored as Int64 instead of Float64 (so values are
# compared, not dtypes, and a Float64 value that is not a whole number -- NaN, or
# dp = n_gpus/(tp pp cp) where that does not divide -- has become a null).

def baseline_differences(base: pl.DataFrame, new: pl.DataFrame) -> list[str]:
    """What keeps ``new`` from holding ``base``: row count, a missing column, other values."""
    if base.height != new.height:
        return [f"{new.height} rows instead of {base.height}"]
    problems = []
    for name, old in base.to_dict().items():
        if name not in new.columns:
            problems.append(f"column {name} missing")
            continue
        col = new[name]
        if old.dtype == pl.Float64 and col.dtype.is_integer():
            whole = old.is_finite() & (old.floor() == old)
            old = pl.select(pl.when(whole).then(old).otherwise(None)).to_series()
            col = col.cast(pl.Float64)
        if old.dtype != col.dtype:
            problems.append(f"column {name}: {col.dtype} instead of {old.dtype}")
        elif not old.equals(col):
            rows = (old.ne_missing(col) & ~(old.is_nan() & col.is_nan())
                    if old.dtype.is_float() else old.ne_missing(col))
            problems.append(f"column {name}: {rows.sum()} row(s) differ, first at "
                            f"{rows.arg_true()[0]}")
    return problems


@pytest.mark.parametrize("sweep", ["tiny", "small_dp"])
@pytest.mark.parametrize("table", ["best", "tp_pp", "pareto"])
def test_tables_equal_the_baseline(built, sweep, table):
    base = pl.read_parquet(BASELINE / sweep / f"{table}.parquet")
    new = pl.read_parquet(built / "reports" / sweep / f"{table}.parquet")
    assert base.height > 0
    assert baseline_differences(base, new) == []


def test_points_equal_the_baseline(built):
    parts = sorted(p.relative_to(BASELINE / "tiny" / "points")
                   for p in (BASELINE / "tiny" / "points").rglob("*.parquet"))
    points = built / "reports" / "tiny" / "points"
    assert parts and parts == sorted(p.relative_to(points) for p in points.rglob("*.parquet"))
    for part in parts:
        base = pl.read_parquet(BASELINE / "tiny" / "points" / part, hive_partitioning=False)
        new = pl.read_parquet(points / part, hive_partitioning=False)
        assert baseline_differences(base, new) == [], part


@pytest.mark.parametrize("sweep", ["tiny", "small_dp"])
def test_counts_equal_the_baseline(built, sweep):
    base = json.loads((BASELINE / sweep / "counts.json").read_text())
    assert json.loads((built / "reports" / sweep / "counts.json").read_text()) == base


def test_baseline_comparison_catches_a_change():
    base = pl.read_parquet(BASELINE / "tiny" / "tp_pp.parquet")
    as_float = base.with_columns(pl.col("tp").cast(pl.Float64))
    assert baseline_differences(as_float, base) == []   # Float64 -> Int64 is allowed
    assert baseline_differences(base, base.clone()) == []
    assert baseline_differences(base, base.drop("mfu")) == ["column mfu missing"]
    assert baseline_differences(base, base.reverse())                # same rows, other order
    assert baseline_differences(base, base.head(3))
    changed = base.with_columns(pl.col("step_time_s") * (1 + 1e-12))
    assert baseline_differences(base, changed)
    as_str = base.with_columns(pl.col("tp").cast(pl.String))
    assert baseline_differences(base, as_str) == ["column tp: String instead of Int64"]
