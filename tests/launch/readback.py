"""Launch material read back into model inputs, written independently of trainplan.launch.

What a framework would do with the printed flags, DeepSpeed config or TorchTitan TOML,
stated as the model's inputs: parallel degrees, batch, ZeRO stage, recomputation, precision
and the gradient bytes the framework keeps and reduces with those flags.
"""

from __future__ import annotations

import json
import math
import shlex
import tomllib

# Megatron-LM with bf16 keeps an fp32 main-gradient buffer and reduces it in fp32 unless
# --grad-reduce-in-bf16; with fp16 it keeps fp16 gradients unless
# --accumulate-allreduce-grads-in-fp32 (megatron/training/arguments.py).
MEGATRON_FP8_RECIPE = {"delayed": "delayed", "tensorwise": "current", "mxfp8": "mxfp8"}


def _flags(script: str) -> dict[str, str | bool]:
    """``--name value`` (several words joined by spaces, as ``--recompute-modules`` takes) and
    bare ``--name`` of the ``pretrain_gpt.py`` command."""
    text = script.replace("\\\n", " ")
    command = next(line for line in text.splitlines() if line.startswith("torchrun"))
    words = shlex.split(command, posix=True)
    out: dict[str, str | bool] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if w.startswith("--") and "=" not in w:
            j = i + 1
            while j < len(words) and not words[j].startswith(("--", "$")):
                j += 1
            out[w[2:]] = " ".join(words[i + 1:j]) if j > i + 1 else True
            i = j
            continue
        i += 1
    return out


def _megatron_zero_stage(f: dict) -> int:
    """The ZeRO stage Megatron's flags give: the distributed optimizer shards optimizer
    states (1); Megatron-FSDP's sharding strategy names what else it shards."""
    if "use-megatron-fsdp" in f:
        return {"optim": 1, "optim_grads": 2, "optim_grads_params": 3}[
            str(f["data-parallel-sharding-strategy"])]
    return 1 if "use-distributed-optimizer" in f else 0


def megatron_inputs(script: str) -> dict:
    """The model inputs that ``pretrain_gpt.py`` with ``script``'s flags trains with."""
    f = _flags(script)
    n_layers, pp = int(f["num-layers"]), int(f["pipeline-model-parallel-size"])
    if "num-layers-per-virtual-pipeline-stage" in f:
        vpp = n_layers // (pp * int(f["num-layers-per-virtual-pipeline-stage"]))
    else:
        vpp = int(f.get("num-virtual-stages-per-pipeline-rank", 1))
    precision = "fp16" if "fp16" in f else "fp8" if "fp8-format" in f else "bf16"
    if precision == "fp16":
        grads = 4.0 if "accumulate-allreduce-grads-in-fp32" in f else 2.0
    else:
        grads = 2.0 if "grad-reduce-in-bf16" in f else 4.0
    out = {"tp": int(f["tensor-model-parallel-size"]), "pp": pp, "vpp": vpp,
           "cp": int(f.get("context-parallel-size", 1)),
           "micro_batch": int(f["micro-batch-size"]),
           "global_batch": int(f["global-batch-size"]), "seq_len": int(f["seq-length"]),
           "n_layers": n_layers, "hidden": int(f["hidden-size"]),
           "ffn_hidden": int(f["ffn-hidden-size"]),
           "n_heads": int(f["num-attention-heads"]),
           "n_kv_heads": int(f.get("num-query-groups", f["num-attention-heads"])),
           "seq_parallel": "sequence-parallel" in f,
           "zero_stage": _megatron_zero_stage(f),
           "precision": precision,
           "grad_bytes_per_param": grads, "grad_reduce_bytes_per_param": grads,
           "fp8_param_gather": "fp8-param-gather" in f}
    if precision == "fp8":
        out["fp8_recipe"] = MEGATRON_FP8_RECIPE[str(f.get("fp8-recipe", "delayed"))]
    out["activation_offload_fraction"] = (
        int(f["cpu-offloading-num-layers"]) / math.ceil(n_layers / pp)
        if "cpu-offloading" in f else 0.0)
    out["offload_moe_inputs"] = ("fine-grained-activation-offloading" in f
                                 and {"expert_fc1", "moe_act"}
                                 <= set(str(f.get("offload-modules", "")).split()))
    granularity = f.get("recompute-granularity")
    out["recompute_moe"] = "moe" in str(f.get("recompute-modules", "")).split()
    if granularity is None:
        out.update(recompute="none", recompute_fraction=1.0)
    elif granularity == "selective" and str(f.get("recompute-modules", "")) == "moe":
        out.update(recompute="none", recompute_fraction=1.0)
    elif granularity == "selective":
        out.update(recompute="selective", recompute_fraction=1.0)
    elif f["recompute-method"] == "uniform":
        out.update(recompute="full", recompute_fraction=1.0)
    else:
        per_chunk = math.ceil(n_layers / (pp * vpp))
        out.update(recompute="full",
                   recompute_fraction=min(1.0, int(f["recompute-num-layers"]) / per_chunk))
    return out


def deepspeed_inputs(config_text: str) -> dict:
    """ZeRO stage, batch and gradient bytes of a DeepSpeed config (16-bit gradients, reduced
    in 16 bits unless ``communication_data_type`` says fp32)."""
    c = json.loads(config_text)
    reduce = 4.0 if c.get("communication_data_type") in ("fp32", "float32") else 2.0
    return {"zero_stage": int(c["zero_optimization"]["stage"]),
            "micro_batch": int(c["train_micro_batch_size_per_gpu"]),
            "grad_bytes_per_param": 2.0, "grad_reduce_bytes_per_param": reduce}


def _fsdp_stage(par: dict) -> int:
    """ZeRO stage of TorchTitan's data parallelism: replication only is 0; FSDP2 that keeps
    the gathered weights from forward to backward (``never``) holds what ZeRO-2 holds; FSDP2
    that reshards is ZeRO-3."""
    if int(par["data_parallel_shard_degree"]) == 1:
        return 0
    return 2 if par["fsdp_reshard_after_forward"] == "never" else 3


def torchtitan_inputs(toml_text: str) -> dict:
    """The model inputs a TorchTitan job config trains with (FSDP2: ZeRO-3 over the shard
    degree; sharded gradients in the fp32 dtype of the sharded parameters, reduced in
    ``mixed_precision_reduce``)."""
    c = tomllib.loads(toml_text)
    par, train = c["parallelism"], c["training"]
    pp = int(par["pipeline_parallel_degree"])
    ac = c["activation_checkpoint"]
    # TorchTitan's "selective" is every second layer in full unless the option says "op"
    assert ac["mode"] != "selective" or ac.get("selective_ac_option") == "op", ac
    micro = int(par.get("pipeline_parallel_microbatch_size", train["local_batch_size"]))
    reduce = 4.0 if train["mixed_precision_reduce"] == "float32" else 2.0
    mode = c["activation_checkpoint"]["mode"]
    per_stage = par.get("pipeline_parallel_layers_per_stage")
    vpp = 1
    if per_stage:
        n_layers = int(toml_text.split(" layers,")[0].rsplit(" ", 1)[1])   # shape comment
        vpp = n_layers // (pp * int(per_stage))
    return {"tp": int(par["tensor_parallel_degree"]), "pp": pp, "vpp": vpp,
            "cp": int(par["context_parallel_degree"]),
            "dp": int(par["data_parallel_shard_degree"])
            * int(par["data_parallel_replicate_degree"]),
            "zero_stage": _fsdp_stage(par),
            "micro_batch": micro, "global_batch": int(train["global_batch_size"]),
            "seq_len": int(train["seq_len"]),
            "recompute": mode, "precision": "fp8" if "float8" in c else "bf16",
            "grad_bytes_per_param": 4.0, "grad_reduce_bytes_per_param": reduce}
