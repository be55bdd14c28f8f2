"""Reading the free-text cells of published-run tables."""

from __future__ import annotations

import pytest

from trainplan.validation import parse


@pytest.mark.parametrize(("cell", "expected"), [
    ("full (every layer; --activations-checkpoint-method uniform)", "full"),
    ("selective (attention only)", "selective"), ("none", "none"), ("", None),
    ("not stated", None)])
def test_recompute_cells(cell, expected):
    assert parse.recompute(cell) == expected


@pytest.mark.parametrize(("cell", "expected"), [
    ("bf16 (BF16 optimizer, fp32 grad accumulation)", ("bf16", True)),
    ("fp16 mixed (script --fp16)", ("fp16", False)), ("mixed 16-bit", ("fp16", False)),
    ("FP8-CS (FP8 current scaling)", ("fp8", False)),
    ("not stated (BF16 implied by MFU vs 989 TFLOP/s)", (None, False))])
def test_precision_cells(cell, expected):
    assert parse.precision(cell) == expected


def test_interconnect_and_gpu_cells():
    assert parse.interconnect("8x 200 Gb/s HDR InfiniBand HCAs per node") == (1600.0, None)
    assert parse.interconnect("4x Omni-Path links per node") == (400.0, None)
    assert parse.interconnect("NVL72 rack: NVLink-5 domain of 72 GPUs") == (None, 72)
    assert parse.gpu_name("B200 (HGX/DGX B200, 1000 W)") == "B200"
    assert parse.gpu_name("A100-SXM4-80GB") == "A100-SXM4-80GB"
    assert parse.zero_stage("Megatron-FSDP (sharding group 8)") == 3
    assert parse.zero_stage("1 (BF16Optimizer, ZeRO-1 sharding)") == 1
