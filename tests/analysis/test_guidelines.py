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
    # 32 GPUs: 28,800 (900 per GPU, 90 %). A slower runner-up and another GPU type are
    # left out of the series of model m on GPU G; a second configuration at 16 GPUs only counts
    # with its best throughput.
    best = table(
        {"scenario_id": 2, "rank_in_scenario": 1, "n_gpus": 32.0, "tokens_per_s": 28800.0},
        {"scenario_id": 0, "rank_in_scenario": 1, "n_gpus": 8.0, "tokens_per_s": 8000.0},
        {"scenario_id": 1, "rank_in_scenario": 1, "n_gpus": 16.0, "tokens_per_s": 12000.0},
        {"scenario_id": 3, "rank_in_scenario": 1, "n_gpus": 16.0, "tokens_per_s": 9000.0},
        {"scenario_id": 1, "rank_in_scenario": 2, "n_gpus": 16.0, "tokens_per_s": 15000.0},
        {"scenario_id": 4, "rank_in_scenario": 1, "n_gpus": 64.0, "tokens_per_s": 1.0,
         "gpu": "H"})
    out = scaling_efficiency(best)
    series = [(r["gpu"], r["n_gpus"], r["tokens_per_s"]) for r in out]
    assert series == [("G", 8, 8000.0), ("G", 16, 12000.0), ("G", 32, 28800.0),
                      ("H", 64, 1.0)]
    assert [r["efficiency"] for r in out] == pytest.approx([1.0, 0.75, 0.9, 1.0])


def test_scaling_efficiency_reads_integer_gpu_counts(table):
    best = table({"scenario_id": 0, "rank_in_scenario": 1, "n_gpus": 8.0, "tokens_per_s": 8.0},
                 {"scenario_id": 1, "rank_in_scenario": 1, "n_gpus": 32.0,
                  "tokens_per_s": 16.0}).with_columns(pl.col("n_gpus").cast(pl.Int64))
    assert [r["efficiency"] for r in scaling_efficiency(best)] == [1.0, 0.5]


def test_scaling_guidelines_per_band(table):
    best = table(
        {"scenario_id": 0, "rank_in_scenario": 1, "n_gpus": 8.0, "strategy": "TP",
         "tp": 8.0, "mfu": 0.5},
        {"scenario_id": 1, "rank_in_scenario": 1, "n_gpus": 32.0, "strategy": "2D (DP x TP)",
         "tp": 8.0, "mfu": 0.42, "bottleneck": "dp communication"},
        {"scenario_id": 2, "rank_in_scenario": 1, "n_gpus": 64.0, "strategy": "DP",
         "mfu": 0.46},
        {"scenario_id": 3, "rank_in_scenario": 1, "n_gpus": 64.0, "strategy": "2D (DP x TP)",
         "tp": 2.0, "mfu": 0.40, "bottleneck": "dp communication"},
        {"scenario_id": 3, "rank_in_scenario": 2, "n_gpus": 64.0, "strategy": "DP"},
        {"scenario_id": 4, "rank_in_scenario": 1, "n_gpus": 8192.0, "strategy": "DP"})
    bands = {g["band"]: g for g in scaling_guidelines(best)}
    assert list(bands) == ["1-8 GPUs (one node)", "9-64 GPUs", "more than 4,096 GPUs"]
    mid = bands["9-64 GPUs"]
    assert (mid["scenarios"], mid["strategy"], mid["wins"]) == (3, "2D (DP x TP)", 2)
    assert (mid["tp"], mid["pp"], mid["bottleneck"]) == ([1, 2, 8], [1], "dp communication")
    assert (mid["mfu_min"], mid["mfu_max"]) == (0.40, 0.46)
    assert mid["text"] == ("2D (DP x TP) wins 2 of 3 scenarios; tp 1, 2, 8; pp 1; MFU 40-46 %; "
                           "mostly bound by dp communication.")


def test_scaling_guidelines_break_ties_alphabetically(table):
    best = table({"scenario_id": 0, "rank_in_scenario": 1, "strategy": "TP"},
                 {"scenario_id": 1, "rank_in_scenario": 1, "strategy": "DP"})
    assert scaling_guidelines(best)[0]["strategy"] == "DP"


def test_implementation_notes_with_the_scenario_numbers(table):
    rows = table(
        {"strategy": "3D (DP x TP x PP) + CP", "tp": 4.0, "pp": 2.0, "dp": 2.0, "cp": 2.0,
         "vpp": 2.0, "n_microbatches": 16.0, "bubble_fraction": 0.03125, "zero_stage": 1.0,
         "comm_tp_bytes_per_step": 12.5e9, "tp_exposed_s": 0.125, "dp_exposed_s": 0.5,
         "memory_optimizer_bytes": 6 * 2**30, "seq_len": 8192.0},
        {"strategy": "single GPU", "dp": 1.0, "feasible": False, "reason": "no memory"})
    notes = implementation_notes(rows)
    assert notes[0]["note"] == NOTES["3D (DP x TP x PP)"]
    assert notes[0]["specifics"] == (
        "TP=4 moves 12.5 GB per GPU per step, 0.125 s of it exposed; "
        "PP=2 with 16 micro-batches and vpp=2: bubble 3.1 % of the pipeline; "
        "ZeRO-1: optimizer states 6.0 GiB per GPU; "
        "DP=2 exposes 0.5 s of gradient/parameter communication per step; "
        "CP=2 splits each sequence of 8192 tokens.")
    assert notes[1] == {"strategy": "single GPU", "note": "No parallelism.", "specifics": "",
                        "feasible": False, "reason": "no memory"}
