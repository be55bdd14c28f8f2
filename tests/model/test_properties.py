"""Invariants of the model, checked on random configurations (hypothesis)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from trainplan import evaluate

MODELS = ["llama2-7b", "llama3-70b", "gpt3-175b", "megatron-gpt-18b"]
GPUS = ["A100-SXM4-80GB", "H100-SXM5-80GB", "B200", "MI300X"]

configs = st.fixed_dictionaries({
    "model": st.sampled_from(MODELS),
    "gpu": st.sampled_from(GPUS),
    "tp": st.sampled_from([1, 2, 4, 8]),
    "pp": st.sampled_from([1, 2, 4, 8]),
    "dp": st.sampled_from([1, 2, 4, 16, 64]),
    "cp": st.sampled_from([1, 2]),
    "micro_batch": st.sampled_from([1, 2, 4]),
    "zero_stage": st.integers(0, 3),
    "recompute": st.sampled_from(["none", "selective", "full"]),
    "seq_parallel": st.booleans(),
    "flash_attention": st.booleans(),
    "vpp": st.sampled_from([1, 2]),
    "dp_algorithm": st.sampled_from(["ring", "tree", "rhd", "hierarchical"]),
    "tp_algorithm": st.sampled_from(["ring", "tree", "rhd", "hierarchical"]),
    "precision": st.sampled_from(["bf16", "fp16"]),
})

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def run(cfg, **changes):
    row = {**cfg, **changes}
    row["global_batch"] = row["dp"] * row["micro_batch"] * 8
    return evaluate(pl.DataFrame([row])).row(0, named=True)


@SETTINGS
@given(configs)
def test_more_tensor_parallelism_never_needs_more_memory(cfg):
    assume(cfg["tp"] < 8)
    a, b = run(cfg), run(cfg, tp=cfg["tp"] * 2)
    assert b["memory_total_bytes"] <= a["memory_total_bytes"] * (1 + 1e-12)


@SETTINGS
@given(configs)
def test_more_pipeline_stages_never_need_more_memory(cfg):
    cfg = {**cfg, "vpp": 1}
    a, b = run(cfg), run(cfg, pp=cfg["pp"] * 2)
    assert b["memory_total_bytes"] <= a["memory_total_bytes"] * (1 + 1e-12)


@SETTINGS
@given(configs)
def test_higher_zero_stage_never_needs_more_memory(cfg):
    assume(cfg["zero_stage"] < 3)
    a, b = run(cfg), run(cfg, zero_stage=cfg["zero_stage"] + 1)
    assert b["memory_total_bytes"] <= a["memory_total_bytes"] * (1 + 1e-12)


@SETTINGS
@given(configs)
def test_more_recomputation_never_needs_more_memory(cfg):
    order = ["none", "selective", "full"]
    mems = [run(cfg, recompute=r)["memory_total_bytes"] for r in order]
    assert mems[0] >= mems[1] >= mems[2] * (1 - 1e-12)


@SETTINGS
@given(configs)
def test_mfu_is_a_fraction_and_hfu_at_least_mfu(cfg):
    r = run(cfg)
    assert 0.0 < r["mfu"] <= 1.0
    assert r["mfu"] <= r["hfu"] * (1 + 1e-12) <= 1.0
    assert r["step_time_s"] > 0 and np.isfinite(r["step_time_s"])


@SETTINGS
@given(configs)
def test_no_communication_for_a_degree_of_one(cfg):
    r = run(cfg, tp=1, cp=1, pp=1, dp=1, vpp=1)
    for dim in ("tp", "cp", "dp", "pp"):
        assert r[f"comm_{dim}_bytes_per_step"] == 0.0
    assert r["tp_exposed_s"] == r["cp_exposed_s"] == r["dp_exposed_s"] == 0.0
    assert r["pp_exposed_s"] == r["bubble_time_s"] == 0.0


@SETTINGS
@given(configs)
def test_step_time_is_the_sum_of_its_parts(cfg):
    r = run(cfg)
    parts = sum(r[k] for k in ("compute_time_s", "tp_exposed_s", "cp_exposed_s",
                               "dp_exposed_s", "pp_exposed_s", "bubble_time_s",
                               "optimizer_time_s", "step_overhead_s"))
    assert r["step_time_s"] == pytest.approx(parts, rel=1e-12)
    for k in ("tp_exposed_s", "cp_exposed_s", "dp_exposed_s", "pp_exposed_s"):
        assert r[k] >= 0.0


@settings(max_examples=15, deadline=None)
@given(st.lists(configs, min_size=2, max_size=6))
def test_a_batch_equals_its_rows_one_by_one(rows):
    for row in rows:
        row["global_batch"] = row["dp"] * row["micro_batch"] * 4
    together = evaluate(pl.DataFrame(rows))
    alone = pl.concat([evaluate(pl.DataFrame([row])) for row in rows])
    assert together.equals(alone)
