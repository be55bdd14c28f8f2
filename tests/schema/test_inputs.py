"""Input checking: clear errors naming the column, row, value and what is allowed."""

from __future__ import annotations

import polars as pl
import pytest

from trainplan import InputError, evaluate

BASE = {"model": "llama2-7b", "gpu": "A100-SXM4-80GB", "n_gpus": 8, "global_batch": 64}


def frame(**changes):
    return pl.DataFrame([{**BASE, **changes}])


@pytest.mark.parametrize(("changes", "expected"), [
    ({"gpu": "A100-SXM9"}, "unknown GPU 'A100-SXM9'; known GPUs: A100-SXM4-40GB"),
    ({"model": "llama9-1t"}, "unknown model 'llama9-1t'; known models:"),
    ({"recompute": "partial"}, "column 'recompute' has value 'partial'; allowed: none, selective"),
    ({"tp": 2.5}, "column 'tp' has value 2.5; allowed: a whole number"),
    ({"tp": 0}, "column 'tp' has value 0; allowed: a number >= 1"),
    ({"zero_stage": 4}, "column 'zero_stage' has value 4; allowed: a number >= 0 and <= 3"),
    ({"precision": "int4"}, "allowed: bf16, fp16, fp8"),
    ({"seq_parallel": "maybe"}, "column 'seq_parallel' has value 'maybe'; allowed: true or false"),
    ({"micro_batch": "two"}, "column 'micro_batch' has value 'two'; allowed: a number"),
    ({"dp": 0}, "column 'dp' has value 0; allowed: a whole number >= 1"),
])
def test_bad_values_name_column_value_and_allowed(changes, expected):
    with pytest.raises(InputError, match="row 0") as err:
        evaluate(frame(**changes), where="configs.csv: ")
    assert expected in str(err.value)
    assert str(err.value).startswith("configs.csv: ")


def test_missing_required_columns():
    with pytest.raises(InputError, match="column 'gpu' is required"):
        evaluate(pl.DataFrame([{"model": "llama2-7b", "n_gpus": 8, "global_batch": 8}]))
    with pytest.raises(InputError, match="give column 'n_gpus' or 'dp'"):
        evaluate(pl.DataFrame([{"model": "llama2-7b", "gpu": "H100", "global_batch": 8}]))
    with pytest.raises(InputError, match="column 'n_layers' is required"):
        evaluate(pl.DataFrame([{"gpu": "H100", "n_gpus": 8, "global_batch": 8}]))
    with pytest.raises(InputError, match="empty"):
        evaluate(pl.DataFrame({"gpu": []}, schema={"gpu": pl.String}))


def test_catalog_aliases_and_inline_dimensions():
    out = evaluate(pl.DataFrame([
        {**BASE, "gpu": "a100 sxm4 80gb"},
        {**BASE, "model": None, "n_layers": 32, "hidden": 4096, "n_heads": 32, "n_kv_heads": 32,
         "ffn_hidden": 11008, "gated_mlp": True, "vocab": 32000, "tied_embeddings": False,
         "linear_bias": False, "position_embedding": "rope", "norm": "rmsnorm",
         "dropout": False, "seq_len": 4096},
    ]))
    assert out["gpu"].to_list() == ["A100-SXM4-80GB"] * 2
    assert out["params_total"][0] == out["params_total"][1] == 6_738_415_616


def test_user_columns_override_the_catalog_per_row():
    out = evaluate(pl.DataFrame([BASE, {**BASE, "memory_gib": 40.0},
                                 {**BASE, "scaleout_gbit_s_per_node": 100.0}]))
    assert out["memory_gib"].to_list() == [80.0, 40.0, 80.0]
    assert out["scaleout_gbit_s_per_node"].to_list() == [1600.0, 1600.0, 100.0]
    assert out["memory_usable_bytes"][1] < out["memory_usable_bytes"][0]


def test_dp_fills_the_gpus_and_non_dividing_degrees_are_labelled_not_dropped():
    out = evaluate(pl.DataFrame([{**BASE, "tp": 2}, {**BASE, "tp": 3, "n_heads": None}]))
    assert out.height == 2
    assert out["dp"][0] == 4
    assert not out["feasible"][1]
    assert "does not divide n_gpus" in out["reason"][1]


def test_unsupported_precision_is_an_infeasibility_not_an_error():
    out = evaluate(frame(precision="fp8"))          # A100 has no FP8
    assert not out["feasible"][0]
    assert "does not support this precision" in out["reason"][0]


def test_extra_columns_are_carried_through():
    out = evaluate(frame(label="mine"))
    assert out.columns[0] == "label" and out["label"][0] == "mine"
