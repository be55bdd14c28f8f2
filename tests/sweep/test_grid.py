"""The broadcasting grid engine, shards and the combine step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from conftest import TEST_SWEEPS

from trainplan import evaluate
from trainplan.schema.outputs import OUTPUT_COLUMNS
from trainplan.sweep import combine, shard
from trainplan.sweep.file import load_sweep
from trainplan.sweep.grid import Grid, block_table

TINY = TEST_SWEEPS / "tiny.yaml"


def test_grid_rows_equal_the_same_rows_evaluated_as_a_table():
    grid = Grid(load_sweep(TINY))
    block = grid.blocks(10**9)[0]
    values, outputs = grid.evaluate_block(block)
    table = block_table(grid, block, values, outputs)
    assert table.height == grid.size == 1944
    assert table["config_id"].to_list() == list(range(1944))
    sample = table.sample(200, seed=1)
    # dp is derived from n_gpus (fractional where tp*pp*cp does not divide: labelled rows)
    inputs = sample.select([c for c in sample.columns if c not in OUTPUT_COLUMNS and
                            c not in ("config_id", "dp")])
    again = evaluate(inputs)
    for column in OUTPUT_COLUMNS:
        left, right = sample[column], again[column]
        if left.dtype == pl.Float64:
            np.testing.assert_allclose(left.to_numpy(), right.to_numpy(), rtol=1e-12)
        else:
            assert left.to_list() == right.to_list(), column


def _run(tmp_path: Path, shard_size: int, name: str) -> dict[str, pl.DataFrame]:
    data = yaml.safe_load(TINY.read_text())
    data["shard_size"] = shard_size
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    sweep = load_sweep(path)
    out = tmp_path / name
    files = []
    for i in range(shard.n_shards(sweep)):
        summary = out / "shards" / f"{i:05d}.parquet"
        shard.run_shard(path, i, summary, out / "points" / f"shard={i:05d}")
        files.append(summary)
    combine.combine_dir(files, out)
    tables = {k: pl.read_parquet(out / f"{k}.parquet") for k in ("best", "tp_pp", "pareto")}
    tables["points"] = pl.read_parquet(out / "points" / "**" / "*.parquet",
                                       hive_partitioning=False).sort("config_id")
    tables["counts"] = json.loads((out / "counts.json").read_text())
    tables["n_shards"] = shard.n_shards(sweep)
    return tables


def test_results_do_not_depend_on_the_sharding(tmp_path):
    one = _run(tmp_path, 1_000_000, "one")
    many = _run(tmp_path, 1000, "many")
    assert one["n_shards"] == 1 and many["n_shards"] >= 2
    for key in ("best", "tp_pp", "pareto", "points"):
        assert one[key].equals(many[key]), key
    assert one["counts"] == many["counts"]


def test_same_sweep_same_bytes(tmp_path):
    _run(tmp_path, 1_000_000, "a")
    _run(tmp_path, 1_000_000, "b")
    for name in ("best.parquet", "tp_pp.parquet", "pareto.parquet", "counts.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_best_is_the_fastest_feasible_per_scenario_and_strategy(tmp_path):
    tables = _run(tmp_path, 1_000_000, "check")
    points, best = tables["points"], tables["best"]
    expected = (points.filter(pl.col("feasible"))
                .group_by(["model", "n_gpus", "strategy"])
                .agg(pl.col("step_time_s").min()))
    got = best.filter(pl.col("feasible")).select("model", "n_gpus", "strategy", "step_time_s")
    joined = expected.join(got, on=["model", "n_gpus", "strategy"], how="full")
    assert joined.height == got.height == expected.height
    np.testing.assert_allclose(joined["step_time_s"], joined["step_time_s_right"], rtol=0)
    assert (best.filter(pl.col("rank_in_scenario") == 1).height
            == points.select("model", "n_gpus").unique().height)
    counts = tables["counts"]
    assert counts["configurations"] == points.height
    assert counts["feasible"] == points["feasible"].sum()


@pytest.mark.parametrize("reader", ["polars", "duckdb", "pandas", "pyarrow"])
def test_points_dataset_reads_as_one_table(tmp_path, reader):
    _run(tmp_path, 1000, "ds")
    root = tmp_path / "ds" / "points"
    if reader == "polars":
        n = pl.scan_parquet(root / "**" / "*.parquet", hive_partitioning=True).select(
            pl.len()).collect().item()
    elif reader == "duckdb":
        import duckdb
        n = duckdb.sql(f"select count(*) from read_parquet('{root}/**/*.parquet', "
                       "hive_partitioning=true)").fetchall()[0][0]
    elif reader == "pandas":
        import pandas as pd
        n = len(pd.read_parquet(root))
    else:
        import pyarrow.dataset as ds
        n = ds.dataset(root, format="parquet", partitioning="hive").count_rows()
    assert n == 1944


def test_pareto_rows_are_not_dominated(tmp_path):
    tables = _run(tmp_path, 1_000_000, "p")
    points, pareto = tables["points"].filter(pl.col("feasible")), tables["pareto"]
    assert pareto.height > 0
    for model in pareto["model"].unique():
        cand = points.filter(pl.col("model") == model)
        s, m, c = (cand[k].to_numpy()[:, None] for k in ("step_time_s", "memory_total_bytes",
                                                         "cost_usd"))
        for row in pareto.filter(pl.col("model") == model).iter_rows(named=True):
            dominates = ((s <= row["step_time_s"]) & (m <= row["memory_total_bytes"])
                         & (c <= row["cost_usd"]) & ((s < row["step_time_s"])
                                                     | (m < row["memory_total_bytes"])
                                                     | (c < row["cost_usd"])))
            assert not dominates.any()


def test_keep_feasible_writes_only_feasible_rows(tmp_path):
    data = yaml.safe_load(TINY.read_text())
    data["keep"] = "feasible"
    path = tmp_path / "feasible.yaml"
    path.write_text(yaml.safe_dump(data))
    counts = shard.run_shard(path, 0, tmp_path / "s.parquet", tmp_path / "points" / "shard=0")
    rows = pl.read_parquet(tmp_path / "points" / "shard=0" / "*.parquet")
    assert rows.height == counts["feasible"] < counts["configurations"]
    assert rows["feasible"].all()
