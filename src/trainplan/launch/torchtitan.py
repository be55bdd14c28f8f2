"""A TorchTitan job config (TOML) and its launcher command for one configuration.

Key names follow TorchTitan's ``train_configs/*.toml`` (``[training]``, ``[parallelism]``,
``[activation_checkpoint]``, ``[float8]``; pytorch/torchtitan, 2025): data-parallel
sharding is FSDP2 (``data_parallel_shard_degree``), replication across shard groups
``data_parallel_replicate_degree``. The model prices ZeRO-3 as FSDP; ZeRO stages 0-2 have no
TorchTitan equivalent and are written as full sharding with a note.
"""

from __future__ import annotations

from trainplan.launch.config import LaunchConfig

TOML_FILE = "trainplan.toml"
RDZV_PORT = 29500


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)


def _section(name: str, items: dict[str, object]) -> list[str]:
    return [f"[{name}]", *(f"{k} = {_value(v)}" for k, v in items.items()), ""]


def fsdp_layout(c: LaunchConfig) -> tuple[int, int, str]:
    """TorchTitan's data-parallel settings for the ZeRO stage the model priced.

    Returns
    -------
    (int, int, str)
        ``data_parallel_replicate_degree``, ``data_parallel_shard_degree`` and
        ``fsdp_reshard_after_forward``: ZeRO-0 is plain replication (``dp``, 1) when there
        is no other parallelism (TorchTitan runs DDP only alone), else FSDP2 with ``never``,
        which needs less memory than the replicas the model priced; ZeRO-3 with
        resharding is FSDP2's ``default`` (reshards after the forward unless pipelining,
        as the model assumes for TorchTitan); ZeRO-3 without it, and ZeRO-1/2, are FSDP2 with
        ``never``: the gathered 16-bit weights stay from the forward to the backward, with
        the gradients and optimizer states sharded, which needs no more memory than ZeRO-1
        or 2 (TorchTitan has no separate optimizer-only sharding).
    """
    if c.dp == 1 or (c.zero_stage == 0 and c.tp * c.pp * c.cp == 1):
        # plain replication (DDP), which TorchTitan only runs without other parallelism
        return c.dp, 1, "default"
    if c.zero_stage == 3 and c.zero3_reshard_after_forward:
        return 1, c.dp, "default"
    return 1, c.dp, "never"


def _stage_split(c: LaunchConfig) -> dict[str, object]:
    """TorchTitan's stage settings for the split the model assumed: layers per virtual
    stage with interleaving, and how many fewer layers the first and last stage hold
    (:meth:`~trainplan.launch.config.LaunchConfig.stage_split`; TorchTitan's default is one
    fewer each)."""
    first, middle, last = c.stage_split()
    split: dict[str, object] = {"pipeline_parallel_first_stage_less_layers": middle - first,
                                "pipeline_parallel_last_stage_less_layers": middle - last}
    if c.vpp > 1 and c.n_layers % (c.pp * c.vpp) == 0:
        split["pipeline_parallel_layers_per_stage"] = c.n_layers // (c.pp * c.vpp)
    return split


def torchtitan_toml(c: LaunchConfig) -> str:
    """The TOML job config of ``c`` (shape comments first: TorchTitan takes the model shape
    from its ``flavor``, so the comment states the shape the model assumed).

    Parameters
    ----------
    c : LaunchConfig
        The configuration.

    Returns
    -------
    str
        TOML text.
    """
    header = [f"# {c.model or 'model'} on {c.n_gpus} x {c.gpu or 'GPU'}: tp={c.tp} pp={c.pp} "
              f"cp={c.cp} dp={c.dp} (FSDP2 shard) vpp={c.vpp}",
              f"# shape the plan assumed: {c.n_layers} layers, hidden {c.hidden}, "
              f"{c.n_heads} heads ({c.n_kv_heads} kv), ffn {c.ffn_hidden}, vocab {c.vocab}; "
              "pick the flavor with this shape", ""]
    # with a pipeline TorchTitan splits the local batch into micro-batches of
    # pipeline_parallel_microbatch_size: the local batch is the step's whole share
    local = c.global_batch // c.dp if c.pp > 1 else c.micro_batch
    training: dict[str, object] = {"local_batch_size": local,
                                   "global_batch_size": c.global_batch,
                                   "seq_len": c.seq_len,
                                   "mixed_precision_param": "bfloat16",
                                   "mixed_precision_reduce": "float32"}
    if c.train_iters is not None:
        training["steps"] = c.train_iters
    replicate, shard, reshard = fsdp_layout(c)
    parallelism: dict[str, object] = {
        "data_parallel_replicate_degree": replicate,
        "data_parallel_shard_degree": shard,
        "fsdp_reshard_after_forward": reshard,
        "tensor_parallel_degree": c.tp,
        "enable_async_tensor_parallel": c.tp > 1 and c.tp_comm_overlap,
        "pipeline_parallel_degree": c.pp,
        "context_parallel_degree": c.cp,
    }
    if c.pp > 1:
        parallelism["pipeline_parallel_schedule"] = "Interleaved1F1B" if c.vpp > 1 else "1F1B"
        parallelism["pipeline_parallel_microbatch_size"] = c.micro_batch
        parallelism.update(_stage_split(c))
    lines = [*header,
             *_section("model", {"name": "llama3", "converters": ["float8"]}
                       if c.precision == "fp8" else {"name": "llama3"}),
             *_section("training", training),
             *_section("parallelism", parallelism),
             *_section("activation_checkpoint",
                       {"mode": c.recompute, "selective_ac_option": "op"}
                       if c.recompute == "selective" else {"mode": c.recompute}),
             *_section("compile", {"enable": True})]
    if c.precision == "fp8":
        float8: dict[str, object] = {
            "enable_fsdp_float8_all_gather": c.fp8_param_gather,
            "precompute_float8_dynamic_scale_for_fsdp": c.fp8_param_gather}
        if c.fp8_recipe == "rowwise":
            float8["recipe_name"] = "rowwise"
        lines += _section("float8", float8)
    return "\n".join(lines).rstrip("\n") + "\n"


def torchtitan_command(c: LaunchConfig) -> str:
    """``torchrun ... -m torchtitan.train --job.config_file trainplan.toml``, after the
    :attr:`~trainplan.launch.config.LaunchConfig.allocator_env` lines."""
    env = "".join(line + "\n" for line in c.allocator_env)
    return env + (f"torchrun --nnodes={c.n_nodes} --nproc-per-node={c.procs_per_node} \\\n"
                  f"    --rdzv-backend=c10d --rdzv-endpoint=$MASTER_ADDR:{RDZV_PORT} \\\n"
                  f"    -m torchtitan.train --job.config_file {TOML_FILE}\n")
