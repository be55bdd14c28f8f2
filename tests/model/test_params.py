"""Parameter counts against Narayanan et al. eq. (2), its Table 1 and published model cards."""

from __future__ import annotations

import numpy as np
import pytest

from trainplan import catalog
from trainplan.model import params as pa

# Narayanan et al. 2021 Table 1: (layers, hidden, heads, printed billions of parameters)
NARAYANAN_TABLE1 = [
    (24, 2304, 24, 1.7), (30, 3072, 32, 3.6), (36, 4096, 32, 7.5), (40, 6144, 48, 18.4),
    (48, 8192, 64, 39.1), (60, 10240, 80, 76.1), (80, 12288, 96, 145.6),
    (96, 16384, 128, 310.1), (105, 20480, 128, 529.6), (128, 25600, 160, 1008.0),
]
V, S = 51200, 2048


def gpt_total(l, h, a):
    return pa.total_params(l, h, a, a, 4 * h, False, V, S, True, True, True, True)


@pytest.mark.parametrize(("l", "h", "a", "billions"), NARAYANAN_TABLE1)
def test_narayanan_eq2_reproduces_table1(l, h, a, billions):
    eq2 = pa.narayanan_eq2_params(l, h, V, S)
    assert round(float(eq2) / 1e9, 1) == pytest.approx(billions, abs=0.051)
    # our architecture count = eq. (2) + the final LayerNorm (2h) that eq. (2) omits
    assert float(gpt_total(l, h, a)) == pytest.approx(float(eq2) + 2 * h, rel=1e-15)


# Hugging Face model cards / safetensors metadata: exact parameter counts
PUBLISHED_COUNTS = {
    "llama2-7b": 6_738_415_616,
    "llama2-13b": 13_015_864_320,
    "llama2-70b": 68_976_648_192,
    "llama3-8b": 8_030_261_248,
    "llama3-70b": 70_553_706_496,
    "llama3-405b": 405_853_388_800,
}


@pytest.mark.parametrize(("name", "count"), PUBLISHED_COUNTS.items())
def test_gqa_swiglu_parameter_counts(name, count):
    m = catalog.model(name)
    ours = pa.total_params(m["n_layers"], m["hidden"], m["n_heads"], m["n_kv_heads"],
                           m["ffn_hidden"], m["gated_mlp"], m["vocab"], m["default_seq_len"],
                           m["tied_embeddings"], m["linear_bias"], m["norm"] == "layernorm",
                           m["position_embedding"] == "learned")
    assert float(ours) == count


def test_tensor_parallel_split_keeps_the_total():
    h, a, kv, f = 8192, 64, 8, 28672
    total = pa.layer_params(h, a, kv, f, True, False, False)
    per_rank = pa.layer_params_per_tp_rank(h, a, kv, f, True, False, False, 8)
    replicated = total - pa.layer_params_tp_sharded(h, a, kv, f, True, False)
    assert float(per_rank * 8 - 7 * replicated) == pytest.approx(float(total), rel=1e-15)


def test_formulas_broadcast():
    l = np.array([24, 96])[:, None]
    h = np.array([2304, 12288, 25600])[None, :]
    out = pa.narayanan_eq2_params(l, h, V, S)
    assert out.shape == (2, 3)
    assert out[1, 2] == pa.narayanan_eq2_params(96, 25600, V, S)
