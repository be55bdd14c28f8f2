"""Rewrite the golden files after a deliberate change of the model's numbers.

The regression tests compare the pipeline's tables with ``tests/data/baseline`` (the tiny and
small_dp sweeps of ``.test/`` and ``sweeps/original_study.yaml``) and ``analyse`` with
``tests/analysis/data/*.json``. When a change is meant to move the predictions (a physics fix,
a recalibrated constant), run this script, read the diff of the JSON files, and commit both
with the change that moved them. It also rewrites the generated docs and the sweep schema.

    .venv/bin/python scripts/regenerate_goldens.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from trainplan.analysis import analyse  # noqa: E402
from trainplan.sweep.file import load_sweep  # noqa: E402

BASELINE = ROOT / "tests" / "data" / "baseline"
EXPECTED = ROOT / "tests" / "analysis" / "data"
TABLES = ("best.parquet", "tp_pp.parquet", "pareto.parquet", "counts.json")
SWEEPS = {"tiny": ROOT / ".test" / "sweeps" / "tiny.yaml",
          "small_dp": ROOT / ".test" / "sweeps" / "small_dp.yaml",
          "original_study": ROOT / "sweeps" / "original_study.yaml"}


def _snakemake(workdir: Path, targets: list[str]) -> None:
    exe = Path(sys.executable).parent / "snakemake"
    subprocess.run([str(exe), "--snakefile", str(ROOT / "Snakefile"), "--directory",
                    str(workdir), "--cores", "2", *targets], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def _build(work: Path) -> None:
    """Build the tables of the three sweeps in a scratch copy of the project."""
    shutil.copytree(ROOT / ".test", work, dirs_exist_ok=True)
    shutil.copy(SWEEPS["original_study"], work / "sweeps" / "original_study.yaml")
    targets = [f"reports/{name}/{table}" for name in SWEEPS for table in TABLES]
    _snakemake(work, targets)


def main() -> int:
    import polars as pl

    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py")], check=True)
    subprocess.run([sys.executable, "-m", "trainplan.sweep.schema", "--write-schema"],
                   check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src")})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _build(work)
        for name in SWEEPS:
            built = work / "reports" / name
            for table in TABLES:
                shutil.copy(built / table, BASELINE / name / table)
            if (BASELINE / name / "points").exists():
                shutil.rmtree(BASELINE / name / "points")
                shutil.copytree(built / "points", BASELINE / name / "points")
    for name, sweep in SWEEPS.items():
        counts = json.loads((BASELINE / name / "counts.json").read_text())
        best = pl.read_parquet(BASELINE / name / "best.parquet")
        result = analyse(load_sweep(sweep), best, counts)
        (EXPECTED / f"{name}.json").write_text(
            json.dumps(result, indent=1, sort_keys=True, default=str) + "\n")
        print(f"wrote {BASELINE / name} and {EXPECTED / name}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
