"""Operator-level selective recomputation (TorchTitan's ``selective_ac_option = "op"``)."""

from __future__ import annotations

import polars
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainplan.schema.table import evaluate


def _run(rows: list[dict]) -> list[dict]:
    return evaluate(polars.DataFrame(rows)).to_dicts()


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["llama3-8b", "llama3-70b"]), st.sampled_from([1, 2]),
       st.sampled_from([4096, 8192]), st.sampled_from(["bf16", "fp8"]))
def test_op_level_selective_sits_between_none_and_full(model, tp, seq, precision):
    """Keeping the outputs of every other product and of attention needs less memory than
    Megatron's selective recomputation (which keeps all but the attention core) and more
    than full recomputation; it repeats more work than no recomputation and less than a
    whole forward. (At tp 4 and more op SAC can keep more than Megatron: the second MLP
    product's output it keeps is a full-width partial sum before the reduce-scatter.)"""
    base = {"model": model, "gpu": "H100-SXM5-80GB", "n_gpus": 64, "tp": tp, "pp": 1,
            "micro_batch": 1, "global_batch": 128, "seq_len": seq, "precision": precision,
            "zero_stage": 3}
    rows = [{**base, "recompute": "none"}, {**base, "recompute": "selective"},
            {**base, "recompute": "selective", "selective_op_sac": True},
            {**base, "recompute": "full"}]
    none, megatron, op, full = _run(rows)
    act = [r["memory_activations_bytes"] for r in (full, op, megatron)]
    assert act[0] < act[1] < act[2]
    assert none["compute_time_s"] < op["compute_time_s"] < full["compute_time_s"]
    assert none["hardware_flop_per_step"] < op["hardware_flop_per_step"] \
        < full["hardware_flop_per_step"]
    assert op["model_flop_per_step"] == megatron["model_flop_per_step"]


def test_torchtitan_selective_keeps_about_half_of_what_megatron_selective_keeps():
    """Llama 3 8B at tp 1: of Korthikanti's 34 sbh per layer less the attention core, op
    SAC keeps the block input, the query and value projections, the attention output, the
    gate projection (f = 3.5 h) and the second MLP product: 15.5 sbh."""
    base = {"model": "llama3-8b", "gpu": "H100-SXM5-80GB", "n_gpus": 8, "tp": 1,
            "micro_batch": 1, "global_batch": 8, "seq_len": 8192, "recompute": "selective",
            "zero_stage": 3}
    megatron, op = _run([base, {**base, "selective_op_sac": True}])
    ratio = op["memory_activations_bytes"] / megatron["memory_activations_bytes"]
    assert ratio == pytest.approx(15.5 / 32.0, rel=0.08)


def test_moe_and_non_llama_blocks_keep_megatrons_selective():
    moe = {"model": "qwen3-30b-a3b", "gpu": "H100-SXM5-80GB", "n_gpus": 8, "tp": 1,
           "ep": 8, "micro_batch": 1, "global_batch": 8, "recompute": "selective"}
    a, b = _run([moe, {**moe, "selective_op_sac": True}])
    assert a["memory_activations_bytes"] == b["memory_activations_bytes"]
    assert a["step_time_s"] == b["step_time_s"]
