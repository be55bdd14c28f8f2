"""DeepSpeed ZeRO-2/3 config and launcher, as DeepSpeed's configuration JSON defines them."""

from __future__ import annotations

import json

from trainplan.launch import LaunchConfig
from trainplan.launch.deepspeed import config_json, deepspeed_command, deepspeed_config


def test_no_deepspeed_for_stages_0_and_1(llama, llama_row):
    assert deepspeed_config(llama) is None and deepspeed_command(llama) is None
    stage0 = LaunchConfig.from_row({**llama_row, "zero_stage": 0.0})
    assert deepspeed_config(stage0) is None and deepspeed_command(stage0) is None


def test_zero3_config(zero3):
    config = deepspeed_config(zero3)
    zero = config["zero_optimization"]
    assert zero["stage"] == 3
    assert config["train_micro_batch_size_per_gpu"] == 2
    assert config["gradient_accumulation_steps"] == 4  # 96 / (12 * 2)
    assert config["train_batch_size"] == 96
    assert zero["stage3_max_live_parameters"] == 300_000_000
    assert {"overlap_comm", "contiguous_gradients", "reduce_bucket_size",
            "stage3_prefetch_bucket_size", "stage3_param_persistence_threshold"} <= set(zero)
    assert config["bf16"] == {"enabled": True} and config["fp16"]["enabled"] is False
    assert config["gradient_clipping"] == 1.0
    assert "activation_checkpointing" in config


def test_zero2_config(zero3_row):
    # ZeRO-2: no stage-3 keys, no checkpointing without recompute
    zero2 = deepspeed_config(LaunchConfig.from_row({**zero3_row, "zero_stage": 2.0,
                                                    "recompute": "none"}))
    assert zero2["zero_optimization"]["stage"] == 2
    assert not any(k.startswith("stage3") for k in zero2["zero_optimization"])
    assert "activation_checkpointing" not in zero2


def test_live_parameters_default_is_deepspeeds(zero3_row):
    # DeepSpeed's documented default stage3_max_live_parameters is 1e9
    row = {k: v for k, v in zero3_row.items() if k != "zero3_max_live_params"}
    config = deepspeed_config(LaunchConfig.from_row(row))
    assert config["zero_optimization"]["stage3_max_live_parameters"] == 1_000_000_000
    assert type(config["zero_optimization"]["stage3_max_live_parameters"]) is int


def test_fp16_dynamic_loss_scale(zero3_row):
    config = deepspeed_config(LaunchConfig.from_row({**zero3_row, "precision": "fp16"}))
    assert config["fp16"] == {"enabled": True, "loss_scale": 0}
    assert config["bf16"] == {"enabled": False}


def test_zero3_command(zero3, zero3_row):
    command = deepspeed_command(zero3)
    assert "deepspeed --hostfile=hostfile --num_nodes=2 --num_gpus=8" in command
    assert "train.py --deepspeed --deepspeed_config ds_config.json" in command
    one_node = LaunchConfig.from_row({**zero3_row, "n_gpus": 8.0, "dp": 8.0,
                                      "global_batch": 64.0})
    assert deepspeed_command(one_node).startswith("deepspeed --num_nodes=1 --num_gpus=8")


def test_config_json_stable(zero3):
    text = config_json(deepspeed_config(zero3))
    assert json.loads(text) == deepspeed_config(zero3)
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert '\n  "bf16": {' in text
