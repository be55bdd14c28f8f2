"""Clocks under a board power limit."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainplan import evaluate
from trainplan.model.power import capped_clock_fraction


@given(st.floats(100, 1200), st.floats(100, 1200), st.floats(0.0, 0.6))
def test_a_lower_limit_never_raises_the_clock(cap, other, static):
    low, high = sorted((cap, other))
    assert capped_clock_fraction(low, 700.0, static) <= capped_clock_fraction(high, 700.0,
                                                                              static)
    assert 0 < capped_clock_fraction(low, 700.0, static) <= 1


def test_no_limit_or_one_above_the_rated_power_keeps_the_clock():
    assert capped_clock_fraction(math.nan, 700.0, 0.3) == 1.0
    assert capped_clock_fraction(800.0, 700.0, 0.3) == 1.0
    # only the dynamic 70 % scales, with the cube of the clock: 500 W of 700 W -> 0.84
    assert capped_clock_fraction(500.0, 700.0, 0.3) == pytest.approx(0.8396, abs=1e-4)


def test_a_power_limit_slows_compute_bound_steps():
    row = {"model": "llama3-8b", "gpu": "H100-SXM5-80GB", "n_gpus": 8, "tp": 1,
           "global_batch": 64, "micro_batch": 1, "zero_stage": 1}
    full = evaluate(pl.DataFrame([row])).row(0, named=True)
    capped = evaluate(pl.DataFrame([{**row, "power_limit_w": 500.0}])).row(0, named=True)
    assert full["step_time_s"] < capped["step_time_s"] < full["step_time_s"] / 0.8


@pytest.mark.parametrize(("gpu", "slower"), [("H100-SXM5-80GB", True), ("A100-SXM4-80GB", False)])
def test_portable_attention_costs_time_only_where_a_faster_kernel_exists(gpu, slower):
    """FlashAttention-3 exists only for Hopper: on A100 SDPA / FlashAttention-2 is the best."""
    row = {"model": "llama3-8b", "gpu": gpu, "n_gpus": 8, "tp": 1, "seq_len": 32768,
           "global_batch": 8, "micro_batch": 1, "zero_stage": 3, "recompute": "full"}
    best = evaluate(pl.DataFrame([row])).row(0, named=True)
    portable = evaluate(pl.DataFrame([{**row, "portable_attention": True}])).row(0, named=True)
    assert (portable["step_time_s"] > 1.1 * best["step_time_s"]) is slower
    assert portable["step_time_s"] >= best["step_time_s"]
