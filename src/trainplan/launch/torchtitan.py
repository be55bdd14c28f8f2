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
                                   "mixed_precision_reduce":
                                       "float32" if c.grad_reduce_bytes_per_param >= 4
                                       else "bfloat16"}
    if c.train_iters is not None:
        training["steps"] = c.train_iters
    parallelism: dict[str, object] = {
        "data_parallel_replicate_degree": 1,
        "data_parallel_shard_degree": c.dp,
        "fsdp_reshard_after_forward": "default",   # reshards unless pipelining, as modelled
        "tensor_parallel_degree": c.tp,
        "enable_async_tensor_parallel": c.tp > 1 and c.tp_comm_overlap,
        "pipeline_parallel_degree": c.pp,
        "context_parallel_degree": c.cp,
    }
    if c.pp > 1:
        parallelism["pipeline_parallel_schedule"] = "Interleaved1F1B" if c.vpp > 1 else "1F1B"
        parallelism["pipeline_parallel_microbatch_size"] = c.micro_batch
    lines = [*header,
             *_section("model", {"name": "llama3", "converters": ["float8"]}
                       if c.precision == "fp8" else {"name": "llama3"}),
             *_section("training", training),
             *_section("parallelism", parallelism),
             *_section("activation_checkpoint", {"mode": c.recompute}),
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
    """``torchrun ... -m torchtitan.train --job.config_file trainplan.toml``."""
    return (f"torchrun --nnodes={c.n_nodes} --nproc-per-node={c.procs_per_node} \\\n"
            f"    --rdzv-backend=c10d --rdzv-endpoint=$MASTER_ADDR:{RDZV_PORT} \\\n"
            f"    -m torchtitan.train --job.config_file {TOML_FILE}\n")
