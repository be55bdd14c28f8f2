"""An independent second implementation of the model's core formulas, cross-checked.

Every ``ref_*`` function below is written from the papers (plain Python, scalar,
exact integer / ``Fraction`` arithmetic where possible), not from
``trainplan.model``; the tests compare it with the project's vectorised functions
on a few hundred random configurations (one vectorised call per test) and with
published numbers.

Sources
-------
* Parameter counts: Narayanan et al. 2021 (arXiv:2104.04473) eq. (2); Ainslie et
  al. 2023 (GQA, arXiv:2305.13245); Shazeer 2020 (GLU variants, arXiv:2002.05202);
  published counts of Llama-2-7B / Llama-3-8B / Llama-3-70B (Meta / Hugging Face).
* FLOPs: Korthikanti et al. 2022 (arXiv:2205.05198) eq. (7).
* Model-state memory: Rajbhandari et al. 2020 (ZeRO, arXiv:1910.02054) Sec. 3.1, 5.
* Activation memory: Korthikanti et al. 2022 Table 2.
* Pipeline bubble: Huang et al. (GPipe); Narayanan et al. 2021 Sec. 2.2.
* Collectives: Thakur, Rabenseifner, Gropp 2005 (ring all-reduce / all-gather).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import polars as pl
import pytest

from trainplan import evaluate
from trainplan.model import collectives, flops, memory, params, pipeline

N_CASES = 300
REL = 1e-12  # exact formulas
REL_SUM = 1e-9  # floating sums evaluated in a different order


def _close(got: float, want: float | Fraction, rel: float = REL) -> bool:
    return math.isclose(float(got), float(want), rel_tol=rel, abs_tol=0.0)


def _mismatches(got, want, rel: float = REL, label=None) -> list[str]:
    """Indices (with both values) where ``got[i]`` and ``want[i]`` differ beyond ``rel``."""
    got = np.broadcast_to(np.asarray(got, dtype=np.float64), (len(want),))
    out = []
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if not _close(g, w, rel):
            tag = label(i) if label else i
            out.append(f"{tag}: project={float(g)!r} reference={float(w)!r}")
    return out


# --------------------------------------------------------------------------------------
# Reference implementation (independent, from the papers)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arch:
    n_layers: int
    hidden: int
    n_heads: int
    n_kv_heads: int
    ffn_hidden: int
    gated_mlp: bool
    vocab: int
    seq_len: int
    tied_embeddings: bool
    linear_bias: bool
    layernorm: bool  # False: RMSNorm
    learned_positions: bool


def ref_layer_params(a: Arch) -> int:
    """One decoder layer: attention (GQA) + MLP + two norms."""
    h, nq, nkv, f = a.hidden, a.n_heads, a.n_kv_heads, a.ffn_hidden
    assert h % nq == 0
    d = h // nq
    # weight matrices as (rows, cols)
    mats = [
        (h, nq * d),  # Q
        (h, nkv * d),  # K
        (h, nkv * d),  # V
        (nq * d, h),  # O
    ]
    if a.gated_mlp:
        mats += [(h, f), (h, f), (f, h)]  # gate, up, down
    else:
        mats += [(h, f), (f, h)]
    n = sum(r * c for r, c in mats)
    if a.linear_bias:
        n += nq * d + 2 * nkv * d  # QKV biases
        n += h  # attention output bias
        n += 2 * f if a.gated_mlp else f  # first MLP layer bias
        n += h  # second MLP layer bias
    norm = 2 * h if a.layernorm else h
    n += 2 * norm
    return n


def ref_total_params(a: Arch) -> int:
    h = a.hidden
    n = a.n_layers * ref_layer_params(a)
    n += 2 * h if a.layernorm else h  # final norm
    n += a.vocab * h  # word embedding
    if a.learned_positions:
        n += a.seq_len * h
    if not a.tied_embeddings:
        n += a.vocab * h  # output layer
    return n


def ref_forward_flop(a: Arch, batch: int) -> int:
    """Forward FLOPs of ``batch`` sequences of ``a.seq_len`` tokens: every matmul, 2 per MAC."""
    s, h, nq, nkv, f = a.seq_len, a.hidden, a.n_heads, a.n_kv_heads, a.ffn_hidden
    d = h // nq

    def mm(m: int, k: int, n: int) -> int:  # (m x k) @ (k x n)
        return 2 * m * k * n

    per_seq_layer = 0
    per_seq_layer += mm(s, h, nq * d)  # Q
    per_seq_layer += mm(s, h, nkv * d)  # K
    per_seq_layer += mm(s, h, nkv * d)  # V
    for _head in range(nq):
        per_seq_layer += mm(s, d, s)  # Q_i K_i^T over the full s x s square
        per_seq_layer += mm(s, s, d)  # softmax(.) V_i
    per_seq_layer += mm(s, nq * d, h)  # output projection
    n_up = 2 if a.gated_mlp else 1
    per_seq_layer += n_up * mm(s, h, f) + mm(s, f, h)  # MLP
    per_seq = a.n_layers * per_seq_layer + mm(s, h, a.vocab)  # + logits
    return batch * per_seq


def ref_model_flop(a: Arch, batch: int) -> int:
    """Model FLOPs: forward + backward (= 2 x forward)."""
    return 3 * ref_forward_flop(a, batch)


def korthikanti_eq7(batch: int, seq: int, n_layers: int, hidden: int, vocab: int) -> Fraction:
    B, s, L, h, V = batch, seq, n_layers, hidden, vocab
    return 72 * B * L * s * h**2 * (1 + Fraction(s, 6 * h) + Fraction(V, 12 * h * L))


def narayanan_eq2(n_layers: int, hidden: int, vocab: int, seq: int) -> Fraction:
    l, h, V, s = n_layers, hidden, vocab, seq
    return 12 * l * h**2 * (1 + Fraction(13, 12 * h) + Fraction(V + s, 12 * l * h))


def ref_model_state_bytes(psi, nd: int, stage: int, wb, gb, ob) -> Fraction:
    """ZeRO Sec. 3.1/5: 2 Psi weights + 2 Psi gradients + K Psi optimizer states per GPU."""
    psi, wb, gb, ob = Fraction(psi), Fraction(wb), Fraction(gb), Fraction(ob)
    weights = wb * psi / (nd if stage >= 3 else 1)
    grads = gb * psi / (nd if stage >= 2 else 1)
    optim = ob * psi / (nd if stage >= 1 else 1)
    return weights + grads + optim


def ref_activation_bytes(s: int, b: int, h: int, a: int, t: int, sp: bool, rc: int) -> Fraction:
    """Korthikanti et al. 2022 Table 2 (16-bit activations, dropout, no fused attention)."""
    sbh = s * b * h
    if rc == 2:  # full recomputation: only the layer input, 2 bytes per element
        return Fraction(2 * sbh, t if sp else 1)
    attn_scores = Fraction(5 * a * s, h * t) if rc == 0 else Fraction(0)
    rest = Fraction(34, t) if sp else 10 + Fraction(24, t)
    return sbh * (rest + attn_scores)


def ref_bubble_fraction(p: int, m: int, v: int) -> Fraction:
    return Fraction(p - 1, v * m + p - 1)


def ref_ring_allreduce(n, g: int, beta, alpha) -> Fraction:
    n, beta, alpha = Fraction(n), Fraction(beta), Fraction(alpha)
    return 2 * (g - 1) * alpha + 2 * Fraction(g - 1, g) * n / beta


def ref_ring_allgather(n, g: int, beta, alpha) -> Fraction:
    n, beta, alpha = Fraction(n), Fraction(beta), Fraction(alpha)
    return (g - 1) * alpha + Fraction(g - 1, g) * n / beta


# --------------------------------------------------------------------------------------
# Random configurations
# --------------------------------------------------------------------------------------


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def random_arch(rng: random.Random) -> Arch:
    nq = rng.choice([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 40, 48, 64, 96, 112, 128])
    d = rng.choice([16, 32, 48, 64, 80, 96, 128, 256, rng.randint(1, 256)])
    h = nq * d
    return Arch(
        n_layers=rng.randint(1, 160),
        hidden=h,
        n_heads=nq,
        n_kv_heads=rng.choice(_divisors(nq)),
        ffn_hidden=rng.choice([4 * h, rng.randint(1, 8 * h)]),
        gated_mlp=rng.random() < 0.5,
        vocab=rng.randint(1, 300_000),
        seq_len=rng.randint(1, 32_768),
        tied_embeddings=rng.random() < 0.5,
        linear_bias=rng.random() < 0.5,
        layernorm=rng.random() < 0.5,
        learned_positions=rng.random() < 0.5,
    )


def gpt_arch(rng: random.Random) -> Arch:
    """A standard GPT layer: multi-head attention, f = 4h, GeLU MLP, biases, LayerNorm."""
    nq = rng.choice([8, 12, 16, 24, 32, 48, 64, 96, 128, 160])
    h = nq * rng.choice([64, 80, 96, 128, 160])
    return Arch(
        n_layers=rng.randint(1, 128),
        hidden=h,
        n_heads=nq,
        n_kv_heads=nq,
        ffn_hidden=4 * h,
        gated_mlp=False,
        vocab=rng.randint(1, 300_000),
        seq_len=rng.randint(1, 16_384),
        tied_embeddings=True,
        linear_bias=True,
        layernorm=True,
        learned_positions=True,
    )


def _cols(archs: list[Arch]) -> dict[str, np.ndarray]:
    out = {}
    for field in Arch.__dataclass_fields__:
        vals = [getattr(a, field) for a in archs]
        dtype = bool if isinstance(vals[0], bool) else np.float64
        out[field] = np.array(vals, dtype=dtype)
    return out


def _project_total_params(c: dict[str, np.ndarray]):
    return params.total_params(
        c["n_layers"], c["hidden"], c["n_heads"], c["n_kv_heads"], c["ffn_hidden"],
        c["gated_mlp"], c["vocab"], c["seq_len"], c["tied_embeddings"], c["linear_bias"],
        c["layernorm"], c["learned_positions"],
    )


def _project_model_flop(tokens, c: dict[str, np.ndarray]):
    return flops.model_flop(
        tokens, c["n_layers"], c["seq_len"], c["hidden"], c["n_heads"], c["n_kv_heads"],
        c["ffn_hidden"], c["gated_mlp"], c["vocab"],
    )


# Published architectures (Meta model cards / Hugging Face config.json; Brown et al. 2020;
# Narayanan et al. 2021 Table 1; BigScience BLOOM), used by the end-to-end check.
def _llama(L, h, a, kv, f, V, s):
    return Arch(L, h, a, kv, f, True, V, s, False, False, False, False)


def _gpt(L, h, a, V, s, learned=True):
    return Arch(L, h, a, a, 4 * h, False, V, s, True, True, True, learned)


PUBLISHED_ARCH = {
    "llama2-7b": _llama(32, 4096, 32, 32, 11008, 32000, 4096),
    "llama2-70b": _llama(80, 8192, 64, 8, 28672, 32000, 4096),
    "llama3-8b": _llama(32, 4096, 32, 8, 14336, 128256, 8192),
    "llama3-70b": _llama(80, 8192, 64, 8, 28672, 128256, 8192),
    "gpt3-175b": _gpt(96, 12288, 96, 51200, 2048),
    "megatron-gpt-18b": _gpt(40, 6144, 48, 51200, 2048),
    "bloom-176b": _gpt(70, 14336, 112, 250880, 2048, learned=False),  # ALiBi
}

PUBLISHED_PARAMS = {  # Meta / Hugging Face safetensors totals
    "llama2-7b": 6_738_415_616,
    "llama3-8b": 8_030_261_248,
    "llama3-70b": 70_553_706_496,
}


# --------------------------------------------------------------------------------------
# 1. Parameter counts
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_reference_params_match_published_counts(name):
    a = PUBLISHED_ARCH[name]
    assert ref_total_params(a) == PUBLISHED_PARAMS[name]
    got = _project_total_params(_cols([a]))
    assert float(np.asarray(got).ravel()[0]) == PUBLISHED_PARAMS[name]


def test_reference_params_gpt_is_narayanan_eq2_plus_final_norm():
    rng = random.Random(101)
    for _ in range(N_CASES):
        a = gpt_arch(rng)
        assert ref_layer_params(a) == 12 * a.hidden**2 + 13 * a.hidden
        want = narayanan_eq2(a.n_layers, a.hidden, a.vocab, a.seq_len) + 2 * a.hidden
        assert ref_total_params(a) == want


def test_total_params_matches_reference():
    rng = random.Random(1)
    archs = [random_arch(rng) for _ in range(N_CASES)]
    got = _project_total_params(_cols(archs))
    want = [ref_total_params(a) for a in archs]
    bad = _mismatches(got, want, REL, label=lambda i: archs[i])
    assert not bad, "\n".join(bad[:10])


def test_total_params_scalar_inputs_match_reference():
    rng = random.Random(2)
    for _ in range(30):
        a = random_arch(rng)
        got = params.total_params(
            a.n_layers, a.hidden, a.n_heads, a.n_kv_heads, a.ffn_hidden, a.gated_mlp,
            a.vocab, a.seq_len, a.tied_embeddings, a.linear_bias, a.layernorm,
            a.learned_positions,
        )
        assert _close(got, ref_total_params(a)), a


# --------------------------------------------------------------------------------------
# 2. Model FLOPs
# --------------------------------------------------------------------------------------


def test_reference_flop_is_korthikanti_eq7_for_gpt():
    rng = random.Random(102)
    for _ in range(100):
        a = gpt_arch(rng)
        b = rng.randint(1, 64)
        assert ref_model_flop(a, b) == korthikanti_eq7(b, a.seq_len, a.n_layers, a.hidden, a.vocab)


def test_model_flop_matches_reference():
    rng = random.Random(3)
    archs = [random_arch(rng) for _ in range(N_CASES)]
    batches = [rng.randint(1, 4096) for _ in archs]
    c = _cols(archs)
    tokens = np.array([b * a.seq_len for a, b in zip(archs, batches, strict=True)], dtype=float)
    got = _project_model_flop(tokens, c)
    want = [ref_model_flop(a, b) for a, b in zip(archs, batches, strict=True)]
    bad = _mismatches(got, want, REL, label=lambda i: (archs[i], batches[i]))
    assert not bad, "\n".join(bad[:10])


def test_model_flop_matches_korthikanti_eq7_for_gpt():
    rng = random.Random(4)
    archs = [gpt_arch(rng) for _ in range(N_CASES)]
    batches = [rng.randint(1, 4096) for _ in archs]
    c = _cols(archs)
    tokens = np.array([b * a.seq_len for a, b in zip(archs, batches, strict=True)], dtype=float)
    got = _project_model_flop(tokens, c)
    want = [
        korthikanti_eq7(b, a.seq_len, a.n_layers, a.hidden, a.vocab)
        for a, b in zip(archs, batches, strict=True)
    ]
    bad = _mismatches(got, want, REL, label=lambda i: (archs[i], batches[i]))
    assert not bad, "\n".join(bad[:10])


# --------------------------------------------------------------------------------------
# 3. ZeRO model-state memory
# --------------------------------------------------------------------------------------


def test_model_state_bytes_matches_reference():
    rng = random.Random(5)
    cases = [
        (
            float(rng.randint(1, 10**12)),
            rng.choice([1, 2, 3, 4, 8, 16, 64, 100, 256, 1024, rng.randint(1, 4096)]),
            rng.randint(0, 3),
            rng.choice([2.0, 4.0]),
            rng.choice([2.0, 4.0, 6.0]),
            rng.choice([12.0, 16.0, 8.0, 0.0]),
        )
        for _ in range(N_CASES)
    ]
    cols = [np.array(col, dtype=np.float64) for col in zip(*cases, strict=True)]
    got = memory.model_state_bytes(*cols)
    want = [ref_model_state_bytes(*case) for case in cases]
    bad = _mismatches(got, want, REL, label=lambda i: cases[i])
    assert not bad, "\n".join(bad[:10])


@pytest.mark.parametrize(
    ("stage", "printed_gb", "last_digit"),
    [(0, 120.0, 1.0), (1, 31.4, 0.1), (2, 16.6, 0.1), (3, 1.88, 0.01)],
)
def test_model_state_bytes_zero_table1_7p5b_dp64(stage, printed_gb, last_digit):
    """ZeRO Table 1, 7.5B model, Nd = 64 (GB = 1e9 bytes).

    The table prints 3 significant digits, sometimes truncated (16.64 -> 16.6), sometimes
    rounded (1.875 -> 1.88): accept anything within one unit of the last printed digit.
    """
    ref = float(ref_model_state_bytes(7.5e9, 64, stage, 2, 2, 12)) / 1e9
    assert abs(ref - printed_gb) < last_digit
    got = float(memory.model_state_bytes(7.5e9, 64, stage, 2.0, 2.0, 12.0)) / 1e9
    assert abs(got - printed_gb) < last_digit
    assert _close(got, ref)


# --------------------------------------------------------------------------------------
# 4. Activation memory (Korthikanti Table 2)
# --------------------------------------------------------------------------------------


def test_activation_bytes_per_layer_matches_korthikanti_table2():
    rng = random.Random(6)
    cases = []
    for _ in range(N_CASES):
        t = rng.choice([1, 2, 4, 8, 16])
        a = t * rng.choice([1, 2, 3, 4, 6, 8, 12, 16])
        h = a * rng.choice([32, 64, 80, 96, 128, 256])
        s = t * rng.randint(1, 4096)
        b = rng.randint(1, 16)
        sp = rng.random() < 0.5
        rc = rng.randint(0, 2)
        cases.append((s, b, h, a, t, sp, rc))
    s, b, h, a, t, sp, rc = (np.array(col) for col in zip(*cases, strict=True))
    f64 = np.float64
    got = memory.activation_bytes_per_layer(
        s.astype(f64), b.astype(f64), h.astype(f64), a.astype(f64), a.astype(f64),
        4.0 * h.astype(f64), np.zeros(len(cases), bool), np.ones(len(cases), bool),
        t.astype(f64), sp.astype(bool), rc.astype(f64), np.zeros(len(cases), bool),
    )
    want = [ref_activation_bytes(*case) for case in cases]
    bad = _mismatches(
        got, want, REL,
        label=lambda i: "s={} b={} h={} a={} t={} sp={} recompute={}".format(*cases[i]),
    )
    assert not bad, "\n".join(bad[:10])


# --------------------------------------------------------------------------------------
# 5. Pipeline bubble
# --------------------------------------------------------------------------------------


def test_bubble_fraction_matches_reference():
    rng = random.Random(7)
    cases = [(rng.randint(1, 64), rng.randint(1, 512), rng.randint(1, 8)) for _ in range(N_CASES)]
    p, m, v = (np.array(col, dtype=np.float64) for col in zip(*cases, strict=True))
    got = pipeline.bubble_fraction(p, m, v)
    want = [ref_bubble_fraction(*case) for case in cases]
    bad = _mismatches(got, want, REL, label=lambda i: "pp={} m={} vpp={}".format(*cases[i]))
    assert not bad, "\n".join(bad[:10])


# --------------------------------------------------------------------------------------
# 6. Ring collectives
# --------------------------------------------------------------------------------------


def _collective_cases(seed: int):
    rng = random.Random(seed)
    return [
        (
            rng.uniform(1.0, 1e11),
            rng.choice([1, 2, 3, 4, 8, 16, 64, rng.randint(1, 4096)]),
            rng.uniform(1e9, 1e12),
            rng.choice([0.0, rng.uniform(0.0, 2e-5)]),
        )
        for _ in range(N_CASES)
    ]


@pytest.mark.parametrize(
    ("project_fn", "ref_fn"),
    [
        (collectives.ring_allreduce_s, ref_ring_allreduce),
        (collectives.ring_allgather_s, ref_ring_allgather),
    ],
    ids=["ring_allreduce_s", "ring_allgather_s"],
)
def test_ring_collectives_match_reference(project_fn, ref_fn):
    cases = _collective_cases(8)
    cols = [np.array(col, dtype=np.float64) for col in zip(*cases, strict=True)]
    got = project_fn(*cols)
    want = [ref_fn(*case) for case in cases]
    bad = _mismatches(
        got, want, REL, label=lambda i: "n={} g={} beta={} alpha={}".format(*cases[i])
    )
    assert not bad, "\n".join(bad[:10])


# --------------------------------------------------------------------------------------
# 7. End to end through trainplan.evaluate
# --------------------------------------------------------------------------------------

GPUS = ["A100", "A100-SXM4-40GB", "H100", "H200", "B200", "GB200", "MI300X"]


def _e2e_configs(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        tp = rng.choice([1, 2, 4, 8])
        pp = rng.choice([1, 2, 4])
        cp = rng.choice([1, 1, 2])
        dp = rng.choice([1, 2, 3, 4, 8, 16, 32])
        micro = rng.choice([1, 2, 4])
        m = rng.randint(1, 16)
        rows.append({
            "model": rng.choice(sorted(PUBLISHED_ARCH)),
            "gpu": rng.choice(GPUS),
            "n_gpus": tp * pp * cp * dp,
            "tp": tp,
            "pp": pp,
            "cp": cp,
            "vpp": rng.choice([1, 2]) if pp > 1 else 1,
            "micro_batch": micro,
            "global_batch": dp * micro * m,
            "seq_len": rng.choice([1024, 2048, 4096, 8192]),
            "zero_stage": rng.randint(0, 3),
            "recompute": rng.choice(["none", "selective", "full"]),
            "seq_parallel": rng.random() < 0.5,
            "flash_attention": rng.random() < 0.5,
            "tokens_budget": float(rng.randint(10**9, 10**13)),
            "price_per_gpu_hour_usd": rng.choice([None, round(rng.uniform(0.5, 15.0), 2)]),
        })
    return rows


@pytest.fixture(scope="module")
def e2e():
    rows = _e2e_configs(random.Random(9), N_CASES)
    out = evaluate(pl.DataFrame(rows))
    assert out.height == len(rows)
    return rows, out.to_dicts()


def _check_rows(e2e, check) -> None:
    rows, outs = e2e
    bad = []
    for i, (row, out) in enumerate(zip(rows, outs, strict=True)):
        msg = check(row, out)
        if msg:
            bad.append(f"row {i} {row}: {msg}")
    assert not bad, f"{len(bad)} of {len(rows)} rows disagree:\n" + "\n".join(bad[:8])


def _arch_for(row: dict) -> Arch:
    base = PUBLISHED_ARCH[row["model"]]
    return Arch(**{**base.__dict__, "seq_len": row["seq_len"]})


def _cmp(name, got, want, rel=REL):
    return None if _close(got, want, rel) else f"{name}: project={got!r} reference={float(want)!r}"


def test_e2e_params_total(e2e):
    def check(row, out):
        return _cmp("params_total", out["params_total"], ref_total_params(_arch_for(row)))

    _check_rows(e2e, check)


def test_e2e_published_models_params_total(e2e):
    rows, outs = e2e
    seen = set()
    for row, out in zip(rows, outs, strict=True):
        if row["model"] in PUBLISHED_PARAMS:
            assert out["params_total"] == PUBLISHED_PARAMS[row["model"]], row
            seen.add(row["model"])
    assert seen == set(PUBLISHED_PARAMS)


def test_e2e_model_flop_per_step(e2e):
    def check(row, out):
        want = ref_model_flop(_arch_for(row), row["global_batch"])
        return _cmp("model_flop_per_step", out["model_flop_per_step"], want)

    _check_rows(e2e, check)


def test_e2e_parallel_degrees(e2e):
    def check(row, out):
        dp = row["n_gpus"] / (row["tp"] * row["pp"] * row["cp"])
        m = row["global_batch"] / (dp * row["micro_batch"])
        return _cmp("dp", out["dp"], dp) or _cmp("n_microbatches", out["n_microbatches"], m)

    _check_rows(e2e, check)


def test_e2e_achieved_tflops_consistent(e2e):
    def check(row, out):
        lhs = out["achieved_tflop_s_per_gpu"] * 1e12 * out["step_time_s"] * row["n_gpus"]
        return _cmp("achieved*1e12*step*n_gpus", lhs, out["model_flop_per_step"], REL_SUM)

    _check_rows(e2e, check)


def test_e2e_tokens_per_s_consistent(e2e):
    def check(row, out):
        lhs = out["tokens_per_s"] * out["step_time_s"]
        return _cmp("tokens_per_s*step_time_s", lhs, row["global_batch"] * row["seq_len"], REL_SUM)

    _check_rows(e2e, check)


def test_e2e_time_to_train_covers_budget(e2e):
    """Training time x throughput is the token budget, to within one step's tokens."""

    def check(row, out):
        tokens = out["time_to_train_days"] * 86400.0 * out["tokens_per_s"]
        step_tokens = row["global_batch"] * row["seq_len"]
        slack = step_tokens + REL_SUM * row["tokens_budget"]
        if abs(tokens - row["tokens_budget"]) > slack:
            return f"days*86400*tokens_per_s={tokens!r} budget={row['tokens_budget']!r}"
        return None

    _check_rows(e2e, check)


def test_e2e_gpu_hours_and_cost(e2e):
    def check(row, out):
        want_hours = row["n_gpus"] * out["time_to_train_days"] * 24.0
        msg = _cmp("gpu_hours", out["gpu_hours"], want_hours, REL_SUM)
        if row["price_per_gpu_hour_usd"] is not None:
            msg = msg or _cmp(
                "price_per_gpu_hour_usd", out["price_per_gpu_hour_usd"],
                row["price_per_gpu_hour_usd"],
            )
        want_cost = out["gpu_hours"] * out["price_per_gpu_hour_usd"]
        return msg or _cmp("cost_usd", out["cost_usd"], want_cost, REL_SUM)

    _check_rows(e2e, check)
