"""Hand-built result rows for the analysis tests (numbers chosen so the answers are known)."""

from __future__ import annotations

import polars as pl
import pytest

GIB = 2**30

_DEFAULTS = {
    "config_id": 0, "scenario_id": 0, "rank_in_scenario": None,
    "model": "m", "gpu": "G", "n_gpus": 8.0, "strategy": "DP", "feasible": True, "reason": "",
    "tp": 1.0, "pp": 1.0, "dp": 8.0, "cp": 1.0, "vpp": 1.0, "micro_batch": 1.0,
    "zero_stage": 0.0, "recompute": "none", "seq_parallel": False, "seq_len": 2048.0,
    "n_microbatches": 32.0, "params_total": 7e9,
    "step_time_s": 1.0, "tokens_per_s": 1000.0, "achieved_tflop_s_per_gpu": 100.0,
    "mfu": 0.3, "memory_total_bytes": 40.0 * GIB, "memory_usable_bytes": 76.0 * GIB,
    "memory_optimizer_bytes": 8.0 * GIB,
    "tp_exposed_s": 0.0, "cp_exposed_s": 0.0, "dp_exposed_s": 0.1, "pp_exposed_s": 0.0,
    "comm_tp_bytes_per_step": 0.0, "comm_cp_bytes_per_step": 0.0,
    "comm_dp_bytes_per_step": 2e9, "comm_pp_bytes_per_step": 0.0,
    "bubble_time_s": 0.0, "bubble_fraction": 0.0, "bottleneck": "compute",
    "time_to_train_days": 10.0, "gpu_hours": 1920.0, "cost_usd": float("nan"),
    "energy_mwh": 1.0,
}


def _row(**changes) -> dict:
    """One result row: the defaults above with ``changes``."""
    unknown = set(changes) - set(_DEFAULTS)
    assert not unknown, unknown
    return {**_DEFAULTS, **changes}


def _table(*rows: dict) -> pl.DataFrame:
    """Rows of :func:`_row` as a result table (ids Int64, layout columns Float64)."""
    return pl.DataFrame([_row(**r) for r in rows], infer_schema_length=None).with_columns(
        pl.col("config_id", "scenario_id", "rank_in_scenario").cast(pl.Int64))


@pytest.fixture
def row():
    """Factory: ``row(tp=8.0, ...)`` -> one result row as a dict."""
    return _row


@pytest.fixture
def table():
    """Factory: ``table({...}, {...})`` -> a result table of those rows."""
    return _table
