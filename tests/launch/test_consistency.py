"""The launch material of every best layout trains what the memory model priced.

For scenarios across frameworks, precisions, ZeRO stages and uneven pipelines, the fastest
feasible layout of a small grid is written as launch material, read back as a framework would
(:mod:`readback`, written independently of ``trainplan.launch``) and evaluated again: it must
fit, and need no more memory than the plan said.
"""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from trainplan import evaluate
from trainplan.launch import launch_material
from trainplan.launch.bundle import main_script
from trainplan.launch.config import LaunchConfig
from trainplan.model.stages import stage_layers
from trainplan.schema.inputs import INPUTS

from .readback import deepspeed_inputs, megatron_inputs, torchtitan_inputs

SCENARIOS = {
    "llama3-70b bf16 Megatron-Core": {"model": "llama3-70b", "gpu": "H100", "n_gpus": 64,
                                      "global_batch": 128, "framework": "Megatron-Core"},
    "llama3-70b fp8 Megatron-Core": {"model": "llama3-70b", "gpu": "H100", "n_gpus": 64,
                                     "global_batch": 128, "framework": "Megatron-Core",
                                     "precision": "fp8"},
    "llama3-405b uneven stages": {"model": "llama3-405b", "gpu": "H100", "n_gpus": 1024,
                                  "global_batch": 512, "framework": "Megatron-Core",
                                  "pp": 16, "vpp": 1},   # 126 layers: as Meta trained it
    "gpt3-175b fp16 Megatron-LM 2022": {"model": "gpt3-175b", "gpu": "A100", "n_gpus": 256,
                                        "global_batch": 512, "framework": "Megatron-LM 2022",
                                        "precision": "fp16"},
    "llama2-7b DeepSpeed ZeRO-3": {"model": "llama2-7b", "gpu": "A100", "n_gpus": 16,
                                   "global_batch": 64, "framework": "DeepSpeed ZeRO-3",
                                   "zero_stage": 3},
    "llama3-70b interleaved, half the layers recomputed": {
        "model": "llama3-70b", "gpu": "H100", "n_gpus": 128, "global_batch": 256,
        "framework": "Megatron-Core", "pp": 4, "vpp": 4, "recompute": "full",
        "recompute_fraction": 0.5},
    "gpt3-175b fp16 with fp32 gradients": {"model": "gpt3-175b", "gpu": "A100", "n_gpus": 256,
                                           "global_batch": 512, "framework": "Megatron-Core",
                                           "precision": "fp16"},
    "llama3-70b TorchTitan interleaved": {"model": "llama3-70b", "gpu": "H100", "n_gpus": 128,
                                          "global_batch": 256, "framework": "TorchTitan",
                                          "pp": 4, "vpp": 2, "zero_stage": 3},
    "llama3-8b TorchTitan": {"model": "llama3-8b", "gpu": "H100", "n_gpus": 16,
                             "global_batch": 64, "framework": "TorchTitan"},
    "llama3-70b no framework": {"model": "llama3-70b", "gpu": "B200", "n_gpus": 128,
                                "global_batch": 256},
    "llama3-70b GB200 activation offloading": {
        "model": "llama3-70b", "gpu": "GB200", "n_gpus": 64, "global_batch": 256,
        "framework": "Megatron-Core", "precision": "fp8", "pp": 1, "recompute": "none",
        "activation_offload_fraction": 0.5},
    "qwen3-30b-a3b whole-MoE recomputation": {
        "model": "qwen3-30b-a3b", "gpu": "H100", "n_gpus": 16, "global_batch": 64,
        "framework": "Megatron-Core", "ep": 8, "recompute_moe": True},
    "qwen3-30b-a3b GB200 experts' inputs offloaded": {
        "model": "qwen3-30b-a3b", "gpu": "GB200", "n_gpus": 16, "global_batch": 64,
        "framework": "Megatron-Core", "ep": 8, "offload_moe_inputs": True},
}
LAYOUTS = {"tp": [1, 2, 4, 8], "pp": [1, 2, 4, 8, 16], "zero_stage": [0, 1, 2, 3],
           "recompute": ["none", "selective", "full"], "micro_batch": [1, 2]}
INPUT_NAMES = {spec.name for spec in INPUTS}


def _winner(scenario: dict) -> dict:
    """The fastest feasible layout of ``scenario`` over :data:`LAYOUTS` (the scenario's own
    values win)."""
    rows = [{**dict(zip(LAYOUTS, values, strict=True)), **scenario}
            for values in itertools.product(*LAYOUTS.values())]
    table = evaluate(pl.DataFrame(rows, infer_schema_length=None))
    feasible = table.filter(pl.col("feasible")).sort(["step_time_s", "tp", "pp"])
    assert feasible.height, "no feasible layout"
    return feasible.row(0, named=True)


def _read_back(row: dict) -> dict:
    """The inputs of ``row`` as its launch material states them."""
    material = launch_material(row)
    main = main_script(LaunchConfig.from_row(row))
    if main == "torchtitan.sh":
        return torchtitan_inputs(material["torchtitan_toml"])
    stated = megatron_inputs(material["torchrun"])
    if main == "deepspeed.sh":
        stated.update(deepspeed_inputs(material["deepspeed_config"]))
    return stated


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def winner(request) -> dict:
    return _winner(SCENARIOS[request.param])


def test_the_launch_material_trains_what_the_plan_priced(winner):
    stated = _read_back(winner)
    inputs = {k: v for k, v in winner.items() if k in INPUT_NAMES}
    again = evaluate(pl.DataFrame([{**inputs, **stated}], infer_schema_length=None))
    again = again.row(0, named=True)
    assert again["feasible"], again["reason"]
    assert again["memory_total_bytes"] <= winner["memory_total_bytes"] * (1 + 1e-9)
    assert again["memory_total_bytes"] >= winner["memory_total_bytes"] * 0.97


def test_uneven_stages_are_the_ones_the_plan_assumed():
    row = _winner(SCENARIOS["llama3-405b uneven stages"])
    text = launch_material(row)["torchrun"]
    layers, pp, vpp = int(row["n_layers"]), int(row["pp"]), int(row["vpp"])
    assert (layers, pp, vpp) == (126, 16, 1)
    first, _, last = (int(x) for x in stage_layers(layers, pp))
    assert f"--decoder-first-pipeline-num-layers {first}" in text
    assert f"--decoder-last-pipeline-num-layers {last}" in text


def test_the_scenarios_cover_what_the_read_back_reads():
    winners = {name: _winner(scenario) for name, scenario in SCENARIOS.items()}
    assert winners["llama2-7b DeepSpeed ZeRO-3"]["zero_stage"] == 3
    interleaved = winners["llama3-70b interleaved, half the layers recomputed"]
    assert interleaved["vpp"] == 4 and interleaved["recompute"] == "full"
    assert "--recompute-method block" in launch_material(interleaved)["torchrun"]
    assert winners["gpt3-175b fp16 with fp32 gradients"]["grad_bytes_per_param"] == 4
    assert winners["llama3-70b TorchTitan interleaved"]["vpp"] == 2
    offloading = winners["llama3-70b GB200 activation offloading"]
    assert "--cpu-offloading-num-layers 40" in launch_material(offloading)["torchrun"]
    moe = winners["qwen3-30b-a3b whole-MoE recomputation"]
    assert moe["recompute_moe"] and moe["recompute"] in ("none", "selective")
    modules = launch_material(moe)["torchrun"].split("--recompute-modules")[1].split("\\")[0]
    assert "moe" in modules.split() and "moe_act" not in modules.split()
    offload = winners["qwen3-30b-a3b GB200 experts' inputs offloaded"]
    assert offload["offload_moe_inputs"] and offload["recompute"] != "full"
    assert "--offload-modules expert_fc1 moe_act" in launch_material(offload)["torchrun"]


def test_llama3_carries_its_rotary_base():
    row = _winner(SCENARIOS["llama3-70b bf16 Megatron-Core"])
    assert "--rotary-base 500000" in launch_material(row)["torchrun"]
