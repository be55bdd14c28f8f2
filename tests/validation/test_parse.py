"""Reading the free-text cells of published-run tables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainplan.validation import parse


@pytest.mark.parametrize(("cell", "expected"), [
    ("full (every layer; --activations-checkpoint-method uniform)", "full"),
    ("selective (attention only)", "selective"), ("none", "none"), ("", None),
    ("not stated", None)])
def test_recompute_cells(cell, expected):
    assert parse.recompute(cell) == expected


@pytest.mark.parametrize(("cell", "expected"), [
    ("layernorm moe", ("selective", True)), ("moe", ("none", True)),
    ("core_attn, moe_act, layernorm", ("selective", False)),
    ("MLA_UP_PROJ moe", ("selective", True)),
    ("", None)])
def test_recompute_module_cells(cell, expected):
    """Megatron-Core's --recompute-modules: ``moe`` alone recomputes only the MoE blocks;
    any other module makes it selective recomputation."""
    assert parse.recompute_modules(cell) == expected


@pytest.mark.parametrize(("cell", "expected"), [
    ("expert_fc1 moe_act", True), ("moe_act", True), ("EXPERT_FC1", True), ("", None)])
def test_offload_module_cells(cell, expected):
    assert parse.offload_modules(cell) is expected


def test_offloading_modules_trainplan_does_not_model_is_refused():
    with pytest.raises(ValueError, match="expert_fc1 and moe_act only"):
        parse.offload_modules("core_attn expert_fc1")


def test_unknown_recompute_module_says_what_is_allowed():
    with pytest.raises(ValueError, match="core_attn, moe_act"):
        parse.recompute_modules("layernorm attention")


@pytest.mark.parametrize(("cell", "expected"), [
    ("bf16 (BF16 optimizer, fp32 grad accumulation)", ("bf16", None, True)),
    ("fp16 mixed (script --fp16)", ("fp16", None, False)),
    ("mixed 16-bit", ("fp16", None, False)),
    ("amp_bf16 (autocast, fp32 master weights)", ("bf16", None, False)),
    ("bf16 mixed", ("bf16", None, False)),
    ("FP8-CS (FP8 current scaling)", ("fp8", "current tensorwise", False)),
    ("fp8 (delayed scaling, amax history 1024)", ("fp8", "delayed tensorwise", False)),
    ("float8 rowwise", ("fp8", "rowwise", False)),
    ("mxfp8", ("fp8", "mxfp8", False)),
    ("fp8", ("fp8", None, False)),
    ("not stated (BF16 implied by MFU vs 989 TFLOP/s)", (None, None, False)),
    ("", (None, None, False))])
def test_precision_cells(cell, expected):
    assert tuple(parse.precision(cell)) == expected


@pytest.mark.parametrize("cell", ["fp32", "tf32 (no autocast)", "quantum", "int4"])
def test_precision_that_is_not_represented_says_what_is(cell):
    with pytest.raises(ValueError, match=r"bf16, fp16 (and|or) fp8"):
        parse.precision(cell)


@pytest.mark.parametrize(("cell", "stage"), [
    ("0", 0), ("3", 3), ("1 (BF16Optimizer, ZeRO-1 sharding)", 1),
    ("FSDP FULL_SHARD", 3), ("PyTorch FSDP (FULL_SHARD)", 3), ("fsdp SHARD_GRAD_OP", 2),
    ("HSDP (hybrid shard, groups of 8)", 3), ("HYBRID_SHARD", 3), ("NO_SHARD", 0),
    ("distributed optimizer", 1), ("Megatron distributed-optimizer", 1), ("ZeRO-2", 2),
    ("DeepSpeed ZeRO stage 3", 3), ("FSDP2 (reshard_after_forward=True)", 3),
    ("Megatron-FSDP (sharding group 8)", 3),
    ("not stated (FSDP=0 i.e. DDP; distributed optimizer not stated)", None), ("", None)])
def test_zero_stage_cells(cell, stage):
    assert parse.zero_stage(cell) == stage


def test_hybrid_sharding_is_taken_as_zero3_and_says_so():
    assert "ZeRO-3 over the whole data-parallel group" in parse.zero_stage_remark("HSDP")
    assert parse.zero_stage_remark("FSDP FULL_SHARD") is None


@pytest.mark.parametrize("cell", ["7", "sometimes sharded", "sharded"])
def test_unknown_zero_stage_says_what_is_allowed(cell):
    with pytest.raises(ValueError, match="0-3, FSDP FULL_SHARD"):
        parse.zero_stage(cell)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_parses_or_raises_value_error(text):
    for parser in (parse.recompute, parse.yes_no, parse.zero_stage, parse.precision,
                   parse.recompute_modules, parse.offload_modules):
        try:
            parser(text)
        except ValueError:
            pass
    parse.gpu_name(text)
    parse.interconnect(text)


def test_interconnect_and_gpu_cells():
    assert parse.interconnect("8x 200 Gb/s HDR InfiniBand HCAs per node") == (1600.0, None)
    assert parse.interconnect("4x Omni-Path links per node") == (400.0, None)
    assert parse.interconnect("NVL72 rack: NVLink-5 domain of 72 GPUs") == (None, 72)
    assert parse.gpu_name("B200 (HGX/DGX B200, 1000 W)") == "B200"
    assert parse.gpu_name("A100-SXM4-80GB") == "A100-SXM4-80GB"
    assert parse.zero_stage("Megatron-FSDP (sharding group 8)") == 3
    assert parse.zero_stage("1 (BF16Optimizer, ZeRO-1 sharding)") == 1


@pytest.mark.parametrize(("text", "memory", "power"), [
    ("H100 (SXM, 96GB HBM2e, 500 W power limit; Grand Teton)", 96.0, 500.0),
    ("H100 96GB @500W", 96.0, 500.0),
    ("H100 power-limited to 600 W", None, 600.0),
    ("A100-SXM4-80GB", 80.0, None),
    ("B200", None, None),
])
def test_gpu_variant_reads_memory_and_power_limit(text, memory, power):
    from trainplan.validation.parse import gpu_variant

    assert gpu_variant(text) == (memory, power)
