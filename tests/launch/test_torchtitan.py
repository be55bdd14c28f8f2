"""The TorchTitan job config: valid TOML whose degrees and batch are the configuration's."""

from __future__ import annotations

import tomllib

import polars as pl
import pytest

from trainplan import evaluate
from trainplan.launch import launch_material


def _row(**changes):
    row = {"model": "llama3-70b", "gpu": "H100-SXM5-80GB", "n_gpus": 128, "tp": 8, "pp": 2,
           "global_batch": 64, "micro_batch": 1, "zero_stage": 3, "framework": "torchtitan",
           "precision": "fp8", "recompute": "full", "tokens_budget": 1e9, **changes}
    return evaluate(pl.DataFrame([row])).row(0, named=True)


def test_the_toml_parses_and_states_the_layout():
    r = _row()
    assert r["feasible"], r["reason"]
    material = launch_material(r)
    config = tomllib.loads(material["torchtitan_toml"])
    p = config["parallelism"]
    assert (p["tensor_parallel_degree"], p["pipeline_parallel_degree"],
            p["context_parallel_degree"], p["data_parallel_shard_degree"]) == (8, 2, 1, 8)
    assert p["tensor_parallel_degree"] * p["pipeline_parallel_degree"] * \
        p["data_parallel_shard_degree"] == r["n_gpus"]
    t = config["training"]
    # pp > 1: the local batch is split into micro-batches of pipeline_parallel_microbatch_size
    assert (t["local_batch_size"], t["global_batch_size"], t["seq_len"]) == (8, 64, 8192)
    assert p["pipeline_parallel_microbatch_size"] == 1
    assert t["mixed_precision_reduce"] == "float32"     # TorchTitan's 4 reduce bytes
    assert config["model"]["converters"] == ["float8"]
    assert config["activation_checkpoint"]["mode"] == "full"
    assert "torchtitan.train --job.config_file trainplan.toml" in material["torchtitan"]


@pytest.mark.parametrize("framework", ["Megatron-Core", ""])
def test_other_frameworks_get_no_toml(framework):
    material = launch_material(_row(framework=framework, pp=1, n_gpus=64))
    assert material["torchtitan_toml"] is None and material["torchtitan"] is None


def test_fp8_recipe_and_parameter_gather_reach_the_commands():
    r = _row(fp8_recipe="current", fp8_param_gather=True)
    material = launch_material(r)
    assert "--fp8-recipe tensorwise" in material["torchrun"]
    assert "--fp8-param-gather" not in material["torchrun"]      # needs ZeRO-1 in Megatron
    assert "--fp8-param-gather" in launch_material(_row(
        fp8_param_gather=True, zero_stage=1, framework="Megatron-Core"))["torchrun"]
    assert tomllib.loads(material["torchtitan_toml"])["float8"][
        "enable_fsdp_float8_all_gather"] is True
    rowwise = launch_material(_row(fp8_recipe="rowwise"))
    assert tomllib.loads(rowwise["torchtitan_toml"])["float8"]["recipe_name"] == "rowwise"
    # Megatron-Core has no rowwise recipe: its command says so in a note
    megatron = launch_material(_row(fp8_recipe="rowwise", framework="Megatron-Core",
                                    zero_stage=1))
    assert any("rowwise" in note for note in megatron["notes"])


def test_partial_full_recomputation_becomes_megatron_block_recompute():
    r = _row(framework="Megatron-Core", zero_stage=1, recompute_fraction=0.5, pp=2, n_gpus=128)
    assert r["feasible"], r["reason"]
    torchrun = launch_material(r)["torchrun"]
    # 80 layers on 2 stages: block-recompute 20 of each stage's 40
    assert "--recompute-method block" in torchrun and "--recompute-num-layers 20" in torchrun
    full = launch_material(_row(framework="Megatron-Core", zero_stage=1, pp=2))["torchrun"]
    assert "--recompute-method uniform" in full


def test_partial_recomputation_trades_memory_for_time():
    half, whole = _row(recompute_fraction=0.5), _row(recompute_fraction=1.0)
    none = _row(recompute="none")
    assert whole["memory_activations_bytes"] < half["memory_activations_bytes"] < \
        none["memory_activations_bytes"]
    assert none["step_time_s"] < half["step_time_s"] < whole["step_time_s"]


def test_a_plan_that_needs_expandable_segments_exports_them():
    """TorchTitan's profile keeps 3 % free (its run_train.sh sets expandable segments): the
    command sets them too; with the caching allocator's 10 % it leaves the allocator alone."""
    titan = launch_material(_row())
    assert ('export PYTORCH_CUDA_ALLOC_CONF="${PYTORCH_CUDA_ALLOC_CONF:+'
            '$PYTORCH_CUDA_ALLOC_CONF,}expandable_segments:True"\ntorchrun') in titan["torchtitan"]
    assert "expandable_segments" in titan["torchrun"]
    caching = launch_material(_row(memory_reserve_fraction=0.1))
    assert "expandable_segments" not in caching["torchtitan"] + caching["torchrun"]
