"""Megatron-Core flags of mixture-of-experts layouts: they say what the model priced."""

from __future__ import annotations

import polars
import pytest

from trainplan.launch import launch_material
from trainplan.launch.megatron_moe import moe_layer_pattern
from trainplan.model.moe_params import moe_layer_count
from trainplan.schema.table import evaluate


def _flags(**row) -> str:
    base = {"gpu": "H800", "tp": 1, "micro_batch": 1, "recompute": "full"}
    return launch_material(evaluate(polars.DataFrame([{**base, **row}])).row(0, named=True))[
        "torchrun"]


def _value(command: str, flag: str) -> str:
    return command.split(f"{flag} ", 1)[1].split(" \\")[0]


def test_deepseek_v3_on_2048_h800_writes_its_experts_routing_and_latent_attention():
    cmd = _flags(model="deepseek-v3", n_gpus=2048, pp=16, ep=64, global_batch=15360,
                 moe_dispatcher="deepep", moe_router_group_topk=4)
    for flag, value in [("--num-experts", "256"), ("--moe-router-topk", "8"),
                        ("--moe-ffn-hidden-size", "2048"),
                        ("--expert-model-parallel-size", "64"),
                        ("--expert-tensor-parallel-size", "1"),
                        ("--moe-shared-expert-intermediate-size", "2048"),
                        ("--kv-lora-rank", "512"), ("--q-lora-rank", "1536"),
                        ("--qk-head-dim", "128"), ("--qk-pos-emb-head-dim", "64"),
                        ("--v-head-dim", "128"),
                        ("--moe-router-num-groups", "8"), ("--moe-router-group-topk", "4"),
                        ("--moe-token-dispatcher-type", "flex")]:
        assert _value(cmd, flag) == value, flag
    assert "--moe-grouped-gemm" in cmd and "--moe-enable-deepep" in cmd
    assert _value(cmd, "--mtp-num-layers") == "1"
    pattern = _value(cmd, "--moe-layer-freq").strip("'[]").split(",")
    assert pattern[:4] == ["0", "0", "0", "1"] and len(pattern) == 61
    layout = _value(cmd, "--pipeline-model-parallel-layout")
    assert layout.endswith("mL'")                  # the MTP module on the last stage
    layers = [int(x) for x in layout.strip("'EL").replace("m", "")
              .replace("t*", "").split("|")]
    assert sum(layers) == 61 and len(layers) == 16 and max(layers) == 4
    # the last stage gives up the layers its MTP module and two heads are worth, as
    # Megatron-Bridge's DeepSeek-V3 layout for 16 stages does (4 each, 1 with MTP and loss)
    assert layers[0] == 4 and layers[-1] == 1


def test_a_dense_model_gets_no_expert_flags():
    cmd = _flags(model="llama3-8b", n_gpus=8, global_batch=64)
    assert "--num-experts" not in cmd and "--multi-latent-attention" not in cmd


def test_qwen3_has_wide_heads_and_qk_norm():
    cmd = _flags(model="qwen3-30b-a3b", n_gpus=64, ep=8, global_batch=64)
    assert _value(cmd, "--kv-channels") == "128" and "--qk-layernorm" in cmd
    assert _value(cmd, "--moe-token-dispatcher-type") == "alltoall"
    assert "--moe-layer-freq" not in cmd          # every layer has experts


@pytest.mark.parametrize(("layers", "dense", "step"), [(61, 3, 1), (48, 0, 2), (24, 0, 1),
                                                       (10, 1, 3)])
def test_the_layer_pattern_has_as_many_expert_layers_as_the_model_counts(layers, dense, step):
    pattern = moe_layer_pattern(layers, dense, step).strip("[]").split(",")
    assert len(pattern) == layers
    assert pattern.count("1") == int(moe_layer_count(layers, dense, step))


def test_a_capacity_factor_pads_every_expert_and_costs_its_padding():
    dropless = _flags(model="mixtral-8x7b", n_gpus=64, ep=8, global_batch=64)
    padded = _flags(model="mixtral-8x7b", n_gpus=64, ep=8, global_batch=64,
                    moe_capacity_factor=1.25)
    assert "--moe-expert-capacity-factor" not in dropless
    assert _value(padded, "--moe-expert-capacity-factor") == "1.25"
    assert "--moe-pad-expert-input-to-capacity" in padded
    rows = evaluate(polars.DataFrame([
        {"model": "mixtral-8x7b", "gpu": "H800", "n_gpus": 64, "ep": 8, "global_batch": 64,
         "recompute": "full", "moe_capacity_factor": c} for c in (0.0, 1.25)])).to_dicts()
    assert rows[1]["step_time_s"] > rows[0]["step_time_s"]
    assert rows[1]["model_flop_per_step"] == rows[0]["model_flop_per_step"]


def test_selective_recomputation_names_the_modules_the_model_priced():
    moe = _flags(model="deepseek-v3", n_gpus=2048, pp=16, ep=64, global_batch=15360,
                 recompute="selective")
    assert _value(moe, "--recompute-modules") == "core_attn layernorm moe_act mla_up_proj"
    dense = _flags(model="llama3-8b", n_gpus=8, global_batch=64, recompute="selective")
    assert "--recompute-granularity selective" in dense and "--recompute-modules" not in dense
