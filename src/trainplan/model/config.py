"""The step model's inputs, parsed once into typed groups.

:func:`~trainplan.model.step.evaluate_arrays` receives one flat mapping of
broadcasting arrays (one entry per input of :mod:`trainplan.schema.inputs`,
already resolved); the stage functions take these groups instead: the
architecture, the parallel layout (with the counts derived from it), the GPU
and the links between GPUs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from trainplan.model import attention_variants as av
from trainplan.model import moe
from trainplan.model._array import ArrayLike, NDArrayBool, NDArrayFloat, as_float
from trainplan.model.choices import Recompute
from trainplan.model.moe_params import expert_params
from trainplan.model.offload import offloaded_layers
from trainplan.model.power import capped_clock_fraction
from trainplan.model.stages import stage_layers


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer (counts as float64; switches as given)."""

    n_layers: NDArrayFloat
    hidden: NDArrayFloat
    n_heads: NDArrayFloat
    n_kv_heads: NDArrayFloat
    ffn_hidden: NDArrayFloat
    vocab: NDArrayFloat
    seq_len: NDArrayFloat
    gated_mlp: np.ndarray
    dropout: np.ndarray
    linear_bias: np.ndarray
    layernorm: np.ndarray
    tied_embeddings: np.ndarray
    learned_positions: np.ndarray
    rotary: NDArrayBool
    # --- attention variants and experts (:mod:`trainplan.model.moe`) ---
    head_dim: NDArrayFloat
    """Width of one attention head, resolved (``h / a`` unless given) [-]."""
    variant_attention: NDArrayBool
    """Heads not ``h / a`` wide, or multi-head latent attention: the general attention
    terms replace the dense formulas."""
    attention_params: NDArrayFloat
    """Attention projection weights of one layer
    (:func:`~trainplan.model.attention_variants.attention_projection_params`) [-]."""
    attention_core_width: NDArrayFloat
    """:func:`~trainplan.model.attention_variants.attention_core_width` [-]."""
    attention_activation: NDArrayFloat
    """:func:`~trainplan.model.attention_variants.attention_activation_coefficient`
    [bytes per s b h]."""
    local_share: NDArrayFloat
    """Share of the layers with local (sliding-window or chunked) attention [-]."""
    local_keys: NDArrayFloat
    """:func:`~trainplan.model.attention_variants.local_attention_keys` of those layers [tokens]."""
    qk_norm_params: NDArrayFloat
    """Per-head query and key norms of one layer [-]."""
    mla: NDArrayBool
    q_lora_rank: NDArrayFloat
    kv_lora_rank: NDArrayFloat
    qk_head_dim: NDArrayFloat
    """MLA query/key head width (with its rotary part) [-]."""
    qk_rope_head_dim: NDArrayFloat
    v_head_dim: NDArrayFloat
    n_experts: NDArrayFloat
    top_k: NDArrayFloat
    moe_ffn_hidden: NDArrayFloat
    """One routed expert's width (``ffn_hidden`` unless given) [-]."""
    shared_ffn_width: NDArrayFloat
    """All shared experts' width, :math:`S f_s` [-]."""
    moe_share: NDArrayFloat
    r"""Share of the layers with experts, :math:`\phi` [-]."""
    ffn_active: NDArrayFloat
    """Dense MLP width with one token's MLP FLOPs, averaged over layers [-]."""
    mtp_layers: NDArrayFloat
    """Multi-token-prediction modules on the last stage [-]."""
    expert_params: NDArrayFloat
    """One routed expert [-]."""
    router_params: NDArrayFloat
    """One MoE layer's router [-]."""
    shared_params: NDArrayFloat
    """One MoE layer's shared experts [-]."""

    @classmethod
    def from_arrays(cls, g: Mapping[str, np.ndarray]) -> Architecture:
        """Take the architecture columns of ``g`` (missing expert and attention-variant
        columns: a dense model with ``h / a``-wide heads)."""
        def get(key, default=0.0):
            return as_float(g[key]) if key in g else as_float(default)

        h, a, kv = as_float(g["hidden"]), as_float(g["n_heads"]), as_float(g["n_kv_heads"])
        head = av.resolved_head_dim(h, a, get("head_dim"))
        mla_dims = (get("kv_lora_rank"), get("qk_nope_head_dim"), get("qk_rope_head_dim"),
                    get("v_head_dim"))
        mla = mla_dims[0] > 0
        gated = np.asarray(g["gated_mlp"]).astype(bool)
        n_experts, top_k = get("n_experts"), get("top_k", 1.0)
        f = as_float(g["ffn_hidden"])
        fe = np.where(get("moe_ffn_hidden") > 0, get("moe_ffn_hidden"), f)
        fs_one = np.where(get("shared_ffn_hidden") > 0, get("shared_ffn_hidden"), fe)
        shared_width = get("n_shared_experts") * fs_one
        share = moe.moe_layer_share(g["n_layers"], n_experts, get("first_dense_layers"),
                                    get("moe_layer_step", 1.0))
        router_bias = np.asarray(g.get("router_bias", False)).astype(bool)
        return cls(
            n_layers=as_float(g["n_layers"]), hidden=h, n_heads=a, n_kv_heads=kv,
            ffn_hidden=f, vocab=as_float(g["vocab"]),
            seq_len=as_float(g["seq_len"]), gated_mlp=g["gated_mlp"], dropout=g["dropout"],
            linear_bias=g["linear_bias"], layernorm=g["layernorm"],
            tied_embeddings=g["tied_embeddings"], learned_positions=g["learned_positions"],
            rotary=g["rotary"].astype(bool),
            head_dim=head, variant_attention=mla | (get("head_dim") > 0),
            attention_params=av.attention_projection_params(
                h, a, kv, head, get("q_lora_rank"), *mla_dims),
            attention_core_width=av.attention_core_width(a, head, *mla_dims),
            attention_activation=av.attention_activation_coefficient(h, a, kv, head,
                                                                      *mla_dims),
            local_share=np.where(get("sliding_window") > 0, get("sliding_window_share", 1.0),
                                 0.0),
            local_keys=av.local_attention_keys(g["seq_len"], get("sliding_window"),
                                                np.asarray(g.get("chunked_attention", False))
                                                .astype(bool)),
            qk_norm_params=np.where(np.asarray(g.get("qk_norm", False)).astype(bool),
                                    2.0 * head, 0.0),
            mla=mla, q_lora_rank=get("q_lora_rank"), kv_lora_rank=mla_dims[0],
            qk_head_dim=mla_dims[1] + mla_dims[2], qk_rope_head_dim=mla_dims[2],
            v_head_dim=mla_dims[3],
            n_experts=n_experts, top_k=top_k, moe_ffn_hidden=fe, shared_ffn_width=shared_width,
            moe_share=share,
            ffn_active=moe.active_ffn_width(f, fe, shared_width, top_k, share),
            mtp_layers=get("mtp_layers"),
            expert_params=expert_params(h, fe, gated,
                                            np.asarray(g.get("expert_bias", False))
                                            .astype(bool)),
            router_params=h * n_experts + np.where(router_bias, n_experts, 0.0),
            shared_params=expert_params(h, shared_width, gated, False),
        )


@dataclass(frozen=True)
class Layout:
    """How the work is split, and the counts that follow from it."""

    tp: NDArrayFloat
    pp: NDArrayFloat
    dp: NDArrayFloat
    cp: NDArrayFloat
    vpp: NDArrayFloat
    micro_batch: NDArrayFloat
    global_batch: NDArrayFloat
    zero_stage: np.ndarray
    recompute: np.ndarray
    """:class:`~trainplan.model.choices.Recompute` codes."""
    schedule: np.ndarray
    """:class:`~trainplan.model.choices.Schedule` codes."""
    seq_parallel: NDArrayBool
    flash_attention: NDArrayBool
    fp8: NDArrayBool
    """Linear layers in FP8 (attention and element-wise work stay in 16 bits)."""
    n_gpus: NDArrayFloat
    """``tp * pp * dp * cp`` [-]."""
    n_microbatches: NDArrayFloat
    """Micro-batches per replica per step, ``B / (dp b)`` [-]."""
    seq_local: NDArrayFloat
    """Sequence held by one context-parallel rank, ``s / cp`` [tokens]."""
    tokens_microbatch: NDArrayFloat
    """Tokens of one micro-batch on one GPU, ``b s / cp`` [tokens]."""
    layers_per_stage: NDArrayFloat
    """Layers of the busiest stage, ceil(L / pp) (:func:`stage_layers`) [-]."""
    layers_first: NDArrayFloat
    """Layers of the first stage (:func:`stage_layers`) [-]."""
    layers_last: NDArrayFloat
    """Layers of the last stage (:func:`stage_layers`) [-]."""
    shard_group: NDArrayFloat
    """GPUs ZeRO / the distributed optimizer shard over, ``dp * cp`` [-]."""
    pipelined: NDArrayBool
    """``pp > 1``."""
    sharded_pipeline: NDArrayBool
    """The framework combines ZeRO-2/3 (FSDP) sharding with pipeline parallelism."""
    zero3_reshard: NDArrayBool
    """ZeRO-3 regathers parameters every micro-batch (else once per step)."""
    fp8_recipe: np.ndarray
    """Index into :data:`~trainplan.model.kernels.FP8_RECIPES`."""
    full_recompute_share: NDArrayFloat
    """Share of the layers fully recomputed: ``recompute_fraction`` under full
    recomputation, else 0 [-]."""
    fp8_param_gather: NDArrayBool
    """ZeRO-3 gathers FP8 weights (1 byte) under FP8."""
    zero3_recompute_regather: NDArrayBool
    """ZeRO-3 gathers a fully recomputed layer again for its backward (DeepSpeed)."""
    fp32_sharded_params: NDArrayBool
    """Under ZeRO-3 the fp32 weight shard is the optimizer's master copy (PyTorch FSDP)."""
    ep: NDArrayFloat
    """Expert-parallel degree [-]."""
    etp: NDArrayFloat
    """Expert tensor-parallel degree [-]."""
    expert_shard_group: NDArrayFloat
    """GPUs the distributed optimizer shards expert states over, the expert data-parallel
    group ``tp * cp * dp / (ep * etp)`` [-]."""
    moe_a2a_overlap: NDArrayBool
    """The expert all-to-all of one micro-batch overlaps another's computation."""
    offload_moe_inputs: NDArrayBool
    """The expert GEMMs' and the experts' activation inputs go to host memory
    (``--offload-modules expert_fc1 moe_act``;
    :func:`~trainplan.model.moe_recompute.moe_input_offload_bytes`)."""
    selective_op_sac: NDArrayBool
    """Selective recomputation is TorchTitan's operator-level policy
    (:func:`~trainplan.model.activations.op_sac_activation_bytes`)."""
    recompute_moe: NDArrayBool
    """Each MoE block is recomputed whole in the backward (``--recompute-modules moe``;
    :func:`~trainplan.model.moe_recompute.moe_block_recomputed`)."""
    moe_load_imbalance: NDArrayFloat
    """Busiest expert-parallel rank's tokens over the mean: ``moe_capacity_factor`` when set
    (every expert padded to its capacity), else ``moe_load_imbalance`` [-]."""
    moe_deepep: NDArrayBool
    """Deduplicating dispatch: one copy per remote domain (``moe_dispatcher: deepep``)."""
    moe_router_group_topk: NDArrayFloat
    """Most domains a token's experts lie in (0: no limit) [-]."""
    offload_layers: NDArrayFloat
    """Layers of the busiest stage whose activations go to host memory
    (:func:`~trainplan.model.offload.offloaded_layers`) [-]."""

    @classmethod
    def from_arrays(cls, g: Mapping[str, np.ndarray], seq_len: NDArrayFloat,
                    n_layers: NDArrayFloat, last_credit: NDArrayFloat = 0.0) -> Layout:
        """Take the layout columns of ``g`` and derive the counts (``last_credit``: see
        :func:`stage_layers`)."""
        tp, pp, dp, cp = (as_float(g[k]) for k in ("tp", "pp", "dp", "cp"))
        ep, etp = as_float(g.get("ep", 1.0)), as_float(g.get("etp", 1.0))
        b, global_batch = as_float(g["micro_batch"]), as_float(g["global_batch"])
        seq_local = seq_len / cp
        first, busiest, last = stage_layers(n_layers, pp, last_credit)
        return cls(
            tp=tp, pp=pp, dp=dp, cp=cp, vpp=as_float(g["vpp"]), micro_batch=b,
            global_batch=global_batch, zero_stage=g["zero_stage"], recompute=g["recompute"],
            schedule=g["schedule"], seq_parallel=g["seq_parallel"].astype(bool),
            flash_attention=g["flash_attention"].astype(bool), fp8=g["fp8"].astype(bool),
            n_gpus=tp * pp * dp * cp, n_microbatches=global_batch / (dp * b),
            seq_local=seq_local, tokens_microbatch=b * seq_local,
            layers_per_stage=busiest, layers_first=first, layers_last=last,
            shard_group=dp * cp, pipelined=pp > 1,
            sharded_pipeline=np.asarray(g["sharded_pipeline"]).astype(bool),
            zero3_reshard=np.asarray(g["zero3_reshard_after_forward"]).astype(bool)
            & ~(np.asarray(g["zero3_keep_gathered_with_pipeline"]).astype(bool) & (pp > 1)),
            fp8_recipe=np.asarray(g["fp8_recipe"]),
            full_recompute_share=np.where(
                np.asarray(g["recompute"]) == Recompute.FULL,
                recomputed_share(g["recompute_fraction"], n_layers, pp, as_float(g["vpp"])),
                0.0),
            fp8_param_gather=np.asarray(g["fp8_param_gather"]).astype(bool),
            zero3_recompute_regather=np.asarray(g.get("zero3_recompute_regather", False)
                                                ).astype(bool),
            fp32_sharded_params=np.asarray(g.get("fp32_sharded_params", False)).astype(bool),
            ep=ep, etp=etp, expert_shard_group=tp * cp * dp / (ep * etp),
            moe_a2a_overlap=np.asarray(g.get("moe_a2a_overlap", False)).astype(bool),
            recompute_moe=np.asarray(g.get("recompute_moe", False)).astype(bool),
            selective_op_sac=np.asarray(g.get("selective_op_sac", False)).astype(bool),
            offload_moe_inputs=np.asarray(g.get("offload_moe_inputs", False)).astype(bool),
            moe_load_imbalance=np.where(as_float(g.get("moe_capacity_factor", 0.0)) > 0,
                                        as_float(g.get("moe_capacity_factor", 0.0)),
                                        as_float(g.get("moe_load_imbalance", 1.0))),
            moe_deepep=np.asarray(g.get("moe_deepep", False)).astype(bool),
            moe_router_group_topk=as_float(g.get("moe_router_group_topk", 0.0)),
            offload_layers=offloaded_layers(g.get("activation_offload_fraction", 0.0), busiest),
        )


def recomputed_share(fraction: ArrayLike, n_layers: ArrayLike, pp: ArrayLike,
                     vpp: ArrayLike) -> NDArrayFloat:
    r"""
    Share of each model chunk's layers that full recomputation recomputes, in whole layers.

    Parameters
    ----------
    fraction : array_like
        The share asked for, ``recompute_fraction`` :math:`\phi` [-].
    n_layers, pp, vpp : array_like
        Layers :math:`L`, pipeline stages :math:`p` and virtual stages per stage :math:`v`
        [-].

    Returns
    -------
    numpy.ndarray
        :math:`n_r / c` [-], with :math:`c = \lceil L / (p v) \rceil` layers per chunk and
        :math:`n_r = \max(1, \lceil \phi c \rceil)` recomputed ones (at most :math:`c`).

    Notes
    -----
    Megatron-LM recomputes whole layers: ``--recompute-method block
    --recompute-num-layers n_r`` per model chunk, so the model prices the same rounding
    as the launch command (:func:`trainplan.launch.megatron.recomputed_layers`).

    References
    ----------
    .. [1] Megatron-LM ``megatron/training/arguments.py``: ``--recompute-num-layers``, "the
       number of layers to recompute within each pipeline stage" with the block method.
    """
    chunk = np.ceil(as_float(n_layers) / (as_float(pp) * as_float(vpp)))
    wanted = np.ceil(np.round(as_float(fraction) * chunk, 3))
    return np.clip(np.maximum(wanted, 1.0), 0.0, chunk) / chunk


@dataclass(frozen=True)
class Gpu:
    """One accelerator: peaks, achievable fractions and the GEMM shape constants."""

    peak_16bit_flop_s: NDArrayFloat
    peak_fp8_flop_s: NDArrayFloat
    gemm_efficiency_16bit: NDArrayFloat
    gemm_efficiency_fp8: NDArrayFloat
    attention_efficiency: np.ndarray
    hbm_byte_s: NDArrayFloat
    """Achievable HBM bandwidth (peak times ``hbm_efficiency``) [byte/s]."""
    host_byte_s: NDArrayFloat
    """Achievable GPU-host copy bandwidth, one direction [byte/s]."""
    sm_count: NDArrayFloat
    gemm_tile_elements: NDArrayFloat
    gemm_half_k: NDArrayFloat
    grouped_gemm_efficiency: NDArrayFloat
    """A grouped GEMM's throughput over a dense GEMM of the same total shape [-]."""

    @classmethod
    def from_arrays(cls, g: Mapping[str, np.ndarray]) -> Gpu:
        """Take the GPU columns of ``g``; the kernel efficiencies are the published
        isolated-kernel figures times ``sustained_compute_fraction`` and, under a power
        limit, the clock fraction of :func:`~trainplan.model.power.capped_clock_fraction`."""
        sustained = as_float(g["sustained_compute_fraction"]) * capped_clock_fraction(
            g["power_limit_w"], g["tdp_w"], g["static_power_fraction"])
        return cls(
            peak_16bit_flop_s=as_float(g["peak_16bit_flop_s"]),
            peak_fp8_flop_s=as_float(g["peak_fp8_flop_s"]),
            gemm_efficiency_16bit=as_float(g["gemm_efficiency_16bit"]) * sustained,
            gemm_efficiency_fp8=as_float(g["gemm_efficiency_fp8"]) * sustained,
            attention_efficiency=np.where(np.asarray(g["portable_attention"]).astype(bool),
                                          as_float(g["attention_efficiency_portable"]),
                                          as_float(g["attention_efficiency"])) * sustained,
            hbm_byte_s=as_float(g["hbm_byte_s"]) * as_float(g["hbm_efficiency"]),
            host_byte_s=as_float(g["host_link_byte_s"]),
            sm_count=as_float(g["sm_count"]),
            gemm_tile_elements=as_float(g["gemm_tile_elements"]),
            gemm_half_k=as_float(g["gemm_half_k"]),
            grouped_gemm_efficiency=as_float(g["grouped_gemm_efficiency"]),
        )


@dataclass(frozen=True)
class Links:
    """The links between GPUs at their achievable bandwidths, and the overlap efficiency."""

    domain_gpus: NDArrayFloat
    """GPUs of one scale-up domain [-]."""
    scaleup_byte_s: NDArrayFloat
    peer_byte_s: NDArrayFloat
    """One peer link of a mesh [byte/s]."""
    mesh: NDArrayBool
    nic_byte_s_per_gpu: NDArrayFloat
    latency_in_s: NDArrayFloat
    """One step inside the scale-up domain [s]."""
    latency_out_s: NDArrayFloat
    """One step across domains [s]."""
    overlap_efficiency: NDArrayFloat

    @classmethod
    def from_arrays(cls, g: Mapping[str, np.ndarray]) -> Links:
        """Take the link columns of ``g`` (bandwidths times their efficiencies)."""
        up_eff = as_float(g["scaleup_efficiency"])
        return cls(
            domain_gpus=as_float(g["scaleup_domain_gpus"]),
            scaleup_byte_s=as_float(g["scaleup_byte_s"]) * up_eff,
            peer_byte_s=as_float(g["scaleup_peer_byte_s"]) * up_eff,
            mesh=g["scaleup_mesh"].astype(bool),
            nic_byte_s_per_gpu=as_float(g["nic_byte_s_per_gpu"])
            * as_float(g["scaleout_efficiency"]),
            latency_in_s=as_float(g["scaleup_latency_s"]),
            latency_out_s=as_float(g["scaleout_latency_s"]),
            overlap_efficiency=as_float(g["overlap_efficiency"]),
        )
