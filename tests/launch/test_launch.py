"""launch_material: the four pieces of launch material for one row."""

from __future__ import annotations

import json

import pytest

from trainplan.launch import LaunchConfig, launch_material


def test_shape(llama_row):
    material = launch_material(llama_row)
    assert set(material) == {"torchrun", "deepspeed_config", "deepspeed", "deepspeed_env",
                             "torchtitan_toml", "torchtitan", "notes"}
    assert material["torchrun"].startswith("# llama3-70b")
    assert material["deepspeed_config"] is None and material["deepspeed"] is None
    assert material["deepspeed_env"] is None
    assert all(isinstance(note, str) for note in material["notes"])


def test_deepspeed_pieces(zero3_row):
    material = launch_material(zero3_row)
    assert json.loads(material["deepspeed_config"])["zero_optimization"]["stage"] == 3
    assert material["deepspeed"].startswith("deepspeed --hostfile=hostfile")


def test_stable(zero3_row, llama_row):
    assert launch_material(zero3_row) == launch_material(dict(reversed(list(zero3_row.items()))))
    assert launch_material(llama_row) == launch_material(LaunchConfig.from_row(llama_row))


def test_bad_row_raises(llama_row):
    with pytest.raises(ValueError, match="global_batch"):
        launch_material({**llama_row, "global_batch": 511.0})
