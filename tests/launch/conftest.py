"""Two configurations as rows of the results table (integers stored as floats)."""

from __future__ import annotations

import pytest

from trainplan.launch import LaunchConfig

LLAMA3_70B = {
    "model": "llama3-70b", "n_layers": 80.0, "hidden": 8192.0, "n_heads": 64.0,
    "n_kv_heads": 8.0, "ffn_hidden": 28672.0, "gated_mlp": True, "vocab": 128256.0,
    "tied_embeddings": False, "linear_bias": False, "position_embedding": "rope",
    "norm": "rmsnorm", "dropout": False, "seq_len": 8192.0, "global_batch": 512.0,
    "precision": "bf16", "tokens_budget": 15e12, "gpu": "H100-SXM", "n_gpus": 64.0,
    "gpus_per_node": 8.0, "tp": 8.0, "pp": 4.0, "dp": 2.0, "cp": 1.0, "vpp": 2.0,
    "micro_batch": 1.0, "zero_stage": 1.0, "recompute": "selective", "seq_parallel": True,
    "flash_attention": True, "schedule": "interleaved", "overlap_grad_reduce": True,
    "overlap_param_gather": True, "tp_comm_overlap": True, "zero3_max_live_params": 1e9,
}

# a 7B-class model on 12 GPUs (1.5 nodes) with DeepSpeed ZeRO-3
ZERO3 = {
    **LLAMA3_70B, "model": "llama2-7b", "n_layers": 32.0, "hidden": 4096.0, "n_heads": 32.0,
    "n_kv_heads": 32.0, "ffn_hidden": 11008.0, "vocab": 32000.0, "seq_len": 4096.0,
    "global_batch": 96.0, "tokens_budget": float("nan"), "n_gpus": 12.0, "tp": 1.0,
    "pp": 1.0, "dp": 12.0, "vpp": 1.0, "micro_batch": 2.0, "zero_stage": 3.0,
    "recompute": "full", "seq_parallel": False, "schedule": "1f1b", "tp_comm_overlap": False,
    "zero3_max_live_params": 3e8,
}


@pytest.fixture
def llama_row() -> dict:
    """Llama 3 70B on 64 H100s, tp 8 x pp 4 (vpp 2) x dp 2, ZeRO-1, as a table row."""
    return dict(LLAMA3_70B)


@pytest.fixture
def zero3_row() -> dict:
    """Llama 2 7B on 12 GPUs (8 + 4), dp 12, ZeRO-3, no token budget, as a table row."""
    return dict(ZERO3)


@pytest.fixture
def llama(llama_row) -> LaunchConfig:
    """The Llama 3 70B row, parsed."""
    return LaunchConfig.from_row(llama_row)


@pytest.fixture
def zero3(zero3_row) -> LaunchConfig:
    """The ZeRO-3 row, parsed."""
    return LaunchConfig.from_row(zero3_row)
