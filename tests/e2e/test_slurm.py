"""The workflow on a real SLURM cluster gives the same tables as a local run.

Needs a running cluster (``.ci/slurm_up.sh`` starts a one-node one on 127.0.0.1) and the
executor plugin (``pip install -e '.[slurm]'``); skipped otherwise, or failed when
TRAINPLAN_REQUIRE_SLURM=1 (CI sets it, so a broken setup cannot pass as a skip).

Both runs start from the repository root, so the relative Snakefile, config and profile paths
hold, and write to the same temporary folder, which the one node shares with the submit host.
Besides tiny.yaml the sweeps folder gets a copy cut into two shards, so that the "shards" group
really bundles several shard jobs (three) into one SLURM job.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import TEST_SWEEPS

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[2]
TINY = TEST_SWEEPS / "tiny.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
RUN_TIMEOUT = 300  # seconds per Snakemake run; the SLURM one takes ~100 s on 2 cores
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")


def _cluster_problem() -> str | None:
    """Why the test cannot run here, or None."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm not installed (pip install -e '.[slurm]')"
    if shutil.which("sinfo") is None:
        return "no sinfo: SLURM client tools not installed (.ci/slurm_up.sh)"
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                              timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo timed out: no SLURM controller answering"
    states = proc.stdout.split()
    if proc.returncode != 0 or not states:
        said = " ".join((proc.stderr or proc.stdout).split())[:200]
        return f"no SLURM cluster up (sinfo: {said})"
    if not {"idle", "mix", "alloc"} & set(states):
        return f"no SLURM node ready (sinfo states: {', '.join(states)})"
    return None


@pytest.fixture(scope="module")
def cluster() -> None:
    problem = _cluster_problem()
    if problem:
        if os.environ.get("TRAINPLAN_REQUIRE_SLURM") == "1":
            pytest.fail(f"TRAINPLAN_REQUIRE_SLURM=1 but {problem}")
        pytest.skip(problem)


def _run(cmd: list[str], log: Path) -> str:
    """Run Snakemake from the repository root; its output goes to ``log`` and is returned."""
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = log.read_text()
    if proc.returncode != 0:
        ids = SUBMITTED.findall(text)
        if ids and shutil.which("scancel"):  # leave no job of ours on the cluster
            subprocess.run(["scancel", *ids], capture_output=True, timeout=30)
        pytest.fail(f"{' '.join(cmd)}\nexited {proc.returncode}; last output:\n{text[-4000:]}")
    return text


def _config(work: Path, name: str) -> list[str]:
    return ["--config", f"sweeps_dir={work / 'sweeps'}",
            f"reports_dir={work / name / 'reports'}", f"logs_dir={work / name / 'logs'}"]


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("slurm")
    sweeps = work / "sweeps"
    sweeps.mkdir()
    shutil.copy(TINY, sweeps / "tiny.yaml")
    (sweeps / "tiny_sharded.yaml").write_text(TINY.read_text() + "\nshard_size: 1000\n")

    local = _run([*SNAKEMAKE, "--cores", "2", *_config(work, "local")], work / "local.log")
    slurm = _run([*SNAKEMAKE, "--workflow-profile", "workflow/profiles/slurm",
                  # poll squeue after 2 s instead of 40 s: the jobs here take seconds
                  "--slurm-init-seconds-before-status-checks", "2",
                  "--slurm-logdir", str(work / "slurm_logs"), "--slurm-keep-successful-logs",
                  *_config(work, "slurm")], work / "slurm.log")
    return {"work": work, "local": work / "local" / "reports", "slurm": work / "slurm" / "reports",
            "local_log": local, "slurm_log": slurm}


SWEEP_NAMES = ("tiny", "tiny_sharded")


@pytest.mark.parametrize("sweep", SWEEP_NAMES)
@pytest.mark.parametrize("table", ["best.parquet", "tp_pp.parquet", "pareto.parquet"])
def test_tables_identical(runs, sweep, table):
    local = pl.read_parquet(runs["local"] / sweep / table)
    slurm = pl.read_parquet(runs["slurm"] / sweep / table)
    assert local.height > 0
    assert local.schema == slurm.schema
    assert local.equals(slurm), f"{sweep}/{table} differs between the local and the SLURM run"


@pytest.mark.parametrize("sweep", SWEEP_NAMES)
def test_points_identical(runs, sweep):
    def parts(reports: Path) -> list[Path]:
        return sorted(p.relative_to(reports / sweep / "points")
                      for p in (reports / sweep / "points").glob("shard=*/*.parquet"))

    local, slurm = parts(runs["local"]), parts(runs["slurm"])
    assert local, f"no points/ parts for {sweep}"
    assert local == slurm
    for part in local:
        a = pl.read_parquet(runs["local"] / sweep / "points" / part)
        b = pl.read_parquet(runs["slurm"] / sweep / "points" / part)
        assert a.equals(b), f"{sweep}/points/{part} differs"
    assert len({p.parent for p in local}) == (2 if sweep == "tiny_sharded" else 1)


def test_reports_written(runs):
    for name in ("local", "slurm"):
        reports = runs[name]
        for sweep in SWEEP_NAMES:
            for file in ("report.html", "report.pdf"):
                assert (reports / sweep / file).stat().st_size > 0, (name, sweep, file)
            assert (reports / sweep / "report.pdf").read_bytes().startswith(b"%PDF")
        assert (reports / "index.html").stat().st_size > 0


def test_slurm_ran_the_jobs(runs):
    assert not SUBMITTED.search(runs["local_log"])
    ids = SUBMITTED.findall(runs["slurm_log"])
    # plan x2, one group of 3 shard jobs, combine/analyse/figures/report x2, validation, index
    assert len(ids) == 13, runs["slurm_log"][-3000:]
    # MinJobAge (300 s) keeps finished jobs in slurmctld, so squeue still lists them
    out = subprocess.run(["squeue", "--states=all", "-h", "-j", ",".join(ids),
                          "-o", "%i|%T|%C|%l|%k"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    jobs = {i: (state, cpus, limit, comment.strip()) for i, state, cpus, limit, comment in
            (line.split("|", 4) for line in out.splitlines())}
    assert set(jobs) == set(ids), out
    assert all(job[0] == "COMPLETED" for job in jobs.values()), out
    # the "shards" group: three shard jobs went to SLURM as a single job, sized for running
    # them one after another (profile cores: 1): 1 CPU, 3 x 30 min
    groups = [i for i, job in jobs.items() if job[3].startswith("rule_shards")]
    assert len(groups) == 1, out
    assert jobs[groups[0]][1:3] == ("1", "1:30:00"), out
    group_log = next((runs["work"] / "slurm_logs").glob(f"group_shards_*/{groups[0]}.log"))
    text = group_log.read_text()
    assert text.count("localrule evaluate_shard_rows:") == 3  # one job step each
    assert "3 of 3 steps (100%) done" in text
