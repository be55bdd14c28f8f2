"""The reference scenario, the rankings and the use cases, on hand-built tables."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl
import pytest

from trainplan.analysis.recommend import (
    MEMORY_REASON,
    choose_reference,
    rankings,
    scenario_label,
    scenarios,
    use_cases,
)

NO_REFERENCE = SimpleNamespace(raw={})


def _winners(table, *specs):
    """One winning row per (scenario_id, n_gpus, tflop/s, step, gpu)."""
    return table(*({"scenario_id": sid, "config_id": sid, "rank_in_scenario": 1,
                    "n_gpus": n, "achieved_tflop_s_per_gpu": tf, "step_time_s": step,
                    "gpu": gpu} for sid, n, tf, step, gpu in specs))


def test_reference_is_the_largest_scenario_near_the_best_throughput(table):
    best = _winners(table,
                    (0, 64.0, 200.0, 1.0, "A"),     # the best TFLOP/s on A
                    (1, 128.0, 181.0, 0.6, "A"),    # 90.5 % of it: still good
                    (2, 256.0, 170.0, 0.4, "A"),    # 85 %: too inefficient
                    (3, 512.0, 50.0, 0.2, "B"))     # alone on B, hence its own best
    assert choose_reference(best, NO_REFERENCE) == 3
    assert choose_reference(best.filter(best["gpu"] == "A"), NO_REFERENCE) == 1


def test_reference_ties_on_size_go_to_the_fastest_then_the_lowest_id(table):
    best = _winners(table, (4, 64.0, 100.0, 2.0, "A"), (5, 64.0, 100.0, 1.0, "A"),
                    (6, 64.0, 100.0, 1.0, "A"))
    assert choose_reference(best, NO_REFERENCE) == 5


def test_the_sweep_reference_key_overrides(table):
    best = _winners(table, (0, 64.0, 200.0, 1.0, "A"), (1, 8.0, 10.0, 9.0, "A"))
    assert choose_reference(best, SimpleNamespace(raw={"reference": {"n_gpus": 8}})) == 1
    # a reference no winner matches falls back to the rule
    assert choose_reference(best, SimpleNamespace(raw={"reference": {"n_gpus": 9}})) == 0


def test_no_winner_no_reference(table):
    assert choose_reference(table({"feasible": False}), NO_REFERENCE) is None


def _scenario(table):
    """Four strategies of one scenario; the last does not fit."""
    return table(
        {"config_id": 1, "strategy": "DP", "step_time_s": 1.2, "mfu": 0.40,
         "memory_total_bytes": 70 * 2**30, "dp_exposed_s": 0.30},
        {"config_id": 2, "strategy": "TP", "step_time_s": 1.0, "mfu": 0.45,
         "memory_total_bytes": 30 * 2**30, "dp_exposed_s": 0.05},
        {"config_id": 3, "strategy": "PP", "step_time_s": 1.1, "mfu": 0.50,
         "memory_total_bytes": 20 * 2**30, "dp_exposed_s": 0.10},
        {"config_id": 4, "strategy": "3D (DP x TP x PP)", "step_time_s": 0.5, "mfu": 0.90,
         "memory_total_bytes": 10 * 2**30, "dp_exposed_s": 0.0, "feasible": False,
         "reason": "does not fit"})


def test_rankings_order(table):
    r = rankings(_scenario(table))
    ids = {k: [i["config_id"] for i in v] for k, v in r.items()}
    assert ids == {"memory": [4, 3, 2, 1],            # infeasible ones ranked too
                   "compute_efficiency": [3, 2, 1, 4],  # infeasible ones last
                   "communication": [2, 3, 1, 4],
                   "overall": [2, 3, 1, 4]}


def test_use_cases_pick_from_the_feasible_strategies(table):
    cases = use_cases(_scenario(table), _scenario(table))
    assert [(c["case"], c["strategy"]) for c in cases] == [
        ("Memory constrained", "PP"), ("Communication limited", "TP"),
        ("Compute intensive", "PP"),
        ("Very large models", "TP")]   # all on 8 GPUs: the fastest feasible one
    # PP needs 20 GiB against 30 for the fastest (TP) and its step is 10 % longer
    assert "20.0 GiB per GPU against 30.0 GiB" in cases[0]["text"]
    assert "+10 % longer" in cases[0]["text"]


def test_large_model_case_takes_the_fewest_gpus_of_the_largest_model(table):
    best = table({"model": "big", "params_total": 70e9, "n_gpus": 64.0, "config_id": 1},
                 {"model": "big", "params_total": 70e9, "n_gpus": 32.0, "config_id": 2,
                  "strategy": "3D (DP x TP x PP)"},
                 {"model": "big", "params_total": 70e9, "n_gpus": 16.0, "config_id": 3,
                  "feasible": False},
                 {"model": "small", "params_total": 7e9, "n_gpus": 8.0, "config_id": 4})
    case = use_cases(best.head(1), best)[-1]
    assert case["strategy"] == "3D (DP x TP x PP)"
    assert case["text"].startswith("big (70 B parameters) fits on as few as 32 x G")


def test_use_cases_stay_within_the_margin_of_the_fastest(table):
    # the leanest strategy is 50 % slower than the fastest: no memory-constrained pick
    best = table({"strategy": "TP", "step_time_s": 1.0, "memory_total_bytes": 30.0 * 2**30,
                  "config_id": 1},
                 {"strategy": "PP", "step_time_s": 1.5, "memory_total_bytes": 10.0 * 2**30,
                  "config_id": 2},
                 {"strategy": "DP", "step_time_s": 1.08, "memory_total_bytes": 25.0 * 2**30,
                  "config_id": 3})
    lean = use_cases(best, best)[0]
    assert lean["strategy"] == "DP"
    assert "within 10 % of the fastest" in lean["text"]
    assert "+8 % longer" in lean["text"]


def test_large_model_case_at_the_smallest_count_claims_no_less(table):
    best = table({"model": "big", "params_total": 70e9, "n_gpus": 32.0, "config_id": 1})
    case = use_cases(best, best)[-1]
    assert "fits on 32 x G, the smallest count this sweep evaluates" in case["text"]
    assert "as few as" not in case["text"]


@pytest.mark.parametrize(("reason", "case", "strategy"), [
    (MEMORY_REASON, "No strategy fits", "PP"),       # the closest to fitting
    ("tp does not divide heads", "No strategy is feasible", "DP")])
def test_nothing_feasible(table, reason, case, strategy):
    rows = _scenario(table).head(3).with_columns(feasible=pl.lit(False),
                                                 reason=pl.lit(reason))
    [only] = use_cases(rows, rows)
    assert (only["case"], only["strategy"]) == (case, strategy)


def test_scenario_label_and_list(table):
    best = table({"scenario_id": 0, "rank_in_scenario": 1, "n_gpus": 512.0, "gpu": "H100",
                  "model": "llama3-70b"},
                 {"scenario_id": 1, "feasible": False})
    label = scenario_label(best.row(0, named=True) | {"scaleout_gbit_s_per_node": 3200.0},
                           ["model", "n_gpus", "scaleout_gbit_s_per_node"])
    assert label == "llama3-70b, 512 x H100, scaleout_gbit_s_per_node 3200 Gb/s"
    listed = scenarios(best, ["model"])
    assert [(s["scenario_id"], s["best"] is None, s["feasible_strategies"]) for s in listed] \
        == [(0, False, 1), (1, True, 0)]
