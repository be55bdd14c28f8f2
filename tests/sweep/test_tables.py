"""Keys and dtypes end to end: every table a sweep writes has its keys and declared types."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import TEST_SWEEPS

from trainplan.schema.inputs import INPUTS
from trainplan.schema.outputs import KEY_COLUMNS, OUTPUT_DTYPES
from trainplan.sweep import combine, shard

DECLARED = {**{name: dtype for name, (dtype, _) in KEY_COLUMNS.items()},
            **{spec.name: spec.dtype for spec in INPUTS}, **OUTPUT_DTYPES}


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, pl.DataFrame]:
    out = tmp_path_factory.mktemp("tables")
    shard.run_shard(TEST_SWEEPS / "tiny.yaml", 0, out / "s.parquet", out / "points")
    combine.combine_dir([out / "s.parquet"], out)
    found = {name: pl.read_parquet(out / f"{name}.parquet") for name in combine.TABLES}
    found["points"] = pl.read_parquet(out / "points")
    return found


@pytest.mark.parametrize("name", ["best", "tp_pp", "pareto", "points"])
def test_every_column_has_its_declared_type_and_the_keys_lead(tables, name):
    table = tables[name]
    assert table.columns[:2] == ["config_id", "scenario_id"]
    for column in DECLARED:
        assert str(table.schema[column]) == DECLARED[column], column
    assert table["tp"].dtype == pl.Int64 and table["n_gpus"].dtype == pl.Int64


def test_scenario_ids_agree_across_tables(tables):
    """A scenario of tp_pp and pareto is a scenario of best, with the same scenario inputs."""
    best = tables["best"]
    keys = ["scenario_id", "model", "n_gpus"]           # the tiny sweep's scenario axes
    for name in ("tp_pp", "pareto", "points"):
        joined = tables[name].select(keys).unique().join(best.select(keys).unique(),
                                                         on="scenario_id", suffix="_best")
        assert joined.height == tables[name].select("scenario_id").n_unique()
        assert (joined["model"] == joined["model_best"]).all()
        assert (joined["n_gpus"] == joined["n_gpus_best"]).all()
