"""Scaling guidelines, scaling efficiency and implementation notes on hand-built tables."""

from __future__ import annotations

import polars as pl
import pytest

from trainplan.analysis.guidelines import (
    NOTES,
    implementation_notes,
    scaling_efficiency,
    scaling_guidelines,
)


def test_scaling_efficiency_against_the_smallest_count(table):
    # 8 GPUs: 8,000 tokens/s (1,000 per GPU); 16 GPUs: 12,000 (750 per GPU, 75 %);
    # 32 GPUs: 28,800 (900 per GPU, 90 %). A slower runner-up is left out of the series of
    # model m on GPU G, and a second configuration at 16 GPUs only counts with its best
    # throughput; GPU H, evaluated at one count only, makes no series.
    best = table(
        {"scenario_id": 2, "rank_in_scenario": 1, "n_gpus": 32.0, "tokens_per_s": 28800.0},
        {"scenario_id": 0, "rank_in_scenario": 1, "n_gpus": 8.0, "tokens_per_s": 8000.0},
        {"scenario_id": 1, "rank_in_scenario": 1, "n_gpus": 16.0, "tokens_per_s": 12000.0},
        {"scenario_id": 3, "rank_in_scenario": 1, "n_gpus": 16.0, "tokens_per_s": 9000.0},
        {"scenario_id": 1, "rank_in_scenario": 2, "n_gpus": 16.0, "tokens_per_s": 15000.0},
        {"scenario_id": 4, "rank_in_scenario": 1, "n_gpus": 64.0, "tokens_per_s": 1.0,
         "gpu": "H"})
    out = scaling_efficiency(best, ["gpu", "n_gpus"])
    series = [(r["series"], r["n_gpus"], r["tokens_per_s"]) for r in out]
    assert series == [("m on G", 8, 8000.0), ("m on G", 16, 12000.0), ("m on G", 32, 28800.0)]
    assert [r["efficiency"] for r in out] == pytest.approx([1.0, 0.75, 0.9])
    assert {r["why"] for r in out} == {""}


def test_scaling_efficiency_reads_integer_gpu_counts(table):
    best = table({"scenario_id": 0, "rank_in_scenario": 1, "n_gpus": 8.0, "tokens_per_s": 8.0},
                 {"scenario_id": 1, "rank_in_scenario": 1, "n_gpus": 32.0,
                  "tokens_per_s": 16.0}).with_columns(pl.col("n_gpus").cast(pl.Int64))
    assert [r["efficiency"] for r in scaling_efficiency(best)] == [1.0, 0.5]


def test_one_gpu_count_per_series_gives_no_scaling_claims(table):
    # two networks at one GPU count each: nothing to say about scaling, no 100 % rows
    best = table({"scenario_id": 0, "rank_in_scenario": 1, "n_gpus": 1024.0,
                  "tokens_per_s": 8.0},
                 {"scenario_id": 1, "rank_in_scenario": 1, "n_gpus": 1024.0,
                  "tokens_per_s": 9.0})
    assert scaling_efficiency(best, ["n_gpus"]) == []
    assert scaling_guidelines(best, ["n_gpus"]) == []


def test_efficiency_above_one_says_why(table):
    # at 8 GPUs the model needs full recomputation; at 16 it fits without, and each GPU
    # does 30 % more tokens
    best = table({"scenario_id": 0, "rank_in_scenario": 1, "n_gpus": 8.0, "tokens_per_s": 8.0,
                  "recompute": "full", "bubble_fraction": 0.1, "pp": 2.0},
                 {"scenario_id": 1, "rank_in_scenario": 1, "n_gpus": 16.0,
                  "tokens_per_s": 20.8, "recompute": "none", "bubble_fraction": 0.05,
                  "pp": 2.0})
    top = scaling_efficiency(best)[1]
    assert top["efficiency"] == pytest.approx(1.3)
    assert top["why"] == "recomputation none instead of full; pipeline bubble 5.0 % instead " \
                         "of 10.0 %"
    assert top["layout"].startswith("tp=1 pp=2 dp=8")


def test_scaling_guidelines_per_band(table):
    best = table(
        {"scenario_id": 0, "rank_in_scenario": 1, "n_gpus": 8.0, "strategy": "TP",
         "tp": 8.0, "mfu": 0.5},
        {"scenario_id": 1, "rank_in_scenario": 1, "n_gpus": 32.0, "strategy": "2D (DP x TP)",
         "tp": 8.0, "mfu": 0.42, "bottleneck": "dp communication"},
        {"scenario_id": 2, "rank_in_scenario": 1, "n_gpus": 64.0, "strategy": "DP",
         "mfu": 0.46},
        {"scenario_id": 3, "rank_in_scenario": 1, "n_gpus": 48.0, "strategy": "2D (DP x TP)",
         "tp": 2.0, "mfu": 0.40, "bottleneck": "dp communication"},
        {"scenario_id": 3, "rank_in_scenario": 2, "n_gpus": 48.0, "strategy": "DP"},
        {"scenario_id": 4, "rank_in_scenario": 1, "n_gpus": 8192.0, "strategy": "DP"})
    bands = {g["band"]: g for g in scaling_guidelines(best, ["n_gpus"])}
    assert list(bands) == ["1-8 GPUs (one node)", "9-64 GPUs", "more than 4,096 GPUs"]
    mid = bands["9-64 GPUs"]
    assert (mid["scenarios"], mid["strategy"], mid["wins"]) == (3, "2D (DP x TP)", 2)
    assert (mid["tp"], mid["pp"], mid["bottleneck"]) == ([1, 2, 8], [1], "dp communication")
    assert (mid["mfu_min"], mid["mfu_max"]) == (0.40, 0.46)
    assert (mid["gpus_min"], mid["gpus_max"]) == (32, 64)
    assert mid["text"] == ("m on G, 32-64 GPUs: 2D (DP x TP) wins 2 of 3 scenarios; "
                           "tp 1, 2, 8; pp 1; MFU 40-46 %; mostly bound by dp communication.")


def test_scaling_guidelines_never_pool_models_or_gpus(table):
    # 3D wins every 70B scenario, 2D every 7B one: one band per model, not "2D wins 2 of 4"
    best = table(*({"scenario_id": i, "rank_in_scenario": 1, "n_gpus": n, "model": m,
                    "strategy": s}
                   for i, (m, n, s) in enumerate([("big", 16.0, "3D (DP x TP x PP)"),
                                                  ("big", 32.0, "3D (DP x TP x PP)"),
                                                  ("small", 16.0, "2D (DP x TP)"),
                                                  ("small", 32.0, "2D (DP x TP)")])))
    out = scaling_guidelines(best, ["model", "n_gpus"])
    assert [(g["series"], g["strategy"], g["wins"], g["scenarios"]) for g in out] == [
        ("big on G", "3D (DP x TP x PP)", 2, 2), ("small on G", "2D (DP x TP)", 2, 2)]


def test_scaling_guidelines_break_ties_alphabetically(table):
    best = table({"scenario_id": 0, "rank_in_scenario": 1, "strategy": "TP", "n_gpus": 8.0},
                 {"scenario_id": 1, "rank_in_scenario": 1, "strategy": "DP", "n_gpus": 4.0})
    assert scaling_guidelines(best)[0]["strategy"] == "DP"


def test_implementation_notes_with_the_scenario_numbers(table):
    rows = table(
        {"strategy": "3D (DP x TP x PP) + CP", "tp": 4.0, "pp": 2.0, "dp": 2.0, "cp": 2.0,
         "vpp": 2.0, "n_microbatches": 16.0, "bubble_fraction": 0.03125, "zero_stage": 1.0,
         "comm_tp_bytes_per_step": 12.5e9, "tp_exposed_s": 0.125, "dp_exposed_s": 0.5,
         "comm_pp_bytes_per_step": 3.2e9, "pp_exposed_s": 0.25,
         "memory_optimizer_bytes": 6 * 2**30, "seq_len": 8192.0},
        {"strategy": "single GPU", "dp": 1.0, "feasible": False, "reason": "no memory"})
    notes = implementation_notes(rows)
    assert notes[0]["note"] == NOTES["3D (DP x TP x PP)"]
    assert notes[0]["specifics"] == (
        "TP=4 moves 12.5 GB per GPU per step, 0.125 s of it exposed; "
        "PP=2 with 16 micro-batches and vpp=2: bubble 3.1 % of the pipeline; its "
        "point-to-point activations move 3.2 GB per GPU per step, 0.25 s of it exposed; "
        "ZeRO-1: optimizer states 6.0 GiB per GPU; "
        "DP=2 exposes 0.5 s of gradient/parameter communication per step; "
        "CP=2 splits each sequence of 8192 tokens.")
    assert notes[1] == {"strategy": "single GPU", "note": "No parallelism.", "specifics": "",
                        "feasible": False, "reason": "no memory"}
