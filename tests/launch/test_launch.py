"""Launch material: Megatron-LM torchrun command, DeepSpeed config and command, notes."""

from __future__ import annotations

import json
import math
import re

import pytest

from trainplan import launch

LLAMA3_70B = {
    "model": "llama3-70b", "n_layers": 80.0, "hidden": 8192.0, "n_heads": 64.0,
    "n_kv_heads": 8.0, "ffn_hidden": 28672.0, "gated_mlp": True, "vocab": 128256.0,
    "tied_embeddings": False, "linear_bias": False, "position_embedding": "rope",
    "norm": "rmsnorm", "dropout": False, "seq_len": 8192.0, "global_batch": 512.0,
    "precision": "bf16", "tokens_budget": 15e12, "gpu": "H100-SXM", "n_gpus": 64.0,
    "gpus_per_node": 8.0, "tp": 8.0, "pp": 4.0, "dp": 2.0, "cp": 1.0, "vpp": 2.0,
    "micro_batch": 1.0, "zero_stage": 1.0, "recompute": "selective", "seq_parallel": True,
    "flash_attention": True, "schedule": "interleaved", "overlap_grad_reduce": True,
    "overlap_param_gather": True, "tp_comm_overlap": True, "zero3_max_live_params": 1e9,
}

# a 7B-class model on 12 GPUs (1.5 nodes) with DeepSpeed ZeRO-3
ZERO3 = {
    **LLAMA3_70B, "model": "llama2-7b", "n_layers": 32.0, "hidden": 4096.0, "n_heads": 32.0,
    "n_kv_heads": 32.0, "ffn_hidden": 11008.0, "vocab": 32000.0, "seq_len": 4096.0,
    "global_batch": 96.0, "tokens_budget": float("nan"), "n_gpus": 12.0, "tp": 1.0,
    "pp": 1.0, "dp": 12.0, "vpp": 1.0, "micro_batch": 2.0, "zero_stage": 3.0,
    "recompute": "full", "seq_parallel": False, "schedule": "1f1b", "tp_comm_overlap": False,
    "zero3_max_live_params": 3e8,
}


def _args(command: str) -> list[str]:
    """The backslash-continued lines of a command, stripped (comments and exports dropped)."""
    lines = [line.rstrip(" \\").strip() for line in command.splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "export"))]


def _value(command: str, flag: str) -> str:
    """The value following ``flag`` on its own line."""
    (line,) = [a for a in _args(command) if a.split()[0] == flag]
    return line.split()[1]


@pytest.fixture(scope="module")
def llama_cmd() -> str:
    return launch.megatron_command(LLAMA3_70B)


def test_llama_parallel_flags(llama_cmd):
    assert _value(llama_cmd, "--tensor-model-parallel-size") == "8"
    assert _value(llama_cmd, "--pipeline-model-parallel-size") == "4"
    # 80 layers / (pp 4 * vpp 2) = 10 layers per virtual stage
    assert _value(llama_cmd, "--num-layers-per-virtual-pipeline-stage") == "10"
    for flag in ("--sequence-parallel", "--use-distributed-optimizer", "--overlap-grad-reduce",
                 "--overlap-param-gather", "--tp-comm-overlap"):
        assert flag in _args(llama_cmd)
    assert "export CUDA_DEVICE_MAX_CONNECTIONS=1" in llama_cmd.splitlines()


def test_llama_model_flags(llama_cmd):
    expected = {"--num-layers": "80", "--hidden-size": "8192", "--ffn-hidden-size": "28672",
                "--num-attention-heads": "64", "--num-query-groups": "8",
                "--seq-length": "8192", "--max-position-embeddings": "8192",
                "--position-embedding-type": "rope", "--normalization": "RMSNorm",
                "--micro-batch-size": "1", "--global-batch-size": "512",
                "--recompute-granularity": "selective", "--attention-dropout": "0",
                "--hidden-dropout": "0", "--attention-backend": "flash"}
    for flag, value in expected.items():
        assert _value(llama_cmd, flag) == value, flag
    for flag in ("--group-query-attention", "--swiglu", "--untie-embeddings-and-output-weights",
                 "--disable-bias-linear", "--bf16"):
        assert flag in _args(llama_cmd)


def test_llama_absent_flags(llama_cmd):
    # cp = 1, selective recompute takes no method, bf16 only, Megatron has no such flags
    for flag in ("--context-parallel-size", "--recompute-method", "--recompute-num-layers",
                 "--fp16", "--fp8-format", "--virtual-pipeline-model-parallel-size",
                 "--vocab-size", "--deepspeed"):
        assert flag not in llama_cmd
    assert launch.deepspeed_config(LLAMA3_70B) is None
    assert launch.deepspeed_command(LLAMA3_70B) is None


def test_integers_not_floats(llama_cmd):
    assert not re.search(r"\d\.0\b", llama_cmd)
    assert "nan" not in llama_cmd.lower()


def test_launcher_line_and_nodes(llama_cmd):
    assert "torchrun --nnodes=8 --nproc-per-node=8" in llama_cmd
    assert "--rdzv-backend=c10d --rdzv-endpoint=$MASTER_ADDR:29500" in llama_cmd
    assert "pretrain_gpt.py" in llama_cmd
    assert all(len(line) <= 100 for line in llama_cmd.splitlines())
    assert launch.nodes({"n_gpus": 12.0, "gpus_per_node": 8.0}) == (2, 8)
    assert launch.nodes({"n_gpus": 4.0, "gpus_per_node": 8.0}) == (1, 4)
    assert launch.nodes({"n_gpus": 1024.0, "gpus_per_node": 4.0}) == (256, 4)


def test_train_iters():
    # 15e12 tokens / (512 * 8192 tokens per step) = 3576278.6 -> 3576279
    assert launch.train_iters(LLAMA3_70B) == 3576279
    assert launch.train_iters({**LLAMA3_70B, "tokens_budget": 512 * 8192 * 10.0}) == 10
    assert launch.train_iters(ZERO3) is None
    cmd = launch.megatron_command(LLAMA3_70B)
    assert _value(cmd, "--train-iters") == "3576279"
    assert "--train-iters" not in launch.megatron_command(ZERO3)


def test_flags_that_do_not_apply():
    cfg = {**LLAMA3_70B, "tp": 1.0, "pp": 1.0, "vpp": 1.0, "dp": 64.0, "zero_stage": 0.0,
           "recompute": "none", "n_kv_heads": 64.0, "dropout": True, "linear_bias": True,
           "tied_embeddings": True, "gated_mlp": False, "position_embedding": "learned",
           "norm": "layernorm", "flash_attention": False}
    cmd = launch.megatron_command(cfg)
    for flag in ("--sequence-parallel", "--tp-comm-overlap", "--use-distributed-optimizer",
                 "--overlap-param-gather", "--recompute-granularity",
                 "--num-layers-per-virtual-pipeline-stage", "--group-query-attention",
                 "--attention-dropout", "--disable-bias-linear", "--swiglu",
                 "--untie-embeddings-and-output-weights", "CUDA_DEVICE_MAX_CONNECTIONS"):
        assert flag not in cmd, flag
    assert _value(cmd, "--position-embedding-type") == "learned_absolute"
    assert _value(cmd, "--normalization") == "LayerNorm"
    assert _value(cmd, "--attention-backend") == "unfused"


def test_full_recompute_and_context_parallel():
    cfg = {**LLAMA3_70B, "recompute": "full", "cp": 2.0, "dp": 1.0, "global_batch": 64.0}
    cmd = launch.megatron_command(cfg)
    assert _value(cmd, "--recompute-granularity") == "full"
    assert _value(cmd, "--recompute-method") == "uniform"
    assert _value(cmd, "--recompute-num-layers") == "1"
    assert _value(cmd, "--context-parallel-size") == "2"


def test_fp8_flags():
    cmd = launch.megatron_command({**LLAMA3_70B, "precision": "fp8"})
    assert _value(cmd, "--fp8-format") == "hybrid"
    assert "--bf16" in _args(cmd)
    assert "--fp16" not in cmd
    fp16 = launch.megatron_command({**LLAMA3_70B, "precision": "fp16"})
    assert "--fp16" in _args(fp16) and "--bf16" not in fp16
    notes = launch.launch_notes({**ZERO3, "precision": "fp8"})
    assert any("fp8_autocast" in note for note in notes)


def test_zero3_deepspeed_config():
    config = launch.deepspeed_config(ZERO3)
    zero = config["zero_optimization"]
    assert zero["stage"] == 3
    assert config["train_micro_batch_size_per_gpu"] == 2
    assert config["gradient_accumulation_steps"] == 4  # 96 / (12 * 2)
    assert (config["train_batch_size"] == config["train_micro_batch_size_per_gpu"]
            * config["gradient_accumulation_steps"] * 12 == 96)
    assert zero["stage3_max_live_parameters"] == 300_000_000
    assert {"overlap_comm", "contiguous_gradients", "reduce_bucket_size",
            "stage3_prefetch_bucket_size", "stage3_param_persistence_threshold"} <= set(zero)
    assert config["bf16"] == {"enabled": True} and config["fp16"]["enabled"] is False
    assert config["gradient_clipping"] == 1.0
    assert "activation_checkpointing" in config
    # ZeRO-2: no stage-3 keys, no checkpointing without recompute, default live params
    zero2 = launch.deepspeed_config({**ZERO3, "zero_stage": 2.0, "recompute": "none"})
    assert zero2["zero_optimization"]["stage"] == 2
    assert not any(k.startswith("stage3") for k in zero2["zero_optimization"])
    assert "activation_checkpointing" not in zero2
    default = launch.deepspeed_config({k: v for k, v in ZERO3.items()
                                       if k != "zero3_max_live_params"})
    assert default["zero_optimization"]["stage3_max_live_parameters"] == 1_000_000_000


def test_zero3_commands():
    command = launch.deepspeed_command(ZERO3)
    assert "deepspeed --hostfile=hostfile --num_nodes=2 --num_gpus=8" in command
    assert "train.py --deepspeed --deepspeed_config ds_config.json" in command
    torchrun = launch.megatron_command(ZERO3)
    assert "--use-distributed-optimizer" not in torchrun  # DeepSpeed shards, not Megatron
    assert "--overlap-param-gather" not in torchrun


def test_json_valid_and_stable():
    first = launch.launch_material(ZERO3)
    second = launch.launch_material(dict(reversed(list(ZERO3.items()))))
    assert first == second
    text = first["deepspeed_config"]
    assert json.loads(text) == launch.deepspeed_config(ZERO3)
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert '\n  "bf16": {' in text
    assert launch.launch_material(LLAMA3_70B) == launch.launch_material(dict(LLAMA3_70B))


def test_launch_material_shape_and_notes():
    material = launch.launch_material(LLAMA3_70B)
    assert set(material) == {"torchrun", "deepspeed_config", "deepspeed", "notes"}
    assert material["deepspeed_config"] is None and material["deepspeed"] is None
    notes = material["notes"]
    assert any("nodes = ceil(n_gpus / gpus_per_node) = ceil(64 / 8) = 8" in n for n in notes)
    assert any("tokenizer (V = 128256)" in n and "129024" in n for n in notes)
    uneven = launch.launch_notes(ZERO3)
    assert any("--nproc-per-node=4" in n for n in uneven)
    assert any("ZeRO-3" in n for n in uneven)
    assert not any("not supported by DeepSpeed" in n for n in uneven)


def test_bad_values_raise():
    with pytest.raises(ValueError, match="global_batch"):
        launch.megatron_command({**LLAMA3_70B, "global_batch": 511.0})
    with pytest.raises(ValueError, match="whole number"):
        launch.megatron_command({**LLAMA3_70B, "tp": 7.5})


def test_padded_vocab():
    assert launch.padded_vocab(128256, 8) == 129024
    assert launch.padded_vocab(32000, 1) == 32000
    assert launch.padded_vocab(50257, 2) == math.ceil(50257 / 256) * 256
