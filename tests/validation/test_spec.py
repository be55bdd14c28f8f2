"""One published-run row -> RunSpec: stated values, defaults with their notes, searches."""

from __future__ import annotations

import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainplan.validation import check, spec
from trainplan.validation import spec as spec_module
from trainplan.validation.spec import (
    DEFAULT_VOCAB,
    MAX_SEARCH_VPP,
    SEARCH_MICRO_BATCH,
    SEARCH_RECOMPUTE,
    number,
    run_spec,
    short_source,
)

STATED = {"row_id": "r1", "source": "Narayanan et al. 2021 (arXiv:2104.04473), Table 1",
          "gpu": "A100-SXM4-80GB", "n_layers": "24", "hidden": "2048", "n_heads": "16",
          "seq_len": "2048", "global_batch": "512", "tp": "2", "pp": "4", "n_gpus": "64"}


def spec_of(**cells):
    """The RunSpec of :data:`STATED` with ``cells`` changed (None blanks a cell)."""
    return run_spec({**STATED, **cells})


def test_number_cells():
    assert number({"a": " 12 "}, "a") == 12.0
    assert number({"a": ""}, "a") is None and number({}, "a") is None
    assert number({"a": "n/a"}, "a") is None


def test_short_source():
    assert short_source(STATED["source"]) == "Narayanan et al. 2021"
    assert short_source(None) == "unknown"


def test_stated_values_are_taken_as_integers():
    spec = spec_of()
    assert spec.unrepresentable is None and spec.row_id == "r1"
    assert {k: spec.base[k] for k in ("n_layers", "hidden", "tp", "pp", "cp", "n_gpus")} == \
        {"n_layers": 24, "hidden": 2048, "tp": 2, "pp": 4, "cp": 1, "n_gpus": 64}
    assert "dp" not in spec.base                          # the resolver derives it


@pytest.mark.parametrize(("cells", "reason"), [
    ({"gpu": "TPU v4"}, "unknown accelerator 'TPU v4'"),
    ({"tp": None, "pp": ""}, "not stated: tp, pp"),
    ({"n_gpus": None}, "not stated: n_gpus and dp")])
def test_rows_that_cannot_be_represented(cells, reason):
    assert reason in spec_of(**cells).unrepresentable


def test_cluster_size_from_dp():
    spec = spec_of(n_gpus=None, dp="8", cp="2")
    assert (spec.base["n_gpus"], spec.base["dp"]) == (2 * 4 * 2 * 8, 8)


def test_blank_architecture_cells_take_gpt_conventions_and_say_so():
    spec = spec_of(model_name="my own model")
    assert (spec.base["n_kv_heads"], spec.base["ffn_hidden"]) == (16, 4 * 2048)
    assert (spec.base["gated_mlp"], spec.base["position_embedding"]) == (False, "learned")
    assert spec.base["vocab"] == DEFAULT_VOCAB
    for text in ("n_kv_heads = n_heads (not stated)", "activation GeLU (not stated)",
                 "ffn_hidden = 4h (not stated)", f"vocab {DEFAULT_VOCAB:,} (not stated)"):
        assert text in spec.assumptions


def test_a_gated_mlp_takes_llama_conventions():
    spec = spec_of(activation="SwiGLU", ffn_hidden="5632", vocab="32000")
    assert spec.base["gated_mlp"] and spec.base["ffn_hidden"] == 5632
    assert (spec.base["norm"], spec.base["tied_embeddings"], spec.base["linear_bias"]) == \
        ("rmsnorm", False, False)


def test_a_catalog_family_fills_the_vocabulary():
    # llama2-7b is a catalog entry: its vocabulary and conventions, even with GeLU stated
    spec = spec_of(model_name="Llama-2-7B (our reproduction)", activation="gelu")
    assert (spec.base["vocab"], spec.base["position_embedding"]) == (32000, "rope")
    assert "vocab 32,000 from catalog entry llama2-7b (not stated)" in spec.assumptions


def test_precision_and_fp32_gradient_accumulation():
    spec = spec_of(precision="bf16 (BF16 optimizer, fp32 grad accumulation)")
    assert spec.base["precision"] == "bf16"
    assert (spec.base["grad_bytes_per_param"], spec.base["grad_reduce_bytes_per_param"]) == \
        (6.0, 4.0)
    assert spec_of().base["precision"] == "bf16"
    assert "precision bf16 (not stated)" in spec_of().assumptions


def test_interconnect_and_node():
    spec = spec_of(interconnect="8x 200 Gb/s HDR InfiniBand", gpus_per_node="8")
    assert (spec.base["scaleout_gbit_s_per_node"], spec.base["gpus_per_node"]) == (1600.0, 8)
    assert "scale-out network of the GPU catalog's typical node (not stated)" in \
        spec_of().assumptions


def test_framework_sets_what_its_software_could_do():
    old = spec_of(framework="Megatron-LM 2021")
    assert old.base["flash_attention"] is False and old.base["overlap_grad_reduce"] is False
    stated = spec_of(framework="Megatron-LM 2021 (--overlap-grad-reduce)")
    assert stated.base["overlap_grad_reduce"] is True
    unknown = spec_of(framework="my trainer")
    assert unknown.base["flash_attention"] is True and unknown.unrepresentable is None
    assert any(a.startswith("framework 'my trainer' is not in the framework catalog: generic "
                            "profile") for a in unknown.assumptions)


def test_notes_and_source_text_set_nothing():
    # the notes rule ("DDP impl (torch)" -> overlapped gradient all-reduce) is gone: only the
    # framework cell says what the software did
    plain = spec_of(framework="Megatron-LM (2021)")
    noted = spec_of(framework="Megatron-LM (2021)", source="--overlap-grad-reduce",
                    notes="DDP impl (torch); --overlap-grad-reduce --tp-comm-overlap")
    assert noted.base == plain.base and noted.search == plain.search
    assert spec_of(framework="Megatron-LM (2021, torch DDP)").base["overlap_grad_reduce"]
    assert '"notes"' not in inspect.getsource(spec) and "'notes'" not in inspect.getsource(spec)


def test_megatron_2022_is_not_2021():
    old, new = spec_of(framework="Megatron-LM (2021)"), spec_of(framework="Megatron-LM (2022)")
    assert old.search["recompute"] == ("none", "full") and "seq_parallel" not in old.search
    assert new.search["recompute"] == SEARCH_RECOMPUTE and new.search["seq_parallel"] == \
        (False, True)
    assert new.base["tp_async_backward"] and not old.base["tp_async_backward"]


@pytest.mark.parametrize(("cell", "grad", "reduce", "optimizer", "zero"), [
    ("Megatron-LM (2021)", 2.0, 2.0, 16.0, None),
    ("Megatron-Core 0.9", 4.0, 4.0, 12.0, None),
    ("NeMo 25.11", 2.0, 2.0, 12.0, 1),
    ("torchtitan (PyTorch FSDP2, float8)", 4.0, 4.0, 12.0, 3),
    ("llm-foundry / Composer (PyTorch FSDP)", 4.0, 2.0, 12.0, 3),
    ("DeepSpeed ZeRO-2", 2.0, 2.0, 12.0, 2)])
def test_framework_profile_sets_byte_counts_and_zero_stage(cell, grad, reduce, optimizer, zero):
    base = spec_of(framework=cell).base
    assert (base["grad_bytes_per_param"], base["grad_reduce_bytes_per_param"],
            base["optimizer_bytes_per_param"]) == (grad, reduce, optimizer)
    assert base.get("zero_stage") == zero


def test_stated_precision_bytes_win_over_the_profile():
    base = spec_of(framework="Megatron-Core",
                   precision="bf16 (BF16 optimizer, fp32 grad accumulation)").base
    assert (base["grad_bytes_per_param"], base["grad_reduce_bytes_per_param"]) == (6.0, 4.0)
    assert spec_of(framework="DeepSpeed ZeRO-3", zero_stage="1").base["zero_stage"] == 1


def test_fp8_recipe_is_stated_or_from_the_profile():
    stated = spec_of(precision="float8 rowwise", framework="torchtitan")
    assert any(a.startswith("FP8 recipe rowwise (stated") for a in stated.assumptions)
    default = spec_of(precision="fp8", framework="NeMo 25.11")
    assert any(a.startswith("FP8 recipe delayed tensorwise (the NeMo profile")
               for a in default.assumptions)


@pytest.mark.parametrize(("cells", "reason"), [
    ({"precision": "quantum"}, "column 'precision': value 'quantum' not understood (expected"),
    ({"recompute": "sometimes"}, "column 'recompute': value 'sometimes' not understood"),
    ({"seq_parallel": "maybe"}, "column 'seq_parallel': value 'maybe' not understood"),
    ({"zero_stage": "7"}, "column 'zero_stage': value '7' not understood"),
    ({"activation": "swish-ish"}, "column 'activation': value 'swish-ish' not understood"),
    ({"measured_oom": "perhaps"}, "column 'measured_oom': value 'perhaps' not understood")])
def test_unreadable_free_text_leaves_the_row_not_represented(cells, reason):
    assert spec_of(**cells).unrepresentable.startswith(reason)


FREE_TEXT = [c for c in check.TEXT_COLUMNS if c != "row_id"] + list(check.SETTING_COLUMNS)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FREE_TEXT), st.one_of(st.none(), st.text()))
def test_any_text_in_a_free_text_column_is_read_or_a_reason(column, text):
    result = spec_of(**{column: text})
    assert result.unrepresentable is None or result.unrepresentable.startswith(
        (f"column {column!r}: value ", "unknown accelerator"))


def test_blank_tuning_knobs_are_searched():
    # 24 layers on 4 stages: 6 per stage, so 1, 2, 3 or 6 virtual stages
    spec = spec_of(framework="Megatron-Core")
    assert spec.search == {"micro_batch": SEARCH_MICRO_BATCH, "vpp": (1, 2, 3, 6),
                           "recompute": SEARCH_RECOMPUTE, "seq_parallel": (False, True),
                           "zero_stage": (0, 1),
                           "recompute_fraction": spec_module.SEARCH_RECOMPUTE_FRACTION}
    assert "vpp searched over [1, 2, 3, 6] (not stated)" in spec.assumptions
    assert max(spec.search["vpp"]) <= MAX_SEARCH_VPP


def test_stated_tuning_knobs_are_not_searched():
    spec = spec_of(tp="1", micro_batch="2", vpp="3", recompute="full (every layer)",
                   zero_stage="1 (distributed optimizer)")
    assert spec.search == {}
    assert spec_of(zero_stage="HSDP (hybrid shard)").base["zero_stage"] == 3
    assert any("hybrid sharding (HSDP) taken as ZeRO-3" in a
               for a in spec_of(zero_stage="HSDP").assumptions)
    assert {k: spec.base[k] for k in ("micro_batch", "vpp", "recompute", "seq_parallel",
                                      "zero_stage")} == \
        {"micro_batch": 2, "vpp": 3, "recompute": "full", "seq_parallel": False,
         "zero_stage": 1}


def test_torchtitan_takes_one_micro_batch_per_stage_when_the_run_does_not_say():
    # torchtitan's pipeline_parallel_microbatches defaults to the number of stages: a
    # data-parallel rank's 512 / 8 = 64 sequences on 4 stages are 4 micro-batches of 16
    spec = spec_of(framework="torchtitan (FSDP2)", vpp="1")
    assert spec.base["micro_batch"] == 16 and "micro_batch" not in spec.search
    assert any(a.startswith("micro_batch 16 (not stated): the TorchTitan default")
               for a in spec.assumptions)
    # a framework without that default searches it
    assert "micro_batch" in spec_of(framework="Megatron-Core", vpp="1").search
    assert spec_of(framework="torchtitan", vpp="1", micro_batch="2").base["micro_batch"] == 2


@pytest.mark.parametrize(("cell", "vpp", "micro_batch"), [
    # torchtitan's pipeline_parallel_schedule defaults to 1F1B: one stage per rank, and the
    # rank's 64 sequences in 4 micro-batches of 16
    ("torchtitan (FSDP2)", 1, 16),
    ("torchtitan (FSDP2), PP 4 (1F1B)", 1, 16),
    # a looped schedule named without a split takes 2 stages per rank: 8 micro-batches of 8
    ("torchtitan (FSDP2), PP 4 (Interleaved 1F1B)", 2, 8),
    ("torchtitan (FSDP2, LoopedBFS schedule)", 2, 8),
])
def test_torchtitan_takes_its_default_schedule_when_the_run_does_not_state_the_chunks(
        cell, vpp, micro_batch):
    spec = spec_of(framework=cell)
    assert (spec.base["vpp"], spec.base["micro_batch"]) == (vpp, micro_batch)
    assert "vpp" not in spec.search and "micro_batch" not in spec.search
    assert any(a.startswith(f"vpp {vpp} (not stated)") for a in spec.assumptions)


def test_a_stated_one_stage_schedule_is_not_interleaved_in_any_framework():
    assert spec_of(framework="Megatron-Core, 1F1B schedule").base["vpp"] == 1
    assert "vpp" not in spec_of(framework="Megatron-Core, GPipe").search
    # Megatron-Core names no default split for its interleaved schedule: searched
    assert spec_of(framework="Megatron-Core, interleaved 1F1B").search["vpp"] == (1, 2, 3, 6)
    assert spec_of(framework="torchtitan", vpp="4").base["vpp"] == 4


def test_async_tensor_parallelism_in_the_framework_cell_is_tp_overlap():
    assert spec_of(framework="torchtitan (FSDP2), async TP 8").base["tp_comm_overlap"] is True
    assert spec_of(framework="torchtitan (FSDP2), TP 8").base["tp_comm_overlap"] is False


def test_stated_cpu_offloading_is_a_share_of_the_stage_without_recomputation():
    # 24 layers on 4 stages: 3 of each stage's 6 layers offloaded
    spec = spec_of(cpu_offloading_num_layers="3")
    assert spec.base["activation_offload_fraction"] == 0.5
    assert spec.base["recompute"] == "none" and "recompute" not in spec.search
    assert spec_of(cpu_offloading_num_layers="3", recompute="full").base["recompute"] == "full"
    assert "activation_offload_fraction" not in spec_of().base


@pytest.mark.parametrize(("framework", "partial"), [
    ("Megatron-Core", True), ("Megatron-LM (2022)", True), ("torchtitan (FSDP2)", True),
    # Megatron-LM 2021 and its DeepSpeed forks recompute every layer or none
    ("Megatron-LM (PTD-P)", False), ("Megatron-DeepSpeed", False), ("DeepSpeed ZeRO-3", False),
])
def test_full_recomputation_of_some_layers_only_where_the_framework_can(framework, partial):
    spec = spec_of(framework=framework)
    assert ("recompute_fraction" in spec.search) is partial
    if not partial:
        assert spec.base.get("recompute_fraction", 1.0) == 1.0
        assert "full" in spec.search["recompute"]


def test_no_interleaving_without_the_schedule():
    # DeepSpeed ZeRO-3 of 2021 had no interleaved schedule; one stage has nothing to split
    assert spec_of(framework="DeepSpeed ZeRO-3").base["vpp"] == 1
    assert spec_of(pp="1").base["vpp"] == 1


@pytest.mark.parametrize(("zero", "framework", "reshard"), [
    ("FSDP (weights not resharded after forward)", "Meta internal", False),
    ("FSDP2 reshard_after_forward=True", "Meta internal", True),
    ("FSDP", "torchtitan (PyTorch FSDP2)", False),       # the TorchTitan profile, with PP
    ("3", "DeepSpeed ZeRO-3", True),
])
def test_zero3_with_a_stated_pipeline_shards_across_stages(zero, framework, reshard):
    s = spec_of(zero_stage=zero, framework=framework, pp="4", tp="1", n_gpus="32")
    assert s.base["zero_stage"] == 3 and s.base["sharded_pipeline"]
    kept = s.base["zero3_keep_gathered_with_pipeline"] or not s.base.get(
        "zero3_reshard_after_forward", True)
    assert kept is not reshard


def test_zero3_without_a_pipeline_keeps_the_default_resharding():
    s = spec_of(zero_stage="FSDP", framework="torchtitan", pp="1", tp="1", n_gpus="8")
    assert "zero3_reshard_after_forward" not in s.base
