"""The pruned search gives exactly what the exhaustive evaluation gives.

Each case runs every shard of a sweep both ways (``run_shard(..., prune=True/False)``),
combines them, and compares the shard summaries, the final tables and the counts
(reasons included) for equality, on sub-grids of the shipped exhaustive sweeps and on
the tiny test sweep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from conftest import ROOT, TEST_SWEEPS
from polars.testing import assert_frame_equal

from trainplan.model import feasibility as fe
from trainplan.model.step import evaluate_arrays
from trainplan.schema.resolve import derive
from trainplan.sweep import combine, prune, shard
from trainplan.sweep.file import load_sweep
from trainplan.sweep.grid import Grid

SHIPPED = ROOT / "sweeps"


def _sub_sweep(tmp_path: Path, source: Path, edits: dict, name: str = "sub.yaml") -> Path:
    """``source`` with ``edits`` ({"section.key": value} or {"key": value}), keep: best."""
    data = yaml.safe_load(source.read_text())
    data["keep"] = "best"
    for dotted, value in edits.items():
        where = data
        *path, key = dotted.split(".")
        for part in path:
            where = where.setdefault(part, {})
        if value is None:
            del where[key]
        else:
            where[key] = value
    out = tmp_path / name
    out.write_text(yaml.safe_dump(data))
    return out


def _run(sweep: Path, out: Path, prune_on: bool) -> Path:
    """Every shard of ``sweep`` and their combination, written under ``out``."""
    out.mkdir()
    files = []
    for i in range(shard.n_shards(load_sweep(sweep))):
        shard.run_shard(sweep, i, out / f"s{i}.parquet", prune=prune_on)
        files.append(out / f"s{i}.parquet")
    combine.combine_dir(files, out)
    return out


def _assert_same(sweep: Path, tmp_path: Path) -> dict:
    """Pruned and exhaustive runs of ``sweep`` write equal tables and counts."""
    pruned, full = _run(sweep, tmp_path / "pruned", True), _run(sweep, tmp_path / "full", False)
    names = sorted(p.name for p in full.iterdir())
    assert names == sorted(p.name for p in pruned.iterdir())
    for name in names:
        if name.endswith(".json"):
            assert (pruned / name).read_text() == (full / name).read_text(), name
        else:
            assert_frame_equal(pl.read_parquet(pruned / name), pl.read_parquet(full / name))
    return yaml.safe_load((full / "counts.json").read_text())


# every layout axis of the shipped grid, cut to a few values (the 112 M grid is run
# both ways once, by hand: see the README)
EXHAUSTIVE_BEST = {
    "hardware.n_gpus": [256, 1536, 4096], "hardware.scaleout_gbit_s_per_node": [800, 3200],
    "parallel.pp": [1, 3, 4, 16], "parallel.vpp": [1, 2], "parallel.micro_batch": [1, 4],
    "parallel.zero_stage": [0, 1, 3], "parallel.cp": [1, 2],
    "parallel.dp_algorithm": ["ring", "hierarchical"],
    "parallel.tp_algorithm": ["ring", "rhd"], "shard_size": 20000,
}
EXHAUSTIVE_ALL = {
    "hardware.n_gpus": [64, 1024], "parallel.pp": [1, 5, 8], "parallel.vpp": [1, 2],
    "parallel.micro_batch": [1, 2], "parallel.zero_stage": [1, 2],
    "parallel.dp_algorithm": ["ring", "tree"], "parallel.tp_algorithm": ["rhd"],
    "shard_size": 5000,
}


BILLION = {
    "model": ["llama3-70b", "llama3-405b"], "hardware.gpu": ["H100-SXM5-80GB", "B200"],
    "hardware.n_gpus": [512, 8192], "hardware.scaleout_gbit_s_per_node": [800],
    "job.precision": ["bf16", "fp8"], "parallel.tp": [2, 8], "parallel.pp": [1, 4, 7, 16],
    "parallel.vpp": [1, 3], "parallel.micro_batch": [1, 8], "parallel.zero_stage": [1, 2],
    "parallel.cp": [1, 4], "parallel.dp_algorithm": ["ring", "rhd"],
    "parallel.tp_algorithm": ["tree"], "shard_size": 40000,
}


@pytest.mark.parametrize("source, edits", [
    (SHIPPED / "exhaustive_search_best.yaml", EXHAUSTIVE_BEST),
    (SHIPPED / "exhaustive_search_all.yaml", EXHAUSTIVE_ALL),
    (SHIPPED / "billion_layout_search.yaml", BILLION),
    (TEST_SWEEPS / "tiny.yaml", {}),
], ids=["exhaustive_search_best", "exhaustive_search_all", "billion_layout_search", "tiny"])
def test_pruned_equals_exhaustive(tmp_path, source, edits):
    counts = _assert_same(_sub_sweep(tmp_path, source, edits), tmp_path)
    assert counts["feasible"] and counts["reasons"]       # both kinds of rows present


def test_closest_rows_of_structurally_infeasible_strategies_are_the_same(tmp_path):
    """A grid where some strategies never fit and some never divide: their closest rows
    (memory of rows the pruned run never evaluates in full) must match."""
    edits = {"model": "llama3-405b", "hardware.n_gpus": [24, 256],
             "parallel.tp": [1, 3, 8], "parallel.pp": [1, 7], "parallel.zero_stage": [0, 3],
             "parallel.recompute": ["none", "full"], "shard_size": 1000}
    counts = _assert_same(_sub_sweep(tmp_path, TEST_SWEEPS / "tiny.yaml", edits), tmp_path)
    best = pl.read_parquet(tmp_path / "full" / "best.parquet")
    assert (~best["feasible"]).any() and best["rank_in_scenario"].is_null().any()
    assert counts["reasons"][fe.REASONS[fe.MEMORY]]


def test_a_zero_bandwidth_falls_back_to_the_exhaustive_evaluation(tmp_path):
    """With a rate of zero the step time may be infinite (NO_TIME): no pruning, same counts."""
    edits = {"hardware.scaleout_gbit_s_per_node": [0, 800], "hardware.n_gpus": [16, 32]}
    sweep = _sub_sweep(tmp_path, TEST_SWEEPS / "tiny.yaml", edits)
    grid = Grid(load_sweep(sweep))
    assert all(prune.prune_block(grid, b) is None for s in grid.shards(10**6, 10**6) for b in s)
    counts = _assert_same(sweep, tmp_path)
    assert counts["reasons"][fe.REASONS[fe.NO_TIME]]


def test_chunked_evaluation_and_reduction_change_nothing(tmp_path, monkeypatch):
    """Survivors evaluated 100 rows at a time and key rows reduced past 300 (the memory
    bounds) give the same tables and counts."""
    monkeypatch.setattr(prune, "EVAL_ROWS", 100)
    monkeypatch.setattr(prune, "BUFFER_ROWS", 300)
    _assert_same(_sub_sweep(tmp_path, TEST_SWEEPS / "tiny.yaml", {}), tmp_path)


def test_a_sweep_without_a_token_budget_is_pruned(tmp_path):
    """NaN inputs read only after the step time (cost, time to train) do not stop pruning."""
    sweep = _sub_sweep(tmp_path, TEST_SWEEPS / "tiny.yaml", {"job.tokens_budget": None})
    grid = Grid(load_sweep(sweep))
    assert prune.prune_block(grid, grid.blocks(10**6)[0]) is not None
    _assert_same(sweep, tmp_path)


def test_the_full_model_runs_on_the_feasible_configurations_only(tmp_path, monkeypatch):
    """The pruned path runs (no fallback) and the step model sees only feasible rows."""
    sweep = _sub_sweep(tmp_path, TEST_SWEEPS / "tiny.yaml", {})
    grid = Grid(load_sweep(sweep))
    block = grid.blocks(10**6)[0]
    evaluated = []
    flat_outputs = prune._flat_outputs
    monkeypatch.setattr(prune, "_flat_outputs",
                        lambda arrays, rows, shape: evaluated.append(len(rows))
                        or flat_outputs(arrays, rows, shape))
    _, counts = prune.prune_block(grid, block)
    assert sum(counts.values()) == block.size
    assert 0 < evaluated[0] == counts[0] < block.size


def test_early_flags_are_the_step_flags_but_no_time(tmp_path):
    """Flags and memory of the early test equal the full model's on a broadcast grid."""
    edits = {**EXHAUSTIVE_BEST, "parallel.tp": [1, 8], "parallel.pp": [1, 3, 4]}
    grid = Grid(load_sweep(_sub_sweep(tmp_path, SHIPPED / "exhaustive_search_best.yaml", edits)))
    block = grid.blocks(10**7)[0]
    arrays = derive(grid.block_values(block))
    with np.errstate(divide="ignore", invalid="ignore"):
        flags, memory = fe.early_flags(arrays)
        full = evaluate_arrays(arrays).as_dict()
    shape = np.shape(full["infeasible_flags"])
    np.testing.assert_array_equal(np.broadcast_to(flags, shape), full["infeasible_flags"])
    np.testing.assert_array_equal(np.broadcast_to(memory, shape), full["memory_total_bytes"])
    assert flags.size * 4 <= np.prod(shape)               # a sub-product: no algorithms


def test_a_span_is_its_blocks_side_by_side(tmp_path):
    """A run of blocks screened at once has the values, keys and ids of its blocks."""
    sweep = _sub_sweep(tmp_path, SHIPPED / "exhaustive_search_best.yaml", EXHAUSTIVE_BEST)
    grid = Grid(load_sweep(sweep))
    blocks = grid.blocks(20000)[:4]               # two scale-out values per n_gpus
    (span, members), *_ = prune.spans(blocks, limit=2 * blocks[0].size)
    assert members == blocks[:2] and span.size == 2 * members[0].size
    axis = len(span.prefix) - 1
    joined = np.concatenate([np.broadcast_to(grid.axis_code(b, grid.names), grid.block_shape(b))
                             for b in members], axis=axis)
    np.testing.assert_array_equal(np.broadcast_to(grid.axis_code(span, grid.names),
                                                  grid.block_shape(span)), joined)
    np.testing.assert_array_equal(grid.config_ids(span),
                                  np.concatenate([grid.config_ids(b) for b in members]))
    for name, array in grid.block_values(span).items():
        parts = [np.asarray(grid.block_values(b)[name]) for b in members]
        if np.ndim(array) and np.shape(array)[axis] > 1:
            np.testing.assert_array_equal(array, np.concatenate(parts, axis=axis))


def test_prune_is_off_with_the_environment_switch(monkeypatch):
    monkeypatch.setenv("TRAINPLAN_PRUNE", "0")
    assert not prune.enabled()
    monkeypatch.setenv("TRAINPLAN_PRUNE", "1")
    assert prune.enabled()
