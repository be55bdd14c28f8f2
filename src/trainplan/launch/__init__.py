"""Launch material for one configuration: a Megatron-LM ``torchrun`` command, a DeepSpeed
config, a TorchTitan TOML.

A row of the results table says *what* to run (model shape, parallel degrees,
micro-batch, ZeRO stage, recomputation, overlaps); this package writes it down
*as something to run*:

:mod:`~trainplan.launch.config`
    :class:`LaunchConfig`: the row parsed and checked once.
:mod:`~trainplan.launch.megatron`
    ``torchrun ... pretrain_gpt.py`` with Megatron-LM / Megatron-Core arguments.
:mod:`~trainplan.launch.deepspeed`
    the DeepSpeed config and launcher for ZeRO stages 2 and 3, which the model
    prices as DeepSpeed ZeRO (stage 1 is Megatron's distributed optimizer; under
    Megatron-Core or NeMo, stages 2 and 3 are Megatron-FSDP flags instead).
:mod:`~trainplan.launch.torchtitan`
    the TorchTitan job config (TOML) and launcher, for configurations whose framework is
    TorchTitan.
:mod:`~trainplan.launch.notes`
    what the model assumed that no flag can say.
:func:`launch_material`
    all of the above for one row.

Every function is pure: the same configuration gives the same text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainplan.launch.config import LaunchConfig
from trainplan.launch.deepspeed import (
    config_json,
    deepspeed_command,
    deepspeed_config,
    deepspeed_env,
)
from trainplan.launch.megatron import megatron_args, megatron_command, padded_vocab
from trainplan.launch.notes import launch_notes
from trainplan.launch.torchtitan import torchtitan_command, torchtitan_toml

__all__ = ["LaunchConfig", "config_json", "deepspeed_command", "deepspeed_config", "deepspeed_env",
           "launch_material", "launch_notes", "megatron_args", "megatron_command",
           "padded_vocab", "torchtitan_command", "torchtitan_toml"]


def launch_material(row: Mapping[str, Any] | LaunchConfig) -> dict[str, Any]:
    """Everything needed to launch one configuration.

    Parameters
    ----------
    row : Mapping[str, Any] or LaunchConfig
        A row of the results table (parsed with :meth:`LaunchConfig.from_row`) or
        an already parsed configuration.

    Returns
    -------
    dict
        ``torchrun`` (str), ``deepspeed_config`` (pretty JSON with sorted keys, or
        None), ``deepspeed`` and ``deepspeed_env`` (str or None), ``torchtitan_toml`` and
        ``torchtitan`` (str, or None unless the framework is TorchTitan) and ``notes``
        (list of str).

    Raises
    ------
    trainplan.InputError
        The row is missing a value, has a bad one, or a batch Megatron would refuse.
    """
    config = row if isinstance(row, LaunchConfig) else LaunchConfig.from_row(row)
    ds_config = deepspeed_config(config)
    titan = config.is_torchtitan
    return {"torchrun": megatron_command(config),
            "deepspeed_config": None if ds_config is None else config_json(ds_config),
            "deepspeed": deepspeed_command(config),
            "deepspeed_env": deepspeed_env(config),
            "torchtitan_toml": torchtitan_toml(config) if titan else None,
            "torchtitan": torchtitan_command(config) if titan else None,
            "notes": launch_notes(config)}
