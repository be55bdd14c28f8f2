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
