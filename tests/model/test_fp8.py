"""FP8 recipes (cast traffic) and FP8 parameter all-gather."""

from __future__ import annotations

import polars as pl

from trainplan import evaluate
from trainplan.model.kernels import FP8_RECIPES, fp8_cast_bytes_per_element

ROW = {"model": "llama3-8b", "gpu": "H100-SXM5-80GB", "n_gpus": 64, "tp": 1,
       "global_batch": 64, "micro_batch": 1, "zero_stage": 3, "precision": "fp8",
       "recompute": "full"}


def _one(**changes):
    return evaluate(pl.DataFrame([{**ROW, **changes}])).row(0, named=True)


def test_an_amax_pass_before_the_cast_reads_the_tensor_once_more():
    c = dict(zip(FP8_RECIPES, fp8_cast_bytes_per_element(range(len(FP8_RECIPES))), strict=True))
    assert c["current"] - c["delayed"] == 2.0          # one more read of a 16-bit element
    assert c["rowwise"] == c["current"]
    assert c["delayed"] < c["mxfp8"] < c["current"]    # one scale byte per 32 elements


def test_current_scaling_costs_more_time_than_delayed_and_bf16_costs_more_than_both():
    delayed, current = _one(fp8_recipe="delayed"), _one(fp8_recipe="current")
    assert delayed["step_time_s"] < current["step_time_s"] < _one(precision="bf16")[
        "step_time_s"]


def test_fp8_parameter_gather_halves_the_zero3_gather_volume():
    plain, f8 = _one(), _one(fp8_param_gather=True)
    assert f8["comm_dp_bytes_per_step"] < plain["comm_dp_bytes_per_step"]
    assert f8["step_time_s"] <= plain["step_time_s"]
    bf16 = _one(precision="bf16")
    assert _one(precision="bf16", fp8_param_gather=True)["comm_dp_bytes_per_step"] == \
        bf16["comm_dp_bytes_per_step"]                  # only under FP8
