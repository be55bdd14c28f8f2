"""How long a no-op rerun takes: ``snakemake --cores 2`` when every output is up to date.

Three numbers, each the median of ``--repeat`` runs of the whole process (start-up included):

* ``empty``: Snakemake on a one-rule workflow that has nothing to do (its own floor);
* ``cold``: the workflow with the sweep-check cache removed before each run, i.e. every
  sweep loaded and its grid checked at parse time (what every run paid before the cache);
* ``noop``: the workflow as a user reruns it (the checks taken from
  ``.snakemake/trainplan/sweeps.json``). The last line is ``noop_seconds=S``.

Usage: ``python benchmarks/noop.py [--sweeps sweeps] [--work DIR] [--repeat 5]``. The first
call runs the workflow once in ``--work`` (default ``benchmarks/results/noop/<sweeps
folder name>``) to bring it up to date; the shipped sweeps take a few minutes on two cores,
``--sweeps .test/sweeps`` seconds. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMPTY_SNAKEFILE = 'rule all:\n    input: "done"\n\nrule done:\n    output: "done"\n' \
                  '    shell: "touch {output}"\n'


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake from the repository root on ``workdir`` (the checkout's trainplan)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(workdir), "--cores", "2", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)


def timed(run, repeat: int, before=None) -> float:
    """The median wall time of ``run()`` over ``repeat`` calls (``before()`` untimed)."""
    times = []
    for _ in range(repeat):
        if before:
            before()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def prepare(sweeps: Path, work: Path) -> None:
    """``work`` holds the config and the sweeps, and every output is up to date."""
    (work / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / ".test" / "config" / "config.yaml", work / "config" / "config.yaml")
    if (work / "sweeps").exists():
        shutil.rmtree(work / "sweeps")
    shutil.copytree(sweeps, work / "sweeps")
    snakemake(work)
    out = snakemake(work, "--dry-run")
    if "Nothing to be done" not in out.stdout + out.stderr:
        sys.exit(f"noop: {work} is not up to date after a run")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", default="sweeps", type=Path)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sweeps = (ROOT / args.sweeps).resolve()
    work = args.work or ROOT / "benchmarks" / "results" / "noop" / sweeps.parent.name
    prepare(sweeps, work)

    empty = work / "empty"
    empty.mkdir(exist_ok=True)
    (empty / "Snakefile").write_text(EMPTY_SNAKEFILE)
    (empty / "done").touch()
    empty_cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "-s", "Snakefile"]
    floor = timed(lambda: subprocess.run(empty_cmd, cwd=empty, check=True,
                                         capture_output=True), args.repeat)
    cache = work / ".snakemake" / "trainplan" / "sweeps.json"
    cold = timed(lambda: snakemake(work), args.repeat,
                 before=lambda: cache.unlink(missing_ok=True))
    noop = timed(lambda: snakemake(work), args.repeat)
    n = len(list((work / "sweeps").glob("*.yaml")))
    print(f"sweeps: {n} ({sweeps}); median of {args.repeat} runs each")
    print(f"empty   {floor:6.2f} s  snakemake on a one-rule workflow with nothing to do")
    print(f"cold    {cold:6.2f} s  no-op rerun, every sweep loaded and checked at parse time")
    print(f"noop    {noop:6.2f} s  no-op rerun (sweep checks cached by file hash)")
    print(f"noop_seconds={noop:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
