"""LaunchConfig.from_row: one parse of a row, defaults from the input table, clear errors."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

from trainplan import InputError
from trainplan.launch import LaunchConfig
from trainplan.schema.inputs import INPUT_BY_NAME

INT_FIELDS = [f.name for f in dataclasses.fields(LaunchConfig) if f.type == "int"]


def test_whole_floats_ints_and_numpy_agree(llama_row, llama):
    as_ints = {k: int(v) if k in INT_FIELDS else v for k, v in llama_row.items()}
    as_numpy = {k: np.int64(v) if k in INT_FIELDS else v for k, v in as_ints.items()}
    assert LaunchConfig.from_row(as_ints) == llama == LaunchConfig.from_row(as_numpy)
    for name in INT_FIELDS:
        assert type(getattr(llama, name)) is int, name
    assert (llama.tp, llama.pp, llama.dp, llama.vpp, llama.n_layers) == (8, 4, 2, 2, 80)


def test_flags_and_words(llama_row):
    config = LaunchConfig.from_row({**llama_row, "seq_parallel": np.bool_(False),
                                    "dropout": 1.0, "precision": " BF16 ", "norm": "RMSNorm"})
    assert config.seq_parallel is False and config.dropout is True
    assert (config.precision, config.norm) == ("bf16", "rmsnorm")


@pytest.mark.parametrize("name", ["cp", "vpp", "zero_stage", "precision", "recompute",
                                  "schedule", "seq_parallel", "flash_attention",
                                  "overlap_grad_reduce", "overlap_param_gather",
                                  "tp_comm_overlap", "zero3_max_live_params"])
@pytest.mark.parametrize("blank", ["missing", None, math.nan])
def test_blank_takes_the_input_table_default(llama_row, name, blank):
    row = {k: v for k, v in llama_row.items() if k != name}
    if blank != "missing":
        row[name] = blank
    default = INPUT_BY_NAME[name].default
    assert default is not None
    assert getattr(LaunchConfig.from_row(row), name) == default


def test_blank_defaults_that_differ_from_a_false_or_zero(llama_row):
    # the model resolves a blank zero_stage to the distributed optimizer and a blank
    # seq_parallel to on; the launch material must describe the same run
    row = {k: v for k, v in llama_row.items() if k not in ("zero_stage", "seq_parallel")}
    config = LaunchConfig.from_row(row)
    assert config.zero_stage == 1 and config.seq_parallel is True


def test_blank_kv_heads_is_multi_head(llama_row):
    row = {k: v for k, v in llama_row.items() if k != "n_kv_heads"}
    assert LaunchConfig.from_row(row).n_kv_heads == 64


@pytest.mark.parametrize("budget", [math.nan, None, math.inf])
def test_no_finite_budget(llama_row, budget):
    config = LaunchConfig.from_row({**llama_row, "tokens_budget": budget})
    assert config.tokens_budget is None and config.train_iters is None


def test_derived_quantities(llama, zero3, llama_row):
    assert (llama.n_nodes, llama.procs_per_node) == (8, 8)
    assert (zero3.n_nodes, zero3.procs_per_node) == (2, 8)  # 12 GPUs, 8 per node
    small = LaunchConfig.from_row({**llama_row, "n_gpus": 4.0})
    assert (small.n_nodes, small.procs_per_node) == (1, 4)
    big = LaunchConfig.from_row({**llama_row, "n_gpus": 1024.0, "gpus_per_node": 4.0})
    assert (big.n_nodes, big.procs_per_node) == (256, 4)
    assert zero3.grad_accumulation_steps == 4  # 96 / (12 * 2)
    # 15e12 tokens / (512 * 8192 tokens per step) = 3576278.6 -> 3576279
    assert llama.train_iters == 3576279
    exact = LaunchConfig.from_row({**llama_row, "tokens_budget": 512 * 8192 * 10.0})
    assert exact.train_iters == 10
    assert not llama.uses_deepspeed and zero3.uses_deepspeed


def test_auto_schedule(llama_row):
    auto = LaunchConfig.from_row({**llama_row, "schedule": "auto"})
    assert auto.schedule == "auto" and auto.pipeline_schedule == "interleaved"
    flat = LaunchConfig.from_row({**llama_row, "schedule": "auto", "vpp": 1.0})
    assert flat.pipeline_schedule == "1f1b"


@pytest.mark.parametrize(("key", "value", "message"), [
    ("tp", 7.5, "tp = 7.5 is not a whole number"),
    ("tp", "8", "tp = '8' is not a number"),
    ("tp", True, "tp = True is not a number"),
    ("dp", 0.0, "dp = 0 is below its minimum 1"),
    ("zero_stage", 4.0, "zero_stage = 4 is above its maximum 3"),
    ("seq_parallel", "yes", "seq_parallel = 'yes' is not a boolean"),
    ("seq_parallel", 2.0, "seq_parallel = 2.0 is not a boolean"),
    ("precision", "fp4", "precision = 'fp4' is not one of bf16, fp16, fp8"),
    ("norm", 3, "norm = 3 is not a word"),
    ("tokens_budget", -1.0, "tokens_budget = -1.0 is below its minimum 0"),
    ("global_batch", 511.0, "global_batch = 511 is not divisible by dp * micro_batch = 2"),
])
def test_bad_value_names_the_key(llama_row, key, value, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        LaunchConfig.from_row({**llama_row, key: value})
    assert isinstance(error.value, InputError)


@pytest.mark.parametrize("key", ["n_layers", "vocab", "dp", "gated_mlp", "norm"])
def test_required_value_missing(llama_row, key):
    row = {k: v for k, v in llama_row.items() if k != key}
    with pytest.raises(InputError, match=f"no value for '{key}'"):
        LaunchConfig.from_row(row)


def test_frozen(llama):
    with pytest.raises(dataclasses.FrozenInstanceError):
        llama.tp = 2
