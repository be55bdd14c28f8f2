"""The answer over a sweep's scenario axes: winners, runner-ups, margins and the matrix."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from trainplan.analysis.answer import answer, axis_title, page1_axes, short_strategy


def _best(row, *specs: dict) -> pl.DataFrame:
    """A best.parquet of hand-made rows (extra columns beyond the fixture's defaults)."""
    rows = []
    for spec in specs:
        extra = {k: spec.pop(k) for k in ("scaleout_gbit_s_per_node", "tokens_budget")
                 if k in spec}
        rows.append({**row(**spec), "tokens_budget": 1e12, "scaleout_gbit_s_per_node": 400.0,
                     **extra})
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.col("config_id", "scenario_id", "rank_in_scenario").cast(pl.Int64))


@pytest.fixture
def two_axes(row) -> pl.DataFrame:
    """Two GPU counts x two networks; in the (16, 800) scenario nothing fits."""
    specs = []
    for sid, (n, net) in enumerate([(8, 400.0), (8, 800.0), (16, 400.0), (16, 800.0)]):
        if (n, net) == (16, 800.0):
            specs.append({"config_id": 40, "scenario_id": sid, "n_gpus": float(n),
                          "scaleout_gbit_s_per_node": net, "feasible": False,
                          "reason": "does not fit in GPU memory"})
            continue
        specs += [
            {"config_id": 10 * sid, "scenario_id": sid, "rank_in_scenario": 1, "n_gpus": float(n),
             "scaleout_gbit_s_per_node": net, "strategy": "2D (DP x TP)", "tp": 2.0,
             "step_time_s": 2.0, "cost_usd": 3.0e6, "time_to_train_days": 20.0 + sid},
            {"config_id": 10 * sid + 1, "scenario_id": sid, "rank_in_scenario": 2,
             "n_gpus": float(n), "scaleout_gbit_s_per_node": net, "strategy": "DP",
             "step_time_s": 2.5, "cost_usd": 3.75e6},
        ]
    return _best(row, *specs)


def test_each_scenario_gets_its_winner_cost_per_trillion_tokens_and_runner_up(two_axes):
    rows = answer(two_axes, ["n_gpus", "scaleout_gbit_s_per_node"])["rows"]
    assert [r["scenario_id"] for r in rows] == [0, 1, 2, 3]
    first = rows[0]
    assert first["strategy_short"] == "2D" and first["layout"].startswith("tp=2")
    assert first["usd_per_trillion_tokens"] == 3.0e6          # 1 T tokens cost 3 M USD
    assert first["runner_up"]["strategy"] == "DP"
    assert first["runner_up"]["margin_pct"] == pytest.approx(25.0)   # 2.5 s vs 2.0 s
    assert first["values"] == {"n_gpus": "8", "scaleout_gbit_s_per_node": "400"}
    assert rows[3]["feasible"] is False and "memory" in rows[3]["reason"]


def test_two_axes_read_as_one_matrix_with_the_wider_axis_across(two_axes, row):
    matrix = answer(two_axes, ["n_gpus", "scaleout_gbit_s_per_node"])["matrix"]
    assert matrix["across"] == "n_gpus"                       # equal counts: the first axis
    assert matrix["heads"] == ["8", "16"]
    assert [line["values"] for line in matrix["lines"]] == [["400"], ["800"]]
    cells = matrix["lines"][1]["cells"]
    assert cells[0]["time_to_train_days"] == 21.0 and cells[1]["feasible"] is False


def test_one_axis_is_a_list_and_a_winner_alone_has_no_runner_up(row):
    best = _best(row, {"config_id": 1, "scenario_id": 0, "rank_in_scenario": 1})
    result = answer(best, ["gpu"])
    assert result["matrix"] is None
    assert result["rows"][0]["runner_up"] is None
    assert result["rows"][0]["usd_per_trillion_tokens"] is None    # no price: NaN cost


def test_labels():
    assert short_strategy("3D (DP x TP x PP) + CP") == "3D + CP"
    assert short_strategy("DP") == "DP"
    assert axis_title("scaleout_gbit_s_per_node") == "scale-out bandwidth per node [Gb/s]"
    assert axis_title("gpu") == "GPU"
    assert axis_title("dp_algorithm") == "dp_algorithm"      # an axis without words


def test_rows_carry_the_expected_figures_with_failures_and_checkpoints(row):
    best = _best(row, {"config_id": 1, "scenario_id": 0, "rank_in_scenario": 1,
                       "time_to_train_days": 20.0, "cost_usd": 3.0e6}).with_columns(
        goodput=pl.lit(0.8), expected_time_to_train_days=pl.lit(25.0),
        expected_gpu_hours=pl.lit(4.8e3), expected_cost_usd=pl.lit(3.75e6))
    first = answer(best, ["n_gpus"])["rows"][0]
    assert (first["goodput"], first["expected_time_to_train_days"], first["expected_gpu_hours"],
            first["expected_cost_usd"]) == (0.8, 25.0, 4.8e3, 3.75e6)


def test_rows_of_a_table_without_budget_columns_have_no_expected_figures(row):
    best = _best(row, {"config_id": 1, "scenario_id": 0, "rank_in_scenario": 1})
    first = answer(best, ["n_gpus"])["rows"][0]
    assert first["expected_cost_usd"] is None and first["goodput"] is None


def test_page1_shows_every_scenario_when_they_fit(two_axes):
    page1 = answer(two_axes, ["n_gpus", "scaleout_gbit_s_per_node"])["page1"]
    assert page1["collapsed"] == [] and len(page1["rows"]) == 4


def test_a_declared_axis_list_keeps_the_fastest_scenario_over_the_others(two_axes):
    # per GPU count, the fastest network: 400 Gb/s at 8 GPUs (20 days against 21), and at
    # 16 GPUs the only feasible one (800 Gb/s fits nothing)
    page1 = answer(two_axes, ["n_gpus", "scaleout_gbit_s_per_node"], ["n_gpus"])["page1"]
    assert [a["name"] for a in page1["axes"]] == ["n_gpus"]
    assert [a["name"] for a in page1["collapsed"]] == ["scaleout_gbit_s_per_node"]
    assert [(r["scenario_id"], r["picked"]) for r in page1["rows"]] == [
        (0, {"scaleout_gbit_s_per_node": "400"}), (2, {"scaleout_gbit_s_per_node": "400"})]
    # on 800 Gb/s the 8-GPU cell takes 21 days instead of 20 (+5 %); at 16 GPUs nothing fits
    [fast, slow] = page1["effects"]
    assert (fast["value"], fast["median_pct"], fast["cells"]) == ("400 Gb/s", 0.0, 2)
    assert (slow["value"], slow["cells"]) == ("800 Gb/s", 1)
    assert slow["median_pct"] == pytest.approx(5.0) and slow["max_pct"] == pytest.approx(5.0)


@pytest.mark.parametrize(("counts", "kept"), [
    # the billion-layout sweep: 360 scenarios; model x gpu down, 10 GPU counts across
    ({"model": 3, "gpu": 3, "n_gpus": 10, "scaleout_gbit_s_per_node": 2, "precision": 2},
     ["model", "gpu", "n_gpus"]),
    # 4 x 6 networks fit as they are
    ({"scaleout_gbit_s_per_node": 6, "scaleup_domain_gpus": 4},
     ["scaleout_gbit_s_per_node", "scaleup_domain_gpus"]),
    # 2 models x 2 GPUs x 9 counts x 3 networks: the network goes first
    ({"model": 2, "gpu": 2, "n_gpus": 9, "scaleout_gbit_s_per_node": 3},
     ["model", "gpu", "n_gpus"]),
])
def test_page1_axes_drop_minor_axes_until_the_answer_fits(counts, kept):
    assert page1_axes(list(counts), counts) == kept


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "sweeps").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_shipped_sweep_answers_on_one_page(path):
    """Page 1 of each shipped sweep's report holds its answer: at most MAX_PAGE1_LINES lines
    of at most MAX_MATRIX_COLUMNS columns over axes that include the model, GPU and count
    axes the sweep varies."""
    from trainplan.analysis.answer import MAX_MATRIX_COLUMNS, MAX_PAGE1_LINES, _lines
    from trainplan.sweep.file import load_sweep

    sweep = load_sweep(path)
    counts = {a.name: len(a.values) for a in sweep.axes if a.name in sweep.scenario}
    columns = list(sweep.scenario)
    kept = page1_axes(columns, counts, sweep.raw.get("answer_axes"))
    assert _lines(kept, counts) <= MAX_PAGE1_LINES
    assert all(counts[c] <= MAX_MATRIX_COLUMNS for c in kept) or len(kept) >= 2
    assert {"model", "gpu", "n_gpus"} & set(columns) <= set(kept)
