"""render_figures on the tiny sweep: files written, reproducible bytes, edge cases and
scenario membership by ``scenario_id``."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from conftest import TEST_SWEEPS

from trainplan.analysis.replicated import replicated_memory_bytes
from trainplan.render.figures import FIGURES, render_figures
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
    rows = best.filter(pl.col("scenario_id") == scenario_id) if best.width else best
    baseline = replicated_memory_bytes(rows.row(0, named=True)) if rows.height else None
    return render_figures(best, tp_pp, pareto, out_dir, scenario_id, LABEL, names=names,
                          axes=("model", "n_gpus"), replicated_memory_bytes=baseline)


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
    assert "relative to plain data parallelism" in captions["memory_reduction"]
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
    # the baseline is plain data parallelism of the same job, with or without a DP row
    reduction = next(f for f in figures if f["name"] == "memory_reduction")
    assert "relative to plain data parallelism" in reduction["caption"]
    assert reduction["title"].startswith("Memory reduction against plain DP")


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


def test_renumbered_scenarios_give_identical_bytes(tables, rendered, tmp_path):
    """Membership is by scenario_id alone: renumbering every table the same way changes nothing."""
    renumber = pl.col("scenario_id") * 7 + 100
    again = {k: v.with_columns(renumber) for k, v in tables.items()}
    figures = _render(tmp_path, **again, scenario_id=REFERENCE * 7 + 100)
    out_dir, before = rendered
    assert figures == before
    for fig in figures:
        assert (tmp_path / fig["file"]).read_bytes() == (out_dir / fig["file"]).read_bytes()


def test_tp_pp_rows_of_other_scenarios_are_not_drawn(tables, tmp_path):
    tp_pp = tables["tp_pp"]
    moved = tp_pp.with_columns(
        pl.when(pl.col("scenario_id") == REFERENCE).then(999).otherwise(pl.col("scenario_id"))
        .alias("scenario_id"))
    assert _render(tmp_path, tables["best"], moved, tables["pareto"],
                   names=["tp_pp_heatmap"]) == []
    no_ids = tp_pp.drop("scenario_id")
    assert _render(tmp_path, tables["best"], no_ids, tables["pareto"],
                   names=["tp_pp_heatmap"]) == []


def test_scaling_draws_the_reference_series_only(tables, tmp_path):
    """The other model's scenarios (same GPU counts) are not part of the scaling series."""
    best = tables["best"]
    ref_model = best.filter(pl.col("scenario_id") == REFERENCE)["model"][0]
    (full,) = _render(tmp_path / "a", best, tables["tp_pp"], tables["pareto"], names=["scaling"])
    own = best.filter(pl.col("model") == ref_model)
    (only,) = _render(tmp_path / "b", own, tables["tp_pp"], tables["pareto"], names=["scaling"])
    assert full == only
    assert (tmp_path / "a" / "scaling.png").read_bytes() == (tmp_path / "b" / "scaling.png"
                                                              ).read_bytes()
    one = best.filter((pl.col("model") != ref_model) | (pl.col("scenario_id") == REFERENCE))
    assert _render(tmp_path / "c", one, tables["tp_pp"], tables["pareto"],
                   names=["scaling"]) == []


def test_unknown_figure_name(tables, tmp_path):
    with pytest.raises(ValueError, match="no_such_figure"):
        _render(tmp_path, **tables, names=["no_such_figure"])


def test_unknown_scenario_and_empty_tables(tables, tmp_path):
    figures = _render(tmp_path / "a", tables["best"], tables["tp_pp"], tables["pareto"],
                      scenario_id=999)
    # the figures across scenarios do not need the reference scenario
    assert [f["name"] for f in figures] == ["answer", "cost_frontier"]
    empty = pl.DataFrame()
    assert _render(tmp_path / "b", empty, empty, empty) == []
    assert list((tmp_path / "b").iterdir()) == []


@pytest.mark.parametrize("model", ["a$x$b", "gpt$^$x", r"m$\foo$-7b", "cost $5"])
def test_dollar_signs_in_sweep_text_are_drawn_as_written(tables, tmp_path, model):
    """Mathtext never parses a sweep's text: a model name with ``$`` signs draws as written."""
    def rename(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(pl.col("model").cast(pl.String).replace("llama2-7b", model))

    label = LABEL.replace("llama2-7b", model)
    figures = render_figures(rename(tables["best"]), rename(tables["tp_pp"]),
                             rename(tables["pareto"]), tmp_path, REFERENCE, label,
                             axes=("model", "n_gpus"), replicated_memory_bytes=1e11)
    _check_written(tmp_path, figures)
    assert [f["name"] for f in figures] == ALL_NAMES
    titles = {f["name"]: f["title"] for f in figures}
    assert label in titles["memory_breakdown"]       # the returned title is the raw text


def test_literal_escapes_every_dollar():
    from matplotlib.text import Text

    from trainplan.render.figures._draw import literal
    assert literal("a$x$b") == r"a\$x\$b"
    assert Text(text=literal("a$x$b"))._preprocess_math(literal("a$x$b")) == ("a$x$b", False)
