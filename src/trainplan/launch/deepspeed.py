"""A DeepSpeed ZeRO-2/3 config and its launcher command for one configuration.

The model prices ZeRO stages 2 and 3 as DeepSpeed ZeRO; stage 1 is Megatron's
distributed optimizer and needs no DeepSpeed, so both functions return None for
stages 0 and 1, and for Megatron-Core / NeMo, whose stages 2 and 3 are Megatron-FSDP.
Key names and defaults follow DeepSpeed's ``deepspeed/runtime/zero/config.py`` and the
DeepSpeed configuration JSON documentation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trainplan.launch.config import EXPANDABLE_SEGMENTS, LaunchConfig
from trainplan.launch.megatron import INDENT

# DeepSpeed's documented defaults (deepspeed/runtime/zero/config.py).
DS_REDUCE_BUCKET_SIZE = 500_000_000
DS_STAGE3_PREFETCH_BUCKET_SIZE = 50_000_000
DS_STAGE3_PARAM_PERSISTENCE_THRESHOLD = 100_000
DS_CONFIG_FILE = "ds_config.json"
DS_ENV_FILE = ".deepspeed_env"
"""The file DeepSpeed's launcher reads from its working directory: one ``NAME=value`` per line,
exported on every node it starts ranks on."""


def _zero_section(c: LaunchConfig) -> dict[str, Any]:
    """The ``zero_optimization`` block of a DeepSpeed config."""
    section: dict[str, Any] = {"stage": c.zero_stage,
                               "overlap_comm": c.overlap_grad_reduce,
                               "contiguous_gradients": True,
                               "reduce_bucket_size": DS_REDUCE_BUCKET_SIZE}
    if c.zero_stage >= 3:
        section["stage3_prefetch_bucket_size"] = DS_STAGE3_PREFETCH_BUCKET_SIZE
        section["stage3_max_live_parameters"] = c.zero3_max_live_params
        section["stage3_param_persistence_threshold"] = DS_STAGE3_PARAM_PERSISTENCE_THRESHOLD
    return section


def _precision_section(c: LaunchConfig) -> dict[str, Any]:
    """The ``bf16`` and ``fp16`` blocks (fp8 runs on a bf16 base, FP8 itself is TE's)."""
    fp16 = c.precision == "fp16"
    half: dict[str, Any] = {"enabled": fp16}
    if fp16:
        half["loss_scale"] = 0  # dynamic loss scaling
    return {"bf16": {"enabled": not fp16}, "fp16": half}


def deepspeed_config(config: LaunchConfig) -> dict[str, Any] | None:
    """A DeepSpeed JSON config (as a dict) for ZeRO stage 2 or 3, else None.

    Parameters
    ----------
    config : LaunchConfig
        The configuration.

    Returns
    -------
    dict or None
        ``train_batch_size`` (= micro * accumulation * dp = global_batch),
        ``train_micro_batch_size_per_gpu``, ``gradient_accumulation_steps``,
        ``bf16``/``fp16``, ``zero_optimization``, ``gradient_clipping`` and,
        when anything is recomputed, ``activation_checkpointing``. None for
        ZeRO stages 0 and 1, which run on Megatron alone.
    """
    if not config.uses_deepspeed:
        return None
    micro, steps = config.micro_batch, config.grad_accumulation_steps
    result: dict[str, Any] = {"train_batch_size": micro * steps * config.dp,
                              "train_micro_batch_size_per_gpu": micro,
                              "gradient_accumulation_steps": steps,
                              "gradient_clipping": 1.0,
                              "zero_optimization": _zero_section(config),
                              **_precision_section(config)}
    if config.recompute != "none":
        result["activation_checkpointing"] = {"partition_activations": False,
                                              "contiguous_memory_optimization": False,
                                              "cpu_checkpointing": False,
                                              "synchronize_checkpoint_boundary": False}
    return result


def deepspeed_command(config: LaunchConfig) -> str | None:
    """A ``deepspeed`` launcher command for ZeRO stage 2 or 3, else None (after the
    :attr:`~trainplan.launch.config.LaunchConfig.allocator_env` lines, which
    :func:`deepspeed_env` carries to the other nodes).

    Parameters
    ----------
    config : LaunchConfig
        The configuration.

    Returns
    -------
    str or None
        ``deepspeed [--hostfile=hostfile] --num_nodes=N --num_gpus=G train.py
        --deepspeed --deepspeed_config ds_config.json`` (the hostfile only for
        more than one node), split over two lines.
    """
    if not config.uses_deepspeed:
        return None
    hostfile = "--hostfile=hostfile " if config.n_nodes > 1 else ""
    env = "".join(line + "\n" for line in config.allocator_env)
    return env + (f"deepspeed {hostfile}--num_nodes={config.n_nodes} "
            f"--num_gpus={config.procs_per_node} \\\n"
            f"{INDENT}train.py --deepspeed --deepspeed_config {DS_CONFIG_FILE}\n")


def deepspeed_env(config: LaunchConfig) -> str | None:
    """The :data:`DS_ENV_FILE` of a DeepSpeed launch whose plan assumes expandable segments
    (``PYTORCH_CUDA_ALLOC_CONF`` = :data:`~trainplan.launch.config.EXPANDABLE_SEGMENTS`; the
    launcher does not pass that variable to remote nodes by itself), else None."""
    if not config.uses_deepspeed or not config.allocator_env:
        return None
    return f"PYTORCH_CUDA_ALLOC_CONF={EXPANDABLE_SEGMENTS}\n"


def config_json(config: Mapping[str, Any]) -> str:
    """Stable JSON text of a DeepSpeed config: sorted keys, two-space indent.

    Parameters
    ----------
    config : Mapping[str, Any]
        The config dict (as :func:`deepspeed_config` returns it).

    Returns
    -------
    str
        The JSON text, ending with a newline.
    """
    return json.dumps(config, sort_keys=True, indent=2) + "\n"
