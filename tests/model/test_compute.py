"""The GEMM model against its limits and published matmul microbenchmarks; the layer stages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainplan import catalog
from trainplan.model import compute as cm
from trainplan.model.choices import Recompute

HALF_DIM_PER_SM_TFLOP_S = 170.0   # schema default (one constant for every GPU)
HALF_K = 64.0                     # schema default


def gpu(name):
    g = catalog.gpu(name)
    peak = g["bf16_tflop_s"] * 1e12
    half = cm.gemm_half_dim(HALF_DIM_PER_SM_TFLOP_S, peak, g["sm_count"])
    return peak, g["gemm_efficiency_16bit"], half, g["hbm_gbyte_s"] * 1e9


@given(st.floats(1e9, 1e12), st.floats(0.1, 1.0), st.floats(16, 4096), st.floats(16, 512))
def test_efficiency_tends_to_its_maximum_for_large_matrices(d, eta_max, half, half_k):
    assert cm.gemm_efficiency(d, d, d, eta_max, half, half_k) == pytest.approx(eta_max, rel=1e-5)


@given(st.floats(0.1, 1.0), st.floats(16, 4096))
def test_efficiency_halves_at_the_half_dimension(eta_max, half):
    huge = 1e15
    assert cm.gemm_efficiency(half, huge, huge, eta_max, half, 64.0) == pytest.approx(
        eta_max / 2, rel=1e-9)
    assert cm.gemm_efficiency(huge, huge, 64.0, eta_max, half, 64.0) == pytest.approx(
        eta_max / 2, rel=1e-9)


@settings(max_examples=50)
@given(st.integers(1, 16384), st.integers(1, 16384), st.integers(1, 16384))
def test_gemm_time_is_never_below_either_roofline(m, n, k):
    peak, eta, half, hbm = gpu("H100-SXM5-80GB")
    t = cm.gemm_time_s(m, n, k, peak, eta, half, HALF_K, hbm, 2.0)
    assert t >= 2.0 * m * n * k / peak                        # never above the dense peak
    assert t >= 2.0 * (m * k + k * n + m * n) / hbm * (1 - 1e-12)   # nor above HBM bandwidth


def test_skinny_gemm_is_bound_by_hbm_when_memory_is_slow():
    """A matrix-vector product (m = 1) moves the 8192 x 8192 bf16 weight, 134.25 MB, for
    2 FLOP per weight: over a 100 GB/s memory that takes 1.34 ms, which is the GEMM's time
    (the roofline's memory-bound side)."""
    peak, eta, half, _ = gpu("H100-SXM5-80GB")
    t = cm.gemm_time_s(1, 8192, 8192, peak, eta, half, HALF_K, 100e9, 2.0)
    assert float(t) == pytest.approx(134_250_496 / 100e9, rel=1e-12)


ISSUE_9 = "issue 9: the GEMM saturation law under-predicts large square GEMMs"


# S. Bekman, ml-engineering, compute/accelerator "Maximum Achievable Matmul FLOPS comparison
# table" (mamf-finder, bf16): A100 SXM 271.2 TFLOP/s, H100 SXM 794.5 TFLOP/s; the best shapes
# are large square-ish GEMMs such as 8192^3. Tolerance 5 %.
@pytest.mark.parametrize(("name", "measured_tflop_s"), [
    pytest.param("A100-SXM4-80GB", 271.2, marks=pytest.mark.xfail(strict=True, reason=ISSUE_9)),
    pytest.param("H100-SXM5-80GB", 794.5, marks=pytest.mark.xfail(strict=True, reason=ISSUE_9)),
])
def test_large_square_gemm_reaches_the_published_achievable_flops(name, measured_tflop_s):
    peak, eta, half, hbm = gpu(name)
    d = 8192
    t = cm.gemm_time_s(d, d, d, peak, eta, half, HALF_K, hbm, 2.0)
    assert 2.0 * d**3 / float(t) / 1e12 == pytest.approx(measured_tflop_s, rel=0.05)


def test_large_square_gemm_is_in_the_published_range_today():
    """Until issue 9 is fixed: 8192^3 bf16 on H100 runs between half and all of the
    measured 794.5 TFLOP/s (Bekman's MAMF table)."""
    peak, eta, half, hbm = gpu("H100-SXM5-80GB")
    t = cm.gemm_time_s(8192, 8192, 8192, peak, eta, half, HALF_K, hbm, 2.0)
    assert 0.5 * 794.5 < 2.0 * 8192**3 / float(t) / 1e12 < 794.5


def test_faster_sms_need_larger_matrices():
    a100 = cm.gemm_half_dim(HALF_DIM_PER_SM_TFLOP_S, 312e12, 108)
    h100 = cm.gemm_half_dim(HALF_DIM_PER_SM_TFLOP_S, 989.4e12, 132)
    assert float(a100) == pytest.approx(491, abs=1)     # the input table's source note
    assert float(h100) == pytest.approx(1274, abs=1)


def test_recompute_forward_selects_by_choice():
    codes = np.array([Recompute.NONE, Recompute.SELECTIVE, Recompute.FULL])
    np.testing.assert_array_equal(cm.recompute_forward_s(codes, 3.0, 1.0), [0.0, 1.0, 3.0])


def test_optimizer_step_is_hbm_bound_and_sharded_from_zero_stage_one():
    # 8e9 parameters x 30 bytes over 3 TB/s = 80 ms; ZeRO-1 over 8 GPUs: 10 ms
    t = cm.optimizer_step_s(8e9, 8, np.array([0, 1, 3]), 30.0, 3e12)
    np.testing.assert_allclose(t, [0.08, 0.01, 0.01], rtol=1e-12)


def test_fused_attention_backward_costs_two_and_a_half_forwards():
    assert cm.FLASH_BACKWARD_RATIO == 5 / 2   # FlashAttention-2 Sec. 3: 5 matmuls vs 2
