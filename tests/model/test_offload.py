"""Activation offloading to host memory: GPU memory, exposed copies, what it cannot run with."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from trainplan import evaluate
from trainplan.model.feasibility import OFFLOAD

# Megatron-Bridge's Llama 3 70B FP8 recipe on 64 GB200: Megatron-FSDP, micro-batch 2, no
# recomputation, activations of 40 of the 80 layers offloaded to the Grace CPU
GB200_70B = {"model": "llama3-70b", "gpu": "GB200", "n_gpus": 64, "tp": 1, "pp": 1,
             "global_batch": 256, "micro_batch": 2, "zero_stage": 3, "recompute": "none",
             "precision": "fp8"}


def _run(**changes) -> dict:
    return evaluate(pl.DataFrame([{**GB200_70B, **changes}])).row(0, named=True)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_more_offloading_never_needs_more_memory_nor_runs_faster(a, b):
    low, high = sorted((a, b))
    less, more = _run(activation_offload_fraction=low), _run(activation_offload_fraction=high)
    assert more["memory_total_bytes"] <= less["memory_total_bytes"]
    assert more["step_time_s"] >= less["step_time_s"] - 1e-12


def test_offloading_half_the_layers_halves_the_activations_on_the_gpu():
    # 40 layers stay, and one offloaded layer is in transit: 41 of 80
    whole = _run()["memory_activations_bytes"]
    half = _run(activation_offload_fraction=0.5)["memory_activations_bytes"]
    assert abs(half / whole - 41 / 80) < 1e-3


def test_a_fast_host_link_hides_the_copies_and_pcie_does_not():
    grace = _run(activation_offload_fraction=0.5)
    pcie = _run(activation_offload_fraction=0.5, host_link_gbyte_s=53.0)
    free = _run(activation_offload_fraction=0.5, host_link_gbyte_s=1e6)
    assert free["offload_exposed_s"] == 0.0
    assert free["step_time_s"] == _run()["step_time_s"]
    # NVLink-C2C hides the copies of every other layer; PCIe Gen5 does not
    assert grace["offload_exposed_s"] == 0.0 < pcie["offload_exposed_s"]


def test_offloading_with_a_pipeline_or_recomputation_is_flagged():
    assert _run(activation_offload_fraction=0.5, pp=4, n_gpus=64)["infeasible_flags"] & OFFLOAD
    assert _run(activation_offload_fraction=0.5, recompute="full")["infeasible_flags"] & OFFLOAD
    assert not _run(activation_offload_fraction=0.5)["infeasible_flags"] & OFFLOAD
    assert not _run(pp=4, n_gpus=64)["infeasible_flags"] & OFFLOAD
    # Megatron-Core keeps at least one layer's activations on the GPU
    assert _run(activation_offload_fraction=1.0)["infeasible_flags"] & OFFLOAD
    assert not _run(activation_offload_fraction=79 / 80)["infeasible_flags"] & OFFLOAD


def test_spaced_copies_hide_behind_the_layers_between_them():
    """The handler spaces o copies over L_s layers: offloading fewer layers gives each copy a
    longer window, so a quarter of the layers stalls less per offloaded layer than all but one."""
    quarter = _run(activation_offload_fraction=0.25, host_link_gbyte_s=53.0)
    most = _run(activation_offload_fraction=79 / 80, host_link_gbyte_s=53.0)
    assert quarter["offload_exposed_s"] / 20 < most["offload_exposed_s"] / 79
