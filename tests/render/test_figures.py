"""Figures of the report: files written, reproducible bytes and edge cases."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from conftest import TEST_SWEEPS

from trainplan.render.figures import FIGURES, render_figures, short_reason, strategy_order
from trainplan.sweep import combine, shard

SWEEP = TEST_SWEEPS / "tiny.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_NAMES = [name for name, _ in FIGURES]
LABEL = "llama2-7b on 16 x A100-SXM4-80GB"
REFERENCE = 1  # llama2-7b on 16 GPUs in the tiny sweep


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, pl.DataFrame]:
    """The tiny sweep's tables, with two infeasible strategies added to the reference."""
    out = tmp_path_factory.mktemp("tiny")
    shard.run_shard(str(SWEEP), 0, str(out / "shards" / "0.parquet"), None)
    combine.combine_dir([out / "shards" / "0.parquet"], out)
    best = pl.read_parquet(out / "best.parquet")
    infeasible = best.filter(pl.col("scenario_id") == REFERENCE).head(2).with_columns(
        pl.Series("strategy", ["TP", "DP + CP"]),
        pl.Series("feasible", [False, False]),
        pl.Series("reason", ["does not fit in GPU memory",
                             "heads, kv heads or ffn width not divisible by tp; "
                             "does not fit in GPU memory"]),
        pl.col("memory_activations_bytes") * 3,
        pl.lit(None, dtype=pl.Int64).alias("rank_in_scenario"))
    return {"best": pl.concat([best, infeasible]),
            "tp_pp": pl.read_parquet(out / "tp_pp.parquet"),
            "pareto": pl.read_parquet(out / "pareto.parquet")}


def _render(out_dir: Path, best: pl.DataFrame, tp_pp: pl.DataFrame, pareto: pl.DataFrame,
            scenario_id: int = REFERENCE, names: list[str] | None = None) -> list[dict]:
    return render_figures(best, tp_pp, pareto, out_dir, scenario_id, LABEL, names=names)


@pytest.fixture(scope="module")
def rendered(tables, tmp_path_factory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("figures")
    return out, _render(out, **tables)


def _check_written(out_dir: Path, figures: list[dict]) -> None:
    """Every returned figure is a non-empty PNG and nothing else is in ``out_dir``."""
    for fig in figures:
        assert set(fig) == {"name", "file", "title", "caption"}
        assert fig["file"] == f"{fig['name']}.png"
        data = (out_dir / fig["file"]).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
        assert fig["title"] and fig["caption"].endswith(".")
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(f["file"] for f in figures)


def test_every_figure_written(rendered):
    out_dir, figures = rendered
    assert [f["name"] for f in figures] == ALL_NAMES
    _check_written(out_dir, figures)
    titles = {f["name"]: f["title"] for f in figures}
    assert LABEL in titles["memory_breakdown"] and LABEL in titles["tp_pp_heatmap"]
    captions = {f["name"]: f["caption"] for f in figures}
    assert "GiB" in captions["memory_breakdown"] and "GB (10^9 bytes)" in captions[
        "communication_volume"]
    assert "relative to the DP row" in captions["memory_reduction"]
    assert "no feasible configuration" in captions["memory_breakdown"]
    assert "TP" in captions["throughput"] and "DP + CP" in captions["throughput"]


def test_rendering_twice_gives_identical_bytes(rendered, tables, tmp_path):
    out_dir, figures = rendered
    again = _render(tmp_path, **tables)
    assert again == figures
    for fig in figures:
        assert (tmp_path / fig["file"]).read_bytes() == (out_dir / fig["file"]).read_bytes()


def test_single_strategy_without_dp(tables, tmp_path):
    best = tables["best"]
    best = best.filter((pl.col("scenario_id") != REFERENCE)
                       | (pl.col("strategy") == "2D (DP x TP)"))
    names = [n for n in ALL_NAMES if n not in ("scaling", "tp_pp_heatmap", "cost_frontier")]
    figures = _render(tmp_path, best, tables["tp_pp"], tables["pareto"], names=names)
    _check_written(tmp_path, figures)
    assert [f["name"] for f in figures] == names
    reduction = next(f for f in figures if f["name"] == "memory_reduction")
    assert "no DP row" in reduction["caption"]


def test_all_infeasible(tables, tmp_path):
    best = tables["best"].with_columns(
        pl.lit(False).alias("feasible"), pl.lit("does not fit in GPU memory").alias("reason"),
        pl.lit(None, dtype=pl.Int64).alias("rank_in_scenario"))
    figures = _render(tmp_path, best, tables["tp_pp"].clear(), tables["pareto"].clear())
    _check_written(tmp_path, figures)
    assert [f["name"] for f in figures] == ["memory_breakdown", "memory_reduction",
                                             "overall_ranking"]


def test_nan_costs_plot_gpu_hours(tables, tmp_path):
    nan_cost = pl.lit(float("nan")).alias("cost_usd")
    best = tables["best"].with_columns(nan_cost)
    pareto = tables["pareto"].with_columns(nan_cost)
    figures = _render(tmp_path, best, tables["tp_pp"], pareto, names=["cost_frontier"])
    _check_written(tmp_path, figures)
    (frontier,) = figures
    assert "GPU-hours" in frontier["title"] and "GPU-hours" in frontier["caption"]


def test_no_time_to_train_skips_cost_frontier(tables, tmp_path):
    best = tables["best"].with_columns(pl.lit(float("nan")).alias("time_to_train_days"))
    assert _render(tmp_path, best, tables["tp_pp"], tables["pareto"], names=["cost_frontier"]) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("empty", ["no rows", "no columns"])
def test_empty_tp_pp_skips_heatmap_and_removes_stale_file(tables, tmp_path, empty):
    (tmp_path / "tp_pp_heatmap.png").write_bytes(b"stale")
    tp_pp = tables["tp_pp"].clear() if empty == "no rows" else pl.DataFrame()
    best = tables["best"].filter(pl.col("n_gpus") == 16)  # one GPU count: no scaling either
    figures = _render(tmp_path, best, tp_pp, tables["pareto"],
                      names=["tp_pp_heatmap", "scaling", "throughput"])
    assert [f["name"] for f in figures] == ["throughput"]
    _check_written(tmp_path, figures)


def test_tp_pp_with_scenario_id_matches_lookup_by_inputs(tables, rendered, tmp_path):
    """With a scenario_id column, tp_pp rows are picked by id: the same heatmap results."""
    ids = tables["best"].select("model", "n_gpus", "scenario_id").unique()
    tp_pp = tables["tp_pp"].join(ids, on=["model", "n_gpus"])
    figures = _render(tmp_path, tables["best"], tp_pp, tables["pareto"],
                      names=["tp_pp_heatmap"])
    assert [f["name"] for f in figures] == ["tp_pp_heatmap"]
    _check_written(tmp_path, figures)
    out_dir, _ = rendered
    name = "tp_pp_heatmap.png"
    assert (tmp_path / name).read_bytes() == (out_dir / name).read_bytes()


def test_unknown_figure_name(tables, tmp_path):
    with pytest.raises(ValueError, match="no_such_figure"):
        _render(tmp_path, **tables, names=["no_such_figure"])


def test_unknown_scenario_and_empty_tables(tables, tmp_path):
    figures = _render(tmp_path / "a", tables["best"], tables["tp_pp"], tables["pareto"],
                      scenario_id=999)
    assert [f["name"] for f in figures] == ["cost_frontier"]
    empty = pl.DataFrame()
    assert _render(tmp_path / "b", empty, empty, empty) == []
    assert list((tmp_path / "b").iterdir()) == []


def test_strategy_order():
    names = ["custom", "3D (DP x TP x PP)", "DP + CP", "TP", "DP", "single GPU", "DP"]
    assert strategy_order(names) == ["single GPU", "DP", "DP + CP", "TP", "3D (DP x TP x PP)",
                                     "custom"]


def test_short_reason():
    assert short_reason("does not fit in GPU memory") == "does not fit"
    assert short_reason("") == "infeasible"
    text = short_reason("heads, kv heads or ffn width not divisible by tp; does not fit in GPU "
                        "memory", 20)
    assert text.endswith("... (+1)") and len(text) <= 20 + len(" (+1)")
