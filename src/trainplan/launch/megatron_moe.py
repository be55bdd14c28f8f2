"""Megatron-Core flags for mixture-of-experts layers and attention variants.

The flags say what the memory and time model assumed: routed experts split over
``--expert-model-parallel-size`` (their states over the expert data-parallel group by the
distributed optimizer), expert tensor parallelism, grouped GEMMs, the token dispatcher,
which layers have experts, group-limited routing, latent attention and head widths.
Flag names are those of Megatron-Core's ``megatron/training/arguments.py`` (2025).
"""

from __future__ import annotations

from trainplan.launch.config import LaunchConfig


def moe_layer_pattern(n_layers: int, first_dense_layers: int, moe_layer_step: int) -> str:
    """``--moe-layer-freq`` as the explicit list Megatron accepts: 1 for a layer with
    experts, 0 for a dense one (the first ``first_dense_layers``, then every
    ``moe_layer_step``-th layer has experts, as :func:`trainplan.model.moe_params.moe_layer_count`
    counts them)."""
    pattern = [0] * min(first_dense_layers, n_layers)
    rest = n_layers - len(pattern)
    pattern += [1 if (i + 1) % moe_layer_step == 0 else 0 for i in range(rest)]
    return "[" + ",".join(str(x) for x in pattern) + "]"


def attention_args(c: LaunchConfig) -> list[str]:
    """Head width, QK-norm, multi-head latent attention and multi-token prediction."""
    args = [f"--mtp-num-layers {c.mtp_layers}"] if c.mtp_layers > 0 else []
    if c.kv_lora_rank > 0:
        args += ["--multi-latent-attention", f"--kv-lora-rank {c.kv_lora_rank}",
                 f"--qk-head-dim {c.qk_nope_head_dim}",
                 f"--qk-pos-emb-head-dim {c.qk_rope_head_dim}",
                 f"--v-head-dim {c.v_head_dim}"]
        if c.q_lora_rank > 0:
            args.append(f"--q-lora-rank {c.q_lora_rank}")
    elif c.head_dim > 0:
        args.append(f"--kv-channels {c.head_dim}")
    if c.qk_norm:
        args.append("--qk-layernorm")
    return args


def moe_args(c: LaunchConfig) -> list[str]:
    """Experts, routing, expert parallelism and the dispatcher; empty for a dense model."""
    if c.n_experts <= 0:
        return []
    width = c.moe_ffn_hidden or c.ffn_hidden
    args = [f"--num-experts {c.n_experts}", f"--moe-router-topk {c.top_k}",
            f"--moe-ffn-hidden-size {width}",
            f"--expert-model-parallel-size {c.ep}",
            f"--expert-tensor-parallel-size {c.etp}", "--moe-grouped-gemm"]
    if c.first_dense_layers > 0 or c.moe_layer_step > 1:
        pattern = moe_layer_pattern(c.n_layers, c.first_dense_layers, c.moe_layer_step)
        args.append(f"--moe-layer-freq '{pattern}'")
    if c.n_shared_experts > 0:
        shared = c.n_shared_experts * (c.shared_ffn_hidden or width)
        args.append(f"--moe-shared-expert-intermediate-size {shared}")
    if c.router_bias:
        args += ["--moe-router-score-function sigmoid", "--moe-router-enable-expert-bias"]
    domains = -(-(c.ep * c.etp) // (c.scaleup_domain_gpus or c.gpus_per_node))
    if c.moe_router_group_topk > 0 and domains > 1:
        args += [f"--moe-router-num-groups {domains}",
                 f"--moe-router-group-topk {min(c.moe_router_group_topk, domains)}"]
    if c.moe_dispatcher == "deepep":
        args += ["--moe-token-dispatcher-type flex", "--moe-enable-deepep"]
    else:
        args.append("--moe-token-dispatcher-type alltoall")
    if c.moe_capacity_factor > 0:
        args += [f"--moe-expert-capacity-factor {c.moe_capacity_factor:g}",
                 "--moe-pad-expert-input-to-capacity"]
    if c.moe_a2a_overlap:
        args.append("--overlap-moe-expert-parallel-comm")
    return args


def selective_modules_args(c: LaunchConfig) -> list[str]:
    """``--recompute-modules`` of selective recomputation for a model with experts or latent
    attention, as the memory model prices it
    (:func:`trainplan.model.moe_recompute.selective_saving_bytes`; ``moe``, the whole block,
    instead of its activation ``moe_act`` under ``recompute_moe``); empty for a dense model,
    whose selective recomputation is Megatron's default (the attention core)."""
    if c.n_experts <= 0 and c.kv_lora_rank <= 0:
        return []
    modules = ["core_attn", "layernorm"]
    if c.n_experts > 0:
        modules.append("moe" if c.recompute_moe else "moe_act")
    if c.kv_lora_rank > 0:
        modules.append("mla_up_proj")
    return ["--recompute-modules " + " ".join(modules)]
