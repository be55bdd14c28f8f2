"""The GEMM model against its limits and published matmul microbenchmarks; the layer stages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainplan import catalog
from trainplan.model import compute as cm
from trainplan.model.choices import Recompute

TILE_ELEMENTS = 32768.0           # schema default (one value for every GPU)
HALF_K = 128.0                    # schema default


def gpu(name):
    g = catalog.gpu(name)
    peak = g["bf16_tflop_s"] * 1e12
    wave = cm.gemm_wave_elements(TILE_ELEMENTS, g["sm_count"])
    return peak, g["gemm_efficiency_16bit"], wave, g["hbm_gbyte_s"] * 1e9


dims = st.floats(1.0, 1e6)


@given(st.floats(1e9, 1e12), st.floats(0.1, 1.0), st.floats(1e3, 1e7), st.floats(16, 512))
def test_efficiency_tends_to_its_maximum_for_large_matrices(d, eta_max, wave, half_k):
    assert cm.gemm_efficiency(d, d, d, eta_max, wave, half_k) == pytest.approx(eta_max, rel=1e-5)


@given(dims, dims, dims, st.sampled_from([0, 1, 2]), st.floats(1.0, 4.0),
       st.floats(0.1, 1.0), st.floats(1e3, 1e7), st.floats(0, 512))
def test_efficiency_never_falls_as_a_dimension_grows_and_stays_below_its_maximum(
        m, n, k, axis, growth, eta_max, wave, half_k):
    small = cm.gemm_efficiency(m, n, k, eta_max, wave, half_k)
    grown = [m, n, k]
    grown[axis] *= growth
    large = cm.gemm_efficiency(*grown, eta_max, wave, half_k)
    assert small <= large * (1 + 1e-12)
    assert large <= eta_max * (1 + 1e-12)


def test_an_output_of_half_a_wave_leaves_half_the_sms_idle():
    wave = cm.gemm_wave_elements(TILE_ELEMENTS, 132)
    huge = 1e15
    assert cm.gemm_efficiency(1.0, wave / 2, huge, 0.8, wave, HALF_K) == pytest.approx(0.4)
    assert cm.gemm_efficiency(huge, huge, HALF_K, 0.8, wave, HALF_K) == pytest.approx(0.4)


@settings(max_examples=50)
@given(st.integers(1, 16384), st.integers(1, 16384), st.integers(1, 16384))
def test_gemm_time_is_never_below_either_roofline(m, n, k):
    peak, eta, wave, hbm = gpu("H100-SXM5-80GB")
    t = cm.gemm_time_s(m, n, k, peak, eta, wave, HALF_K, hbm, 2.0)
    assert t >= 2.0 * m * n * k / peak                        # never above the dense peak
    assert t >= 2.0 * (m * k + k * n + m * n) / hbm * (1 - 1e-12)   # nor above HBM bandwidth


def test_skinny_gemm_is_bound_by_hbm_when_memory_is_slow():
    """A matrix-vector product (m = 1) moves the 8192 x 8192 bf16 weight, 134.25 MB, for
    2 FLOP per weight: over a 100 GB/s memory that takes 1.34 ms, which is the GEMM's time
    (the roofline's memory-bound side)."""
    peak, eta, wave, _ = gpu("H100-SXM5-80GB")
    t = cm.gemm_time_s(1, 8192, 8192, peak, eta, wave, HALF_K, 100e9, 2.0)
    assert float(t) == pytest.approx(134_250_496 / 100e9, rel=1e-12)


def test_fp8_gemm_writes_a_16bit_output():
    """m = n = 8192, k = 1 over 1 GB/s: FP8 inputs of 8192 bytes each, a 16-bit output of
    134.2 MB (Transformer Engine's FP8 GEMMs return 16-bit results)."""
    peak, eta, wave, _ = gpu("H100-SXM5-80GB")
    t = cm.gemm_time_s(8192, 8192, 1, 2 * peak, eta, wave, HALF_K, 1e9, 1.0)
    assert float(t) == pytest.approx((2 * 8192 + 2 * 8192**2) / 1e9, rel=1e-12)


def test_recompute_forward_selects_by_choice():
    codes = np.array([Recompute.NONE, Recompute.SELECTIVE, Recompute.FULL])
    np.testing.assert_array_equal(cm.recompute_forward_s(codes, 3.0, 1.0), [0.0, 1.0, 3.0])


def test_optimizer_step_is_hbm_bound_and_sharded_from_zero_stage_one():
    # 8e9 parameters x 30 bytes over 3 TB/s = 80 ms; ZeRO-1 over 8 GPUs: 10 ms
    t = cm.optimizer_step_s(8e9, 8, np.array([0, 1, 3]), 30.0, 3e12)
    np.testing.assert_allclose(t, [0.08, 0.01, 0.01], rtol=1e-12)


def test_fused_attention_backward_costs_two_and_a_half_forwards():
    assert cm.FLASH_BACKWARD_RATIO == 5 / 2   # FlashAttention-2 Sec. 3: 5 matmuls vs 2
