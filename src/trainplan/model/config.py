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

from trainplan.model._array import NDArrayBool, NDArrayFloat, as_float


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

    @classmethod
    def from_arrays(cls, g: Mapping[str, np.ndarray]) -> Architecture:
        """Take the architecture columns of ``g``."""
        return cls(
            n_layers=as_float(g["n_layers"]), hidden=as_float(g["hidden"]),
            n_heads=as_float(g["n_heads"]), n_kv_heads=as_float(g["n_kv_heads"]),
            ffn_hidden=as_float(g["ffn_hidden"]), vocab=as_float(g["vocab"]),
            seq_len=as_float(g["seq_len"]), gated_mlp=g["gated_mlp"], dropout=g["dropout"],
            linear_bias=g["linear_bias"], layernorm=g["layernorm"],
            tied_embeddings=g["tied_embeddings"], learned_positions=g["learned_positions"],
            rotary=g["rotary"].astype(bool),
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
    """``L / pp`` [-]."""
    shard_group: NDArrayFloat
    """GPUs ZeRO / the distributed optimizer shard over, ``dp * cp`` [-]."""
    pipelined: NDArrayBool
    """``pp > 1``."""

    @classmethod
    def from_arrays(cls, g: Mapping[str, np.ndarray], seq_len: NDArrayFloat,
                    n_layers: NDArrayFloat) -> Layout:
        """Take the layout columns of ``g`` and derive the counts."""
        tp, pp, dp, cp = (as_float(g[k]) for k in ("tp", "pp", "dp", "cp"))
        b, global_batch = as_float(g["micro_batch"]), as_float(g["global_batch"])
        seq_local = seq_len / cp
        return cls(
            tp=tp, pp=pp, dp=dp, cp=cp, vpp=as_float(g["vpp"]), micro_batch=b,
            global_batch=global_batch, zero_stage=g["zero_stage"], recompute=g["recompute"],
            schedule=g["schedule"], seq_parallel=g["seq_parallel"].astype(bool),
            flash_attention=g["flash_attention"].astype(bool), fp8=g["fp8"].astype(bool),
            n_gpus=tp * pp * dp * cp, n_microbatches=global_batch / (dp * b),
            seq_local=seq_local, tokens_microbatch=b * seq_local,
            layers_per_stage=n_layers / pp, shard_group=dp * cp, pipelined=pp > 1,
        )


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
    sm_count: NDArrayFloat
    gemm_tile_elements: NDArrayFloat
    gemm_half_k: NDArrayFloat

    @classmethod
    def from_arrays(cls, g: Mapping[str, np.ndarray]) -> Gpu:
        """Take the GPU columns of ``g``."""
        return cls(
            peak_16bit_flop_s=as_float(g["peak_16bit_flop_s"]),
            peak_fp8_flop_s=as_float(g["peak_fp8_flop_s"]),
            gemm_efficiency_16bit=as_float(g["gemm_efficiency_16bit"]),
            gemm_efficiency_fp8=as_float(g["gemm_efficiency_fp8"]),
            attention_efficiency=g["attention_efficiency"],
            hbm_byte_s=as_float(g["hbm_byte_s"]) * as_float(g["hbm_efficiency"]),
            sm_count=as_float(g["sm_count"]),
            gemm_tile_elements=as_float(g["gemm_tile_elements"]),
            gemm_half_k=as_float(g["gemm_half_k"]),
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
