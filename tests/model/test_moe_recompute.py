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


LAYERS, HIDDEN, SEQ = 8, 2048, 2048


def _one_gelu_expert(tp: int, **changes) -> dict:
    """A GPT-shaped model (GeLU MLP of 4h, no dropout) whose MLP is one expert, top-1, split
    as the MLP is (etp = tp)."""
    row = {"n_layers": LAYERS, "hidden": HIDDEN, "n_heads": 16, "n_kv_heads": 16,
           "ffn_hidden": 4 * HIDDEN, "gated_mlp": False, "vocab": 32000,
           "tied_embeddings": False, "linear_bias": False, "position_embedding": "rope",
           "norm": "rmsnorm", "dropout": False, "seq_len": SEQ, "gpu": "H100-SXM5-80GB",
           "n_gpus": 8 * tp, "tp": tp, "etp": tp, "micro_batch": 1, "global_batch": 64,
           "recompute": "none", "n_experts": 1, "top_k": 1}
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
    layers, hidden, seq = LAYERS, HIDDEN, SEQ
    row = _one_gelu_expert(tp)
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


@pytest.mark.parametrize("tp", [1, 2])
def test_offloading_the_experts_inputs_moves_the_routed_copy_and_the_gemm_output(tp):
    """``--offload-modules expert_fc1 moe_act`` moves the saved inputs of the first expert
    GEMM (the routed copy, 2 sbh on every expert-tensor-parallel rank) and of the activation
    (the first GEMM's output, 8 sbh / t for a GeLU MLP of 4h) to host memory; the layer
    whose copy is under way stays, so L - 1 layers' worth leaves the GPU."""
    layers, hidden, seq = LAYERS, HIDDEN, SEQ
    row = _one_gelu_expert(tp, gpu="GB200")
    kept, offloaded = _run([row, {**row, "offload_moe_inputs": True}])
    sbh = seq * hidden
    saved = kept["memory_activations_bytes"] - offloaded["memory_activations_bytes"]
    assert saved == pytest.approx((layers - 1) * (2 * sbh + 8 * sbh / tp), rel=1e-9)
    assert not offloaded["infeasible_flags"]


def test_the_experts_inputs_go_to_host_memory_at_the_link_speed():
    """Copies over GB200's NVLink-C2C (180 GB/s) hide mostly behind the layers' compute;
    over PCIe Gen3 (12 GB/s) they outlast it by far and stall the step."""
    base = _moe_row(gpu="GB200", n_gpus=256, tp=1, pp=4, vpp=6, ep=64, micro_batch=3,
                    global_batch=3072, precision="fp8", recompute="selective",
                    offload_moe_inputs=True)
    fast, slow = _run([base, {**base, "host_link_gbyte_s": 12.0}])
    assert 0.0 < fast["offload_exposed_s"] < 0.25 * fast["step_time_s"]
    assert slow["offload_exposed_s"] > 10 * fast["offload_exposed_s"]
    assert slow["step_time_s"] - fast["step_time_s"] == pytest.approx(
        slow["offload_exposed_s"] - fast["offload_exposed_s"], rel=0.05)


def test_offloading_the_experts_inputs_needs_something_to_offload():
    dense = {"model": "llama3-8b", "gpu": "H100-SXM5-80GB", "n_gpus": 8, "tp": 1,
             "micro_batch": 1, "global_batch": 64, "offload_moe_inputs": True}
    rows = [dense, _moe_row(recompute="full", offload_moe_inputs=True),
            _moe_row(recompute_moe=True, offload_moe_inputs=True)]
    for row in _run(rows):
        assert row["infeasible_flags"] & int(fe.OFFLOAD), row
    assert not _run([_moe_row(offload_moe_inputs=True)])[0]["infeasible_flags"] & int(fe.OFFLOAD)


@pytest.mark.parametrize("tp", [1, 2])
def test_under_fp8_and_selective_offloading_moves_the_fp8_copy_and_the_gemm_output(tp):
    """Under FP8 the first expert GEMM keeps the one-byte cast of its input (sbh per
    expert-tensor-parallel rank) and selective recomputation already drops the
    activation's output: offloading moves the cast and the first GEMM's output (8 sbh / t),
    L - 1 layers' worth, and nothing the layer did not keep."""
    layers, hidden, seq = LAYERS, HIDDEN, SEQ
    row = _one_gelu_expert(tp, gpu="GB200", recompute="selective", precision="fp8")
    kept, offloaded = _run([row, {**row, "offload_moe_inputs": True}])
    sbh = seq * hidden
    saved = kept["memory_activations_bytes"] - offloaded["memory_activations_bytes"]
    assert saved == pytest.approx((layers - 1) * (sbh + 8 * sbh / tp), rel=1e-9)
