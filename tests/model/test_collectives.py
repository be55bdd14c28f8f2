"""Collective times against NCCL-tests bus bandwidths and the alpha-beta limits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainplan import catalog
from trainplan.model import collectives as co
from trainplan.model.choices import Algorithm

SCALEUP_EFFICIENCY = 0.78      # schema default
LATENCY_IN_S = 3e-6            # schema default


def bus_bandwidth_gbyte_s(n_bytes, g, seconds):
    """nccl-tests PERFORMANCE.md: busbw = algbw * 2 (g-1)/g for all-reduce."""
    return n_bytes / seconds * 2 * (g - 1) / g / 1e9


def one_node_allreduce_s(gpu, n_bytes, algorithm=Algorithm.RING, g=8):
    bw = catalog.gpu(gpu)["scaleup_gbyte_s"] * 1e9 * SCALEUP_EFFICIENCY
    return co.allreduce_s(algorithm, n_bytes, g, g, 1, bw, 0.0, LATENCY_IN_S, 6e-6)


@pytest.mark.parametrize(("gpu", "measured_busbw_gbyte_s"), [
    # NVIDIA/nccl-tests issue #212 (S. Jeaugey, 2024): 8x H100 NVLink, NCCL_ALGO=RING,
    # large messages: effective busBw about 370 GB/s of the 450 GB/s line rate.
    ("H100-SXM5-80GB", 370.0),
    # Azure AI-benchmarking-guide, ND A100 v4 (8x A100 NVLink): all_reduce_perf busbw 231.6 GB/s.
    ("A100-SXM4-80GB", 231.6),
])
def test_ring_allreduce_bus_bandwidth_matches_nccl_tests(gpu, measured_busbw_gbyte_s):
    n = 8 * 2**30   # 8 GiB, the bandwidth plateau
    t = float(one_node_allreduce_s(gpu, n))
    assert bus_bandwidth_gbyte_s(n, 8, t) == pytest.approx(measured_busbw_gbyte_s, rel=0.06)


def test_small_allreduce_is_latency_bound():
    """Azure AI-benchmarking-guide, ND A100 v4: an 8-GPU all-reduce of 1 KiB takes about
    45 us (14 ring steps of about 3 us)."""
    t = float(one_node_allreduce_s("A100-SXM4-80GB", 1024))
    assert t * 1e6 == pytest.approx(45.0, rel=0.1)


@given(st.floats(1e3, 1e11), st.integers(2, 4096), st.floats(1e9, 1e12), st.floats(0, 1e-4))
def test_ring_allreduce_is_reduce_scatter_plus_allgather(n, g, bw, lat):
    """Thakur et al. 2005: the ring all-reduce is a ring reduce-scatter then a ring all-gather."""
    assert co.ring_allreduce_s(n, g, bw, lat) == pytest.approx(
        2 * co.ring_allgather_s(n, g, bw, lat), rel=1e-12)


@given(st.floats(1e3, 1e11), st.integers(2, 4096), st.floats(1e9, 1e12))
def test_bandwidth_terms_of_tree_and_ring(n, g, bw):
    """Without latency a tree moves 2n, a ring 2(g-1)/g n: their ratio is g/(g-1)."""
    tree, ring = co.tree_allreduce_s(n, g, bw, 0.0), co.ring_allreduce_s(n, g, bw, 0.0)
    assert tree / ring == pytest.approx(g / (g - 1), rel=1e-12)


@given(st.integers(1, 64), st.integers(2, 64))
def test_hierarchical_allreduce_inside_one_domain_is_the_ring(members, g):
    """With every member in one domain the two-level scheme has no outer phase."""
    n, bw, lat = 1e8, 3e11, 3e-6
    hier = co.allreduce_s(Algorithm.HIERARCHICAL, n, g, g, 1, bw, 1e10, lat, 1e-5)
    ring = co.allreduce_s(Algorithm.RING, n, g, g, 1, bw, 1e10, lat, 1e-5)
    assert float(hier) == pytest.approx(float(ring), rel=1e-12)


def test_every_algorithm_has_a_time_and_a_group_of_one_costs_nothing():
    codes = np.array(list(Algorithm))
    for fn in (co.allreduce_s, co.allgather_s):
        t = fn(codes, 1e8, 16, 8, 2, 3e11, 5e10, 3e-6, 6e-6)
        assert t.shape == (len(Algorithm),) and (t > 0).all()
        assert (fn(codes, 1e8, 1, 1, 1, 3e11, 5e10, 3e-6, 6e-6) == 0).all()


def test_a_tree_allgather_runs_as_a_ring():
    args = (1e8, 16, 8, 2, 3e11, 5e10, 3e-6, 6e-6)
    assert co.allgather_s(Algorithm.TREE, *args) == co.allgather_s(Algorithm.RING, *args)


def test_registries_cover_every_algorithm_and_reject_unknown_codes():
    assert set(co.ALLREDUCE_METHODS) == set(co.ALLGATHER_METHODS) == set(Algorithm)
    with pytest.raises(ValueError, match="unknown code"):
        co.allreduce_s(np.array([0, 7]), 1e8, 8, 8, 1, 3e11, 5e10, 3e-6, 6e-6)


def test_volumes_are_the_bandwidth_optimal_ones():
    # 1 GB over 8 GPUs: all-reduce sends 1.75 GB per GPU, all-gather 0.875 GB
    assert co.allreduce_volume_bytes(1e9, 8) == pytest.approx(1.75e9)
    assert co.allgather_volume_bytes(1e9, 8) == pytest.approx(0.875e9)
    assert co.p2p_s(0.0, 1e9, 1e-5) == 0.0
