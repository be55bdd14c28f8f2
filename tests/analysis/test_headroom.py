"""A recommendation with little memory to spare names the nearest layout with the margin."""

from __future__ import annotations

import polars as pl

from trainplan.analysis.headroom import HEADROOM_MARGIN_FRACTION, headroom

GIB = 2**30


def _rows(*items):
    return pl.DataFrame([{"config_id": i, "strategy": "DP", "feasible": True, "reason": "",
                          "tp": 1.0, "pp": 1.0, "dp": 8.0, "cp": 1.0, "vpp": 1.0,
                          "micro_batch": 1.0, "zero_stage": 1.0, "recompute": rc,
                          "seq_parallel": False, "n_gpus": 8.0, "gpu": "G", "model": "m",
                          "step_time_s": t, "tokens_per_s": 1.0,
                          "achieved_tflop_s_per_gpu": 1.0, "mfu": 0.5,
                          "memory_total_bytes": m * GIB, "memory_usable_bytes": 70.0 * GIB,
                          "tp_exposed_s": 0.0, "cp_exposed_s": 0.0, "dp_exposed_s": 0.0,
                          "pp_exposed_s": 0.0, "bubble_time_s": 0.0, "bubble_fraction": 0.0,
                          "comm_tp_bytes_per_step": 0.0, "comm_cp_bytes_per_step": 0.0,
                          "comm_dp_bytes_per_step": 0.0, "comm_pp_bytes_per_step": 0.0,
                          "bottleneck": "compute", "time_to_train_days": 1.0,
                          "gpu_hours": 1.0, "cost_usd": 1.0, "energy_mwh": 1.0,
                          "n_microbatches": 8.0}
                         for i, (t, m, rc) in enumerate(items)])


def test_enough_headroom_gives_no_warning():
    rows = _rows((1.0, 50.0, "none"))
    assert headroom(rows, rows.row(0, named=True)) is None


def test_a_near_fit_names_the_fastest_layout_that_keeps_the_margin():
    rows = _rows((1.0, 69.0, "none"), (1.3, 60.0, "full"), (1.1, 67.5, "selective"))
    h = headroom(rows, rows.row(0, named=True))
    assert h["headroom_gib"] == 1.0 and h["margin_gib"] == HEADROOM_MARGIN_FRACTION * 70.0
    assert h["safe"]["config_id"] == 1 and round(h["slower_pct"], 6) == 30.0
    alone = _rows((1.0, 69.0, "none"))
    assert headroom(alone, alone.row(0, named=True))["safe"] is None
