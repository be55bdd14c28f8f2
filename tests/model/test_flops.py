"""FLOP counts against the published conventions (Narayanan eq. 3, Korthikanti eq. 7-8,
Megatron-Core, PaLM)."""

from __future__ import annotations

import pytest

from trainplan import catalog
from trainplan.model import flops as fl
from trainplan.model import params as pa

NARAYANAN_TABLE1 = [
    (24, 2304, 24), (30, 3072, 32), (36, 4096, 32), (40, 6144, 48), (48, 8192, 64),
    (60, 10240, 80), (80, 12288, 96), (96, 16384, 128), (105, 20480, 128), (128, 25600, 160),
]
V, S = 51200, 2048


@pytest.mark.parametrize(("l", "h", "a"), NARAYANAN_TABLE1)
def test_full_recompute_hardware_flops_equal_eq3(l, h, a):
    batch = 512
    ours = fl.hardware_flop(batch * S, l, S, h, a, a, 4 * h, False, V, 2)
    assert float(ours) == pytest.approx(float(fl.narayanan_eq3_flop(batch, S, l, h, V)), rel=1e-12)


@pytest.mark.parametrize(("l", "h", "a"), NARAYANAN_TABLE1)
def test_model_flops_equal_korthikanti_eq7(l, h, a):
    batch = 64
    ours = fl.model_flop(batch * S, l, S, h, a, a, 4 * h, False, V)
    assert float(ours) == pytest.approx(float(fl.korthikanti_eq7_model_flop(batch, S, l, h, V)),
                                        rel=1e-12)


def test_korthikanti_eq8_adds_three_attention_cores_to_eq7():
    b, s, l, h = 8, 2048, 48, 6144
    diff = fl.korthikanti_eq8_hardware_flop(b, s, l, h, V) - fl.korthikanti_eq7_model_flop(
        b, s, l, h, V)
    assert float(diff) == pytest.approx(12 * b * l * s**2 * h, rel=1e-12)
    # our selective recompute adds the recomputed forward only: one attention core per layer
    extra = fl.recompute_flop(b * s, l, s, h, 48, 48, 4 * h, False, 1)
    assert float(extra) == pytest.approx(4 * b * l * s**2 * h, rel=1e-12)


@pytest.mark.parametrize("name", ["llama2-70b", "llama3-8b", "llama3-405b", "gpt3-175b"])
def test_model_flops_equal_megatron_core_formula(name):
    m = catalog.model(name)
    b, s = 16, m["default_seq_len"]
    args = (m["n_layers"], m["hidden"], m["n_heads"], m["n_kv_heads"], m["ffn_hidden"],
            m["gated_mlp"], m["vocab"])
    ours = fl.model_flop(b * s, m["n_layers"], s, *args[1:])
    assert float(ours) == pytest.approx(float(fl.megatron_core_flop(b, s, *args)), rel=1e-12)


def test_palm_convention_is_model_flops_per_token_for_full_attention():
    m = catalog.model("llama3-8b")
    s = 8192
    n = pa.total_params(m["n_layers"], m["hidden"], m["n_heads"], m["n_kv_heads"],
                        m["ffn_hidden"], True, m["vocab"], s, False, False, False, False)
    n_non_embedding = n - m["vocab"] * m["hidden"]   # the input lookup costs no matmul
    palm = fl.palm_model_flop_per_token(n_non_embedding, m["n_layers"], m["hidden"], s)
    ours = fl.model_flop(1, m["n_layers"], s, m["hidden"], m["n_heads"], m["n_kv_heads"],
                         m["ffn_hidden"], True, m["vocab"])
    # 6N counts the norms' parameters too (a few ppm)
    assert float(ours) == pytest.approx(float(palm), rel=1e-4)
