"""Throughput of the training-step model: configurations evaluated per second, one process.

Two measurements over the same space of configurations (printed below):

* ``grid``: the path the pipeline uses. The space is a cartesian grid; the model
  runs on broadcasting axis arrays, block by block (as a shard job does), and
  every output column of every configuration is defined (feasibility flags
  included). This is the number reported on the last line.
* ``rows``: one million configurations drawn at random from the grid and
  evaluated as a flat table of rows (the ``trainplan evaluate`` path, after
  input checking), for comparison.

Usage: ``python benchmarks/throughput.py [--repeat 3]``. Run it on an idle
machine; it uses one core (numpy's element-wise kernels are single-threaded).
The last line is ``configs_per_s=N`` (grid path, best of the repeats).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("POLARS_MAX_THREADS", "1")

import numpy as np

from trainplan.schema.resolve import derive
from trainplan.schema.table import evaluate_numeric
from trainplan.sweep.file import load_sweep
from trainplan.sweep.grid import Grid

SWEEP = """
title: throughput benchmark grid
keep: best
model: [gpt3-175b, llama3-70b, llama3-405b]
hardware:
  gpu: [A100-SXM4-80GB, H100-SXM5-80GB, B200]
  n_gpus: [512, 1024, 2048, 4096]
  scaleout_gbit_s_per_node: [1600, 3200]
job:
  seq_len: [2048, 8192]
  global_batch: 2048
  tokens_budget: 1.0e12
  price_per_gpu_hour_usd: 2.0
parallel:
  tp: [1, 2, 4, 8, 16]
  pp: [1, 2, 3, 4, 6, 7, 8, 9, 12, 14, 16, 18, 24, 32]
  vpp: [1, 2, 3, 4]
  micro_batch: [1, 2, 4, 8]
  zero_stage: [0, 1, 2, 3]
  recompute: [none, selective, full]
  cp: [1, 2]
  seq_parallel: [true, false]
"""

BLOCK = 2_000_000


def grid_throughput(grid: Grid, max_configs: int) -> tuple[int, float]:
    """Evaluate blocks of the grid until ``max_configs``; return (configs, seconds)."""
    blocks = grid.blocks(BLOCK)
    done, start = 0, time.perf_counter()
    for block in blocks:
        values = grid.block_values(block)
        out = evaluate_numeric(derive(values))
        assert out["step_time_s"].size == block.size   # every configuration has outputs
        done += block.size
        if done >= max_configs:
            break
    return done, time.perf_counter() - start


def random_rows(grid: Grid, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` configurations drawn uniformly from the grid, as flat 1-D input arrays."""
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, size, n) for size in grid.shape]
    out = {}
    for column, array in grid.values.items():
        axis = grid.axis_of.get(column)
        if axis is None and array.ndim == len(grid.shape):   # derived (depends on axes)
            index = tuple(p if array.shape[k] > 1 else 0 for k, p in enumerate(picks))
            out[column] = array[index]
        elif axis is None:
            out[column] = np.broadcast_to(array, (n,))
        else:
            out[column] = np.ravel(array)[picks[axis]]
    return out


def rows_throughput(grid: Grid, n: int) -> tuple[int, float]:
    values = random_rows(grid, n)
    start = time.perf_counter()
    arrays = derive(values)
    chunk = 16_384   # cache-sized chunks of rows
    for i in range(0, n, chunk):
        part = {k: (v[i:i + chunk] if np.ndim(v) == 1 and len(v) == n else v)
                for k, v in arrays.items()}
        evaluate_numeric(part)
    return n, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--configs", type=int, default=20_000_000,
                        help="grid configurations per repeat")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    path = Path(os.environ.get("TMPDIR", "/tmp")) / "trainplan_throughput_sweep.yaml"
    path.write_text(SWEEP)
    grid = Grid(load_sweep(path))
    print("grid:", " x ".join(f"{n} {len(a.values)}" for n, a in
                               zip(grid.names, grid.sweep.axes, strict=True)))
    print(f"grid size: {grid.size:,} configurations; block size <= {BLOCK:,}")
    rates = []
    for _ in range(args.repeat):
        done, seconds = grid_throughput(grid, args.configs)
        rates.append(done / seconds)
        print(f"grid: {done:,} configurations in {seconds:.2f} s = {done / seconds:,.0f} /s")
    n, seconds = rows_throughput(grid, args.rows)
    print(f"rows: {n:,} random configurations as flat rows in {seconds:.2f} s = "
          f"{n / seconds:,.0f} /s")
    print(f"configs_per_s={max(rates):.0f}")


if __name__ == "__main__":
    main()
