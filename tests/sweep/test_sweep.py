"""Sweep files: every kind of mistake is caught with the file, the key and what is allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import TEST_SWEEPS

from trainplan.schema.inputs import InputError
from trainplan.sweep.file import SweepError, load_sweep
from trainplan.sweep.grid import Grid
from trainplan.sweep.schema import schema_text

ROOT = Path(__file__).resolve().parents[2]
TINY = TEST_SWEEPS / "tiny.yaml"

GOOD = yaml.safe_load(TINY.read_text())

BAD = [
    ("unknown top-level key", {"colour": "red"}, "(top level): unknown key 'colour'"),
    ("unknown key in a section", {"parallel": {"tensor_parallel": 2}},
     "parallel: unknown key 'tensor_parallel'; allowed keys: activation_offload_fraction, cp, dp"),
    ("wrong type", {"parallel": {"tp": "eight"}},
     "parallel.tp: value 'eight' is not allowed; allowed: an integer >= 1"),
    ("value out of range", {"parallel": {"zero_stage": [1, 5]}},
     "parallel.zero_stage[1]: value 5"),
    ("bad choice", {"parallel": {"recompute": ["all"]}},
     "parallel.recompute[0]: value 'all' is not allowed; allowed: none, selective, full"),
    ("unknown GPU", {"hardware": {"gpu": "RTX-9090", "n_gpus": 8}},
     "hardware.gpu: unknown GPU 'RTX-9090'; known GPUs: A100-SXM4-40GB"),
    ("unknown model", {"model": "gpt-5"}, "model: unknown model 'gpt-5'; known models:"),
    ("empty list", {"parallel": {"tp": []}}, "parallel.tp"),
    ("grid above the cap", {"max_grid_size": 100}, "the grid has 1,944 configurations"),
    ("missing required section", {"job": None}, "job"),
    ("both batch forms", {"job": {"global_batch": 8, "global_batch_tokens": 16384,
                                   "seq_len": 2048}}, "give global_batch (sequences) or"),
    ("bad range", {"hardware": {"gpu": "H100", "n_gpus": {"from": 8, "to": 64}}},
     "hardware.n_gpus"),
    ("scenario axis not varied", {"scenario": ["gpu"]}, "scenario: 'gpu' is not a varied input"),
    ("inline model lacking fields", {"model": {"name": "mine", "n_layers": 4}},
     "inline model 'mine' lacks hidden"),
    ("repeated values", {"parallel": {"tp": [1, 2, 2]}}, "parallel.tp: values repeat"),
    ("answer axis not a scenario axis", {"answer_axes": ["tp"]},
     "answer_axes: 'tp' is not a scenario axis of this sweep; scenario axes: model, n_gpus"),
    ("reference not in the grid", {"reference": {"n_gpus": 64}},
     "reference.n_gpus: 64 is not a value of a varied input; allowed: 8, 16, 32"),
]


def write(tmp_path: Path, changes: dict) -> Path:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in GOOD.items()}
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        elif isinstance(value, dict) and isinstance(data.get(key), dict) and key != "model":
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("kind", "changes", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_sweeps_are_refused_with_file_key_and_allowed(tmp_path, kind, changes, message):
    path = write(tmp_path, changes)
    with pytest.raises((SweepError, InputError)) as err:
        Grid(load_sweep(path))
    assert str(err.value).startswith(str(path)), err.value
    assert message in str(err.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("title: x\nmodel: [llama2-7b\nhardware: {}\n")
    with pytest.raises(SweepError, match=r"broken.yaml: not valid YAML \(line"):
        load_sweep(path)


def test_check_command_exits_2_with_one_line_and_no_traceback(tmp_path):
    path = write(tmp_path, {"parallel": {"tp": [1, 3.5]}})
    proc = subprocess.run([sys.executable, "-m", "trainplan.cli", "check", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"trainplan: error: {path}: parallel.tp[1]")
    assert "Traceback" not in proc.stderr


def test_good_sweep_axes_ranges_and_numbers():
    sweep = load_sweep(TINY)
    assert sweep.size == 1944
    assert [a.name for a in sweep.axes][:2] == ["model", "n_gpus"]
    assert sweep.scenario == ["model", "n_gpus"]
    assert sweep.constants["tokens_budget"] == 1.0e11       # YAML 1.2 float "1.0e11"


def test_reference_picks_the_headline_scenario(tmp_path):
    import polars as pl

    from trainplan import analysis
    from trainplan.sweep import combine, shard

    path = write(tmp_path, {"reference": {"n_gpus": 8, "model": "llama2-13b"}})
    shard.run_shard(path, 0, tmp_path / "s.parquet", None)
    combine.combine_dir([tmp_path / "s.parquet"], tmp_path)
    best = pl.read_parquet(tmp_path / "best.parquet")
    sid = analysis.choose_reference(best, load_sweep(path))
    row = best.filter(pl.col("scenario_id") == sid).row(0, named=True)
    assert (row["n_gpus"], row["model"]) == (8, "llama2-13b")


def test_ranges_expand_inclusively(tmp_path):
    path = write(tmp_path, {"hardware": {"gpu": "H100", "n_gpus": {"from": 64, "to": 1024,
                                                                     "times": 2}}})
    assert load_sweep(path).axis("n_gpus").values == [64, 128, 256, 512, 1024]


SHIPPED = sorted((ROOT / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_sweeps_resolve_to_a_grid_of_their_declared_size(path):
    sweep = load_sweep(path)
    grid = Grid(sweep)
    assert grid.size == sweep.size > 1
    assert grid.shape == tuple(len(a.values) for a in sweep.axes)
    for name, array in grid.values.items():          # every input broadcasts to the grid
        assert np.broadcast_shapes(np.shape(array), grid.shape) == grid.shape, name
    assert set(sweep.scenario) <= set(grid.names)


def test_the_nine_sweeps_are_shipped():
    assert [p.stem for p in SHIPPED] == [
        "billion_layout_search", "deepseek_v3", "exhaustive_search_all",
        "exhaustive_search_best", "gpu_generations", "llama3_h100_scaling",
        "network_sensitivity", "original_study", "qwen3_moe"]


def test_checked_in_schema_is_generated_from_the_inputs():
    assert (ROOT / "workflow" / "schemas" / "sweep.schema.yaml").read_text() == schema_text()
