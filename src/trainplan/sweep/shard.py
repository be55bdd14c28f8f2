"""Evaluate one shard of a sweep's grid and write its outputs.

A shard is a run of consecutive blocks (see :mod:`trainplan.grid`). For every
block it evaluates the model over the block's broadcasting arrays, keeps the
candidate rows for the summaries (:mod:`trainplan.summaries`) and, when the
sweep keeps ``all`` or ``feasible`` rows, writes them as Parquet files of the
Hive-partitioned dataset ``points/shard=NNNNN/``. Memory is bounded by the
block size, never by the grid size. Sweeps that keep only summaries take the
pruned search (:mod:`trainplan.sweep.prune`): same outputs, the full model run
only on the configurations that can run.

Files are written under a temporary name and renamed when complete, so a
failed shard leaves nothing that looks finished.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl

from trainplan import atomic
from trainplan.sweep import prune, summaries
from trainplan.sweep.combine import shard_record
from trainplan.sweep.file import Sweep, load_sweep
from trainplan.sweep.grid import Block, Grid, ShardPlan, block_table, key_frame

BLOCK_LIMIT_ALL = 500_000        # rows materialised at once when every row is written
BLOCK_LIMIT_SUMMARY = 2_000_000  # configurations evaluated at once otherwise


def block_limit(sweep: Sweep) -> int:
    return BLOCK_LIMIT_ALL if sweep.keep in ("all", "feasible") else BLOCK_LIMIT_SUMMARY


def shard_plan(sweep: Sweep) -> tuple[Grid, list[list[Block]]]:
    grid = Grid(sweep)
    return grid, grid.shards(sweep.shard_size, block_limit(sweep))


def n_shards(sweep: Sweep) -> int:
    """Number of shards without building the arrays (Snakemake asks this at parse time)."""
    shape = tuple(len(a.values) for a in sweep.axes)
    return ShardPlan.of(shape, sweep.shard_size, block_limit(sweep)).n_shards


def with_keys(table: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """Full rows plus the cost rate used for grouping."""
    return table.with_columns(keys["cost_rate"])


def _add_counts(flag_counts: dict[int, int], more: dict[int, int]) -> None:
    """Add ``more`` to the counts of each flag value."""
    for value, count in more.items():
        flag_counts[value] = flag_counts.get(value, 0) + count


def _exhaustive_block(grid: Grid, block: Block, part: int, tmp_dir: Path | None,
                      keep: str) -> tuple[pl.DataFrame, dict[int, int]]:
    """Evaluate every configuration of a block: its candidate rows (with the cost rate) and
    flag counts; with ``tmp_dir``, its rows (or its feasible ones) as a points part."""
    values, outputs = grid.evaluate_block(block)
    keys = key_frame(grid, block, values, outputs)
    flags = keys["infeasible_flags"].to_numpy()
    counts = {int(v): int(c) for v, c in zip(*np.unique(flags, return_counts=True),
                                              strict=True)}
    picked = summaries.reduce(keys)
    rows = np.unique(picked["row"].to_numpy())
    if tmp_dir is None:
        table = block_table(grid, block, values, outputs, rows)
    else:   # every row is built anyway: take the candidates from it
        full = block_table(grid, block, values, outputs)
        table = full[rows]
        if keep == "feasible":
            full = full.filter(pl.col("feasible"))
        if full.height:
            full.write_parquet(tmp_dir / f"part-{part:05d}.parquet", statistics=True)
    picked_rows = keys.filter(pl.col("row").is_in(rows)).sort("row")
    return with_keys(table, picked_rows), counts


def _evaluate_blocks(grid: Grid, blocks: list[Block], tmp_dir: Path | None, keep: str,
                     prune_on: bool | None) -> tuple[pl.DataFrame, dict[int, int], int, int]:
    """The shard's candidates (reduced), flag counts, configurations and feasible ones."""
    prune_on = prune.enabled() if prune_on is None else prune_on
    flag_counts: dict[int, int] = {}
    if prune_on and tmp_dir is None and keep == "best" and blocks:
        table, flag_counts = prune.shard_candidates(grid, blocks)
    else:
        candidates = []
        for part, block in enumerate(blocks):
            found = _exhaustive_block(grid, block, part, tmp_dir, keep)
            candidates.append(found[0])
            _add_counts(flag_counts, found[1])
        table = pl.concat(candidates) if candidates else pl.DataFrame()
        table = summaries.reduce(table) if table.height else table
    total = sum(block.size for block in blocks)
    return table, flag_counts, total, flag_counts.get(0, 0)


def run_shard(sweep_path: str | Path, shard: int, summary_out: str | Path,
              points_dir: str | Path | None = None,
              counts_out: str | Path | None = None, prune: bool | None = None) -> dict:
    """Evaluate shard ``shard`` of the sweep; write its candidate rows to ``summary_out``
    (Parquet), its counts to ``counts_out`` (JSON; default: ``summary_out`` with suffix
    ``.json``) and, when the sweep keeps rows, its rows under ``points_dir``. Returns the
    counts. ``prune`` (default: on unless ``TRAINPLAN_PRUNE=0``) decides feasibility
    before the full model runs (:mod:`trainplan.sweep.prune`) when only summaries are kept;
    the outputs are the same either way."""
    sweep = load_sweep(sweep_path)
    grid, plan = shard_plan(sweep)
    if not 0 <= shard < len(plan):
        raise ValueError(f"shard {shard} out of range: the sweep has {len(plan)} shards")
    summary_out = Path(summary_out)
    tmp_dir = None
    if points_dir is not None:
        points_dir = Path(points_dir)
        tmp_dir = points_dir.with_name(points_dir.name + ".tmp")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir(parents=True)
    shard_candidates, flag_counts, total, feasible = _evaluate_blocks(
        grid, plan[shard], tmp_dir, sweep.keep, prune)
    counts = {"configurations": total, "feasible": feasible,
              "flags": {str(k): v for k, v in sorted(flag_counts.items())}}
    atomic.write_parquet(shard_candidates, summary_out)
    counts.update(shard_record(summary_out, points_dir,
                               None if points_dir is None else tmp_dir))  # combine checks it
    counts_out = Path(counts_out) if counts_out is not None else summary_out.with_suffix(".json")
    atomic.write_text(counts_out, json.dumps(counts, indent=1, sort_keys=True))
    if points_dir is not None:
        shutil.rmtree(points_dir, ignore_errors=True)
        tmp_dir.replace(points_dir)
    return counts
