"""Recomputing whole MoE blocks (``recompute_moe``, Megatron-Core ``--recompute-modules moe``)."""

from __future__ import annotations

import polars
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainplan import catalog
from trainplan.model import feasibility as fe
from trainplan.schema.table import evaluate


def _run(rows: list[dict]) -> list[dict]:
    return evaluate(polars.DataFrame(rows)).to_dicts()


def _moe_row(**changes) -> dict:
    row = {"model": "qwen3-235b-a22b", "gpu": "H100-SXM5-80GB", "n_gpus": 256, "tp": 2,
           "pp": 8, "ep": 16, "micro_batch": 1, "global_batch": 512, "recompute": "none"}
    return {**row, **changes}


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(catalog.moe_model_names()), st.sampled_from(["none", "selective"]),
       st.sampled_from(["bf16", "fp8"]), st.sampled_from([1, 2]))
def test_recomputing_moe_blocks_trades_time_for_memory(name, recompute, precision, micro_batch):
    """Dropping the blocks' activations never costs memory; running their forward and their
    two all-to-alls again in the backward costs time: the expert-parallel traffic grows from
    four all-to-alls per layer to six, and the model FLOPs do not change."""
    entry = catalog.find_moe_model(name)
    ep = 8 if entry["n_experts"] % 8 == 0 else 4
    rows = [_moe_row(model=name, recompute=recompute, precision=precision, ep=ep, pp=4,
                     n_gpus=128, micro_batch=micro_batch, recompute_moe=flag)
            for flag in (False, True)]
    kept, recomputed = _run(rows)
    assert not recomputed["infeasible_flags"] & int(fe.EXPERTS)
    assert recomputed["memory_activations_bytes"] < kept["memory_activations_bytes"]
    assert recomputed["compute_time_s"] > kept["compute_time_s"]
    assert recomputed["comm_ep_bytes_per_step"] == pytest.approx(
        1.5 * kept["comm_ep_bytes_per_step"], rel=1e-12)
    assert recomputed["model_flop_per_step"] == kept["model_flop_per_step"]
    assert recomputed["hardware_flop_per_step"] > kept["hardware_flop_per_step"]


@pytest.mark.parametrize("tp", [1, 2])
def test_one_recomputed_gelu_expert_drops_korthikantis_mlp_activations(tp):
    """One expert, top-1, as wide as a GPT MLP (f = 4h, GeLU, no dropout): the block keeps
    its input (the checkpoint) and drops the routed copy of it (2 sbh), the first GEMM's
    output (8 sbh) and the GeLU's (8 sbh) of Korthikanti et al. (2022) Sec. 4.1, and the
    fp32 router probability (4 sb) per layer. The GEMM outputs and the probabilities are
    split over the t ranks; the routed copy is not: each expert-tensor-parallel rank takes
    every routed row. The backward of one layer holds its block again, so L - 1 layers'
    worth is saved."""
    layers, hidden, seq, heads = 8, 2048, 2048, 16
    row = {"n_layers": layers, "hidden": hidden, "n_heads": heads, "n_kv_heads": heads,
           "ffn_hidden": 4 * hidden, "gated_mlp": False, "vocab": 32000,
           "tied_embeddings": False, "linear_bias": False, "position_embedding": "rope",
           "norm": "rmsnorm", "dropout": False, "seq_len": seq, "gpu": "H100-SXM5-80GB",
           "n_gpus": 8 * tp, "tp": tp, "etp": tp, "micro_batch": 1, "global_batch": 64,
           "recompute": "none", "n_experts": 1, "top_k": 1}
    kept, recomputed = _run([row, {**row, "recompute_moe": True}])
    sbh, sb = seq * hidden, seq
    expected = (layers - 1) * ((16 * sbh + 4 * sb) / tp + 2 * sbh)
    saved = kept["memory_activations_bytes"] - recomputed["memory_activations_bytes"]
    assert saved == pytest.approx(expected, rel=1e-9)


def test_recompute_moe_needs_experts_and_no_full_recomputation():
    dense = {"model": "llama3-8b", "gpu": "H100-SXM5-80GB", "n_gpus": 8, "tp": 1,
             "micro_batch": 1, "global_batch": 64, "recompute": "selective",
             "recompute_moe": True}
    for row in _run([dense, _moe_row(recompute="full", recompute_moe=True)]):
        assert row["infeasible_flags"] & int(fe.EXPERTS), row
        assert "recompute_moe" in row["reason"]


def test_offloading_does_not_combine_with_recomputed_moe_blocks():
    """Megatron-Core offloads activations only without recomputation."""
    row = _moe_row(model="qwen3-30b-a3b", n_gpus=8, tp=1, pp=1, ep=8, global_batch=64,
                   recompute_moe=True, activation_offload_fraction=0.5)
    assert _run([row])[0]["infeasible_flags"] & int(fe.OFFLOAD)
