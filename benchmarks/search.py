"""Time of the pruned search over the shipped billion-layout sweep, best per scenario.

Runs every shard of ``sweeps/billion_layout_search.yaml`` (``keep: best``) in-process,
one worker per available core (as ``snakemake --cores N`` would run the shard jobs),
then combines them into ``best``, ``tp_pp``, ``pareto`` and ``counts`` in a temporary
folder (``--out`` keeps them). The shards decide feasibility on the small axis arrays
before the full model runs (:mod:`trainplan.sweep.prune`); ``--exhaustive`` evaluates
every layout instead, for comparison (several minutes).

Usage: ``python benchmarks/search.py [--cores N] [--out DIR] [--exhaustive]``. The last
line is ``layouts=N seconds=S`` (wall time of the shards and the combination).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("POLARS_MAX_THREADS", "1")

from trainplan.sweep import combine, shard  # (after the thread settings)
from trainplan.sweep.file import load_sweep

SWEEP = Path(__file__).resolve().parents[1] / "sweeps" / "billion_layout_search.yaml"


def _run(job: tuple[int, str, bool]) -> int:
    """Evaluate one shard into ``out``; its configurations."""
    index, out, prune_on = job
    counts = shard.run_shard(SWEEP, index, Path(out) / f"{index:05d}.parquet", prune=prune_on)
    return counts["configurations"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--exhaustive", action="store_true")
    args = parser.parse_args()
    n = shard.n_shards(load_sweep(SWEEP))
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        jobs = [(i, str(out), not args.exhaustive) for i in range(n)]
        with ProcessPoolExecutor(max_workers=max(1, args.cores)) as pool:
            layouts = sum(pool.map(_run, jobs))
        combine.combine_dir([out / f"{i:05d}.parquet" for i in range(n)], out)
        seconds = time.perf_counter() - start
    print(f"{SWEEP.name}: {n} shards on {args.cores} cores "
          f"({'exhaustive' if args.exhaustive else 'pruned'})")
    print(f"layouts={layouts} seconds={seconds:.1f}")


if __name__ == "__main__":
    main()
