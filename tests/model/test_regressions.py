"""Regression tests for defects found in review (each once returned a wrong number)."""

from __future__ import annotations

import polars as pl
import pytest

from trainplan import evaluate
from trainplan.model import feasibility as fe
from trainplan.sweep.summaries import reduce


def one(**row):
    return evaluate(pl.DataFrame([row])).row(0, named=True)


def test_pipeline_hops_that_cross_nodes_are_priced_on_the_nic():
    base = dict(model="llama3-70b", gpu="H100", n_gpus=64, tp=4, pp=16, global_batch=64)
    mixed = one(**base)                                   # every other hop leaves the node
    all_cross = one(**base, scaleup_domain_gpus=4)        # every hop leaves the domain
    assert mixed["comm_pp_time_s"] == pytest.approx(all_cross["comm_pp_time_s"], rel=1e-12)


def test_context_parallel_ring_on_a_mesh_uses_one_peer_link():
    r = one(model="llama3-8b", gpu="MI300X", n_gpus=8, cp=8, seq_len=32768, global_batch=8)
    per_peer = 64e9 * r["scaleup_efficiency"]
    fwd_bytes = r["comm_cp_bytes_per_step"] / 3.0
    assert r["comm_cp_time_s"] >= 3.0 * fwd_bytes / per_peer


def test_gpipe_without_a_pipeline_holds_one_micro_batch():
    base = dict(model="llama3-8b", gpu="H100", n_gpus=8, tp=2, global_batch=64)
    assert one(**base, schedule="gpipe")["memory_activations_bytes"] == pytest.approx(
        one(**base, schedule="1f1b")["memory_activations_bytes"])


def test_gpipe_last_stage_keeps_every_micro_batch_of_logits():
    base = dict(model="llama3-8b", gpu="H200", n_gpus=16, tp=4, pp=4, global_batch=16,
                recompute="full", zero_stage=0)
    gpipe, ofob = one(**base, schedule="gpipe"), one(**base, schedule="1f1b")
    assert gpipe["memory_total_bytes"] > ofob["memory_total_bytes"]


def test_single_node_needs_no_nic_and_zero_efficiency_is_labelled():
    base = dict(model="llama3-8b", gpu="H100", n_gpus=8, global_batch=8, recompute="full")
    r = one(**base, scaleout_gbit_s_per_node=0.0, dp_algorithm="hierarchical")
    assert r["feasible"] and r["step_time_s"] > 0
    bad = one(**base, hbm_efficiency=0.0)
    assert not bad["feasible"]
    assert fe.REASONS[fe.NO_TIME] in bad["reason"]


def test_zero3_gathers_the_whole_embedding():
    base = dict(model="llama3-8b", gpu="H100", n_gpus=8, global_batch=8)
    z3, z1 = one(**base, zero_stage=3), one(**base, zero_stage=1)
    assert z3["memory_other_bytes"] - z1["memory_other_bytes"] == 2.0 * 128256 * 4096


def test_closest_prefers_rows_that_fail_only_for_memory():
    rows = pl.DataFrame({
        "config_id": [0, 1], "scenario_id": [0, 0], "strategy": ["PP", "PP"],
        "tp": [1.0, 1.0], "pp": [16.0, 8.0], "feasible": [False, False],
        "infeasible_flags": [fe.LAYERS, fe.MEMORY], "step_time_s": [1.0, 2.0],
        "memory_total_bytes": [1e9, 9e10], "cost_usd": [1.0, 2.0], "model": [0, 0],
        "cost_rate": [1.0, 1.0]})
    closest = reduce(rows).filter(pl.col("kind") == "closest")
    assert closest["config_id"].to_list() == [1]


@pytest.mark.parametrize(("framework", "regathers"), [("TorchTitan", False),
                                                      ("PyTorch FSDP1", False),
                                                      ("DeepSpeed ZeRO-3", True)])
def test_full_recomputation_regathers_zero3_weights_only_under_deepspeed(framework, regathers):
    """FSDP wraps the checkpointed layer and gathers it once for its recomputation and its
    backward; DeepSpeed's recomputed forward runs ZeRO-3's pre-forward gather again (it
    once cost every FSDP run a third gather of every layer)."""
    base = dict(model="llama3-8b", gpu="H100", n_gpus=16, zero_stage=3, global_batch=32,
                micro_batch=1, framework=framework)
    none, full = one(**base, recompute="none"), one(**base, recompute="full")
    per_gather = none["comm_dp_bytes_per_step"] / 3.0      # two gathers and a reduce-scatter
    extra = full["comm_dp_bytes_per_step"] - none["comm_dp_bytes_per_step"]
    assert extra == pytest.approx(per_gather if regathers else 0.0, abs=1e-6 * per_gather)
