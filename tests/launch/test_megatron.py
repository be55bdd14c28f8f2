"""Megatron-LM torchrun command: flags and values as Megatron-LM's arguments.py defines them."""

from __future__ import annotations

import math
import re

import pytest

from trainplan.launch import LaunchConfig
from trainplan.launch.megatron import (
    layers_per_virtual_stage,
    megatron_args,
    megatron_command,
    padded_vocab,
)


def _args(command: str) -> list[str]:
    """The backslash-continued lines of a command, stripped (comments and exports dropped)."""
    lines = [line.rstrip(" \\").strip() for line in command.splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "export"))]


def _value(command: str, flag: str) -> str:
    """The value following ``flag`` on its own line."""
    (line,) = [a for a in _args(command) if a.split()[0] == flag]
    return line.split()[1]


def _command(row: dict, **changes) -> str:
    """The command of ``row`` with ``changes`` applied."""
    return megatron_command(LaunchConfig.from_row({**row, **changes}))


@pytest.fixture
def llama_cmd(llama) -> str:
    return megatron_command(llama)


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


def test_integers_not_floats(llama_cmd, llama_row):
    assert not re.search(r"\d\.0\b", llama_cmd)
    assert "nan" not in llama_cmd.lower()
    ints = {k: int(v) for k, v in llama_row.items()
            if isinstance(v, float) and k != "tokens_budget"}
    assert _command(llama_row, **ints) == llama_cmd  # Int64 columns give the same text


def test_launcher_line(llama_cmd, zero3):
    assert "torchrun --nnodes=8 --nproc-per-node=8" in llama_cmd
    assert "--rdzv-backend=c10d --rdzv-endpoint=$MASTER_ADDR:29500" in llama_cmd
    assert "pretrain_gpt.py" in llama_cmd
    assert all(len(line) <= 100 for line in llama_cmd.splitlines())
    # 12 GPUs of 8 per node: two nodes, eight processes each (the notes fix the last node)
    assert "torchrun --nnodes=2 --nproc-per-node=8" in megatron_command(zero3)


def test_header(llama_cmd, llama_row):
    assert llama_cmd.startswith("# llama3-70b on 64 x H100-SXM: tp=8 pp=4 cp=1 dp=2 vpp=2\n")
    assert "Megatron pads it to 129024" in llama_cmd
    unnamed = {k: v for k, v in llama_row.items() if k not in ("model", "gpu")}
    assert megatron_command(LaunchConfig.from_row(unnamed)).startswith("# model on 64 x GPU:")


def test_train_iters(llama_row, zero3):
    # 15e12 tokens / (512 * 8192 tokens per step) = 3576278.6 -> 3576279
    assert _value(megatron_command(LaunchConfig.from_row(llama_row)), "--train-iters") == \
        "3576279"
    assert "--train-iters" not in megatron_command(zero3)


def test_flags_that_do_not_apply(llama_row):
    cmd = _command(llama_row, tp=1.0, pp=1.0, vpp=1.0, dp=64.0, zero_stage=0.0,
                   recompute="none", n_kv_heads=64.0, dropout=True, linear_bias=True,
                   tied_embeddings=True, gated_mlp=False, position_embedding="learned",
                   norm="layernorm", flash_attention=False)
    for flag in ("--sequence-parallel", "--tp-comm-overlap", "--use-distributed-optimizer",
                 "--overlap-param-gather", "--recompute-granularity",
                 "--num-layers-per-virtual-pipeline-stage", "--group-query-attention",
                 "--attention-dropout", "--disable-bias-linear", "--swiglu",
                 "--untie-embeddings-and-output-weights", "CUDA_DEVICE_MAX_CONNECTIONS"):
        assert flag not in cmd, flag
    assert _value(cmd, "--position-embedding-type") == "learned_absolute"
    assert _value(cmd, "--normalization") == "LayerNorm"
    assert _value(cmd, "--attention-backend") == "unfused"


def test_overlaps_megatron_would_refuse(llama_row):
    # --tp-comm-overlap needs --sequence-parallel; --overlap-param-gather needs
    # --overlap-grad-reduce and the distributed optimizer (ZeRO-1)
    no_sp = _command(llama_row, seq_parallel=False)
    assert "--tp-comm-overlap" not in no_sp and "--sequence-parallel" not in no_sp
    no_grad = _command(llama_row, overlap_grad_reduce=False)
    assert "--overlap-param-gather" not in no_grad
    assert "--overlap-param-gather" not in _command(llama_row, zero_stage=0.0)


def test_full_recompute_and_context_parallel(llama_row):
    cmd = _command(llama_row, recompute="full", cp=2.0, dp=1.0, global_batch=64.0)
    assert _value(cmd, "--recompute-granularity") == "full"
    assert _value(cmd, "--recompute-method") == "uniform"
    assert _value(cmd, "--recompute-num-layers") == "1"
    assert _value(cmd, "--context-parallel-size") == "2"


def test_uneven_virtual_stages(llama_row):
    # 80 layers do not split into pp 4 * vpp 3 = 12 chunks: the virtual degree is given directly
    cmd = _command(llama_row, vpp=3.0)
    assert _value(cmd, "--num-virtual-stages-per-pipeline-rank") == "3"
    assert "--num-layers-per-virtual-pipeline-stage" not in cmd
    assert layers_per_virtual_stage(LaunchConfig.from_row({**llama_row, "vpp": 3.0})) is None


def test_precision_flags(llama_row):
    fp8 = _command(llama_row, precision="fp8")
    assert _value(fp8, "--fp8-format") == "hybrid"
    assert "--bf16" in _args(fp8) and "--fp16" not in fp8
    fp16 = _command(llama_row, precision="fp16")
    assert "--fp16" in _args(fp16) and "--bf16" not in fp16


def test_args_order(llama):
    args = megatron_args(llama)
    first = [next(i for i, a in enumerate(args) if a.startswith(flag))
             for flag in ("--tensor-model-parallel-size", "--num-layers ", "--micro-batch-size",
                          "--bf16", "--attention-backend", "--overlap-grad-reduce",
                          "--tokenizer-type")]
    assert first == sorted(first)
    assert args[-1] == "$EXTRA_ARGS"


def test_padded_vocab():
    assert padded_vocab(128256, 8) == 129024
    assert padded_vocab(32000, 1) == 32000
    assert padded_vocab(50257, 2) == math.ceil(50257 / 256) * 256


def test_zero3_torchrun_leaves_sharding_to_deepspeed(zero3):
    torchrun = megatron_command(zero3)
    assert "--use-distributed-optimizer" not in torchrun  # DeepSpeed shards, not Megatron
    assert "--overlap-param-gather" not in torchrun


@pytest.mark.parametrize(("stage", "strategy"), [(2, "optim_grads"), (3, "optim_grads_params")])
def test_megatron_core_zero_2_3_is_megatron_fsdp(zero3_row, stage, strategy):
    """Under Megatron-Core or NeMo the model prices ZeRO-2/3 with Megatron's fp32 main
    gradients: the command shards with Megatron-FSDP (Megatron-Core user guide) instead of
    handing the run to DeepSpeed's 16-bit gradients."""
    config = LaunchConfig.from_row({**zero3_row, "zero_stage": stage,
                                    "framework": "Megatron-Core"})
    command = megatron_command(config)
    assert not config.uses_deepspeed
    assert _value(command, "--data-parallel-sharding-strategy") == strategy
    args = {a.split()[0] for a in _args(command)}
    assert {"--use-megatron-fsdp", "--use-distributed-optimizer",
            "--no-gradient-accumulation-fusion"} <= args


def test_activation_offloading_flags(llama_row):
    # 80 layers on one stage, half offloaded: Megatron-Core's --cpu-offloading-num-layers 40
    cmd = _command(llama_row, pp=1.0, vpp=1.0, dp=8.0, activation_offload_fraction=0.5)
    assert "--cpu-offloading" in _args(cmd)
    assert _value(cmd, "--cpu-offloading-num-layers") == "40"
    assert "--cpu-offloading" not in _command(llama_row)
