"""The framework input fills its profile's flags and byte counts; a given value wins."""

from __future__ import annotations

import polars as pl
import pytest

from trainplan import InputError, evaluate

ROW = {"model": "llama3-8b", "gpu": "H100-SXM5-80GB", "n_gpus": 8, "global_batch": 64,
       "micro_batch": 1, "zero_stage": 3}


def _one(**changes):
    return evaluate(pl.DataFrame([{**ROW, **changes}])).row(0, named=True)


def test_a_framework_sets_its_profile_by_exact_name_or_alias():
    titan = _one(framework="torchtitan")
    assert titan["framework"] == "TorchTitan"
    assert titan["portable_attention"] and titan["sharded_pipeline"]
    assert titan["grad_reduce_bytes_per_param"] == 4.0
    assert _one(framework="Megatron-Core")["grad_bytes_per_param"] == 4.0
    plain = _one()
    assert plain["framework"] == "" and not plain["portable_attention"]
    assert plain["grad_bytes_per_param"] == 2.0


def test_a_value_the_configuration_gives_wins_over_the_profile():
    assert _one(framework="torchtitan", grad_reduce_bytes_per_param=2.0)[
        "grad_reduce_bytes_per_param"] == 2.0


def test_an_unknown_framework_names_the_known_ones():
    with pytest.raises(InputError, match=r"column 'framework'.*known frameworks: .*TorchTitan"):
        _one(framework="Megatron-LM 1999")


# Nemotron-4 340B (arXiv:2406.11704) as NeMo 24.07's performance table ran it: 128 H100,
# tp 8, pp 8, vpp 12, GBS 32, FP8, sequence parallel, the distributed optimizer and no
# recomputation (NVIDIA/NeMo docs/source/performance/performance_summary.md, 678 TFLOP/s/GPU)
NEMOTRON_340B_AS_RUN = {
    "n_layers": 96, "hidden": 18432, "n_heads": 96, "n_kv_heads": 8, "ffn_hidden": 73728,
    "vocab": 256000, "gated_mlp": False, "tied_embeddings": False,
    "linear_bias": False, "position_embedding": "rope", "norm": "layernorm", "dropout": False,
    "seq_len": 4096, "gpu": "H100-SXM5-80GB",
    "n_gpus": 128, "tp": 8, "pp": 8, "vpp": 12, "micro_batch": 1, "global_batch": 32,
    "precision": "fp8", "seq_parallel": True, "zero_stage": 1, "recompute": "none"}


def test_expandable_segments_let_a_run_fit_that_the_caching_allocator_reserve_rejects():
    """The NeMo profile runs PyTorch's allocator with expandable segments (3 % reserve): the
    stage NeMo trained needs about 73 GiB of the H100's 79.6 GiB, inside the 76.3 GiB the
    profile leaves and outside the 70.7 GiB of the caching allocator's 10 % reserve."""
    nemo = evaluate(pl.DataFrame([{**NEMOTRON_340B_AS_RUN, "framework": "NeMo"}])).row(
        0, named=True)
    need = nemo["memory_total_bytes"] / 2**30
    assert 72.0 < need < 76.0
    assert nemo["memory_reserve_fraction"] == 0.03 and nemo["fits_memory"]
    caching = evaluate(pl.DataFrame([{**NEMOTRON_340B_AS_RUN, "framework": "NeMo",
                                      "memory_reserve_fraction": 0.10}])).row(0, named=True)
    assert not caching["fits_memory"]
    assert _one(framework="Megatron-Core")["memory_reserve_fraction"] == 0.10
    assert _one(framework="torchtitan")["memory_reserve_fraction"] == 0.03
