"""Mixture-of-experts models in the step model: counts against the catalog and the published
figures, properties of expert parallelism, and the dense limit."""

from __future__ import annotations

import itertools

import polars
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainplan import catalog
from trainplan.model import feasibility as fe
from trainplan.model.moe_params import model_params
from trainplan.schema.table import evaluate

B = 1e9


def _run(rows: list[dict]) -> list[dict]:
    return evaluate(polars.DataFrame(rows)).to_dicts()


def _moe_row(**changes) -> dict:
    row = {"model": "deepseek-v3", "gpu": "H100-SXM5-80GB", "n_gpus": 1024, "tp": 1, "pp": 16,
           "ep": 64, "micro_batch": 1, "global_batch": 4096, "recompute": "full"}
    return {**row, **changes}


@pytest.mark.parametrize("name", catalog.moe_model_names())
def test_the_step_model_counts_what_the_catalog_counts(name):
    """params_total and params_active of the evaluated table are the counts of
    moe_params.model_params (tested against the published figures in test_moe_params)."""
    expected = model_params(catalog.find_moe_model(name))
    got = _run([_moe_row(model=name, n_gpus=64, pp=1, ep=8, global_batch=64)])[0]
    assert got["params_total"] == pytest.approx(float(expected.total), rel=2e-3)
    assert got["params_active"] == pytest.approx(float(expected.active), rel=5e-3)


def test_deepseek_v3_is_671b_with_37b_active():
    got = _run([_moe_row()])[0]
    assert got["params_total"] / B == pytest.approx(671.0, rel=5e-3)
    # DeepSeek's 37 B counts the embedding lookup; the output column does not
    embedding = 129280 * 7168
    assert (got["params_active"] + embedding) / B == pytest.approx(37.0, rel=0.02)
    assert got["comm_ep_bytes_per_step"] > 0 and got["ep_exposed_s"] > 0


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(catalog.moe_model_names()), st.sampled_from([1, 2, 4]),
       st.sampled_from([0, 1, 3]))
def test_more_expert_parallelism_never_needs_more_memory(name, tp, zero):
    """Doubling ep splits the experts over more GPUs: weights shrink, the expert states stay
    sharded over the same tp*cp*dp ranks, routed activations per GPU do not change."""
    entry = catalog.find_moe_model(name)
    eps = [ep for ep in (1, 2, 4, 8, 16, 32) if entry["n_experts"] % ep == 0]
    rows = [_moe_row(model=name, n_gpus=64 * tp, tp=tp, pp=1, ep=ep, zero_stage=zero,
                     global_batch=64, recompute="full") for ep in eps]
    out = _run(rows)
    experts = [r["memory_weights_bytes"] + r["memory_gradients_bytes"]
               + r["memory_optimizer_bytes"] for r in out]
    totals = [r["memory_total_bytes"] for r in out]
    assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(experts))
    assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(totals))


@settings(max_examples=30, deadline=None)
@given(st.integers(4, 48), st.sampled_from([2048, 4096, 5120, 8192]),
       st.sampled_from([8, 16, 32]), st.sampled_from([2.0, 2.6875, 3.5, 4.0]),
       st.sampled_from([1, 2]), st.sampled_from(["none", "full"]))
def test_one_expert_with_top_1_is_the_dense_model_plus_its_router(layers, hidden, heads, ratio,
                                                                   tp, recompute):
    """n_experts = 1, top_k = 1 and the expert as wide as the MLP: the parameters differ by
    the router (h per layer), model FLOPs by its GEMM (3 x 2 T h per layer), and the step
    time only by the router's GEMM and the permutation of the routed copy (3-7 % for these
    small models: a one-column router GEMM still runs whole tiles)."""
    ffn = int(hidden * ratio) // 64 * 64
    dense = {"n_layers": layers, "hidden": hidden, "n_heads": heads, "n_kv_heads": heads,
             "ffn_hidden": ffn, "gated_mlp": True, "vocab": 32000, "tied_embeddings": False,
             "linear_bias": False, "position_embedding": "rope", "norm": "rmsnorm",
             "dropout": False, "seq_len": 2048, "gpu": "H100-SXM5-80GB", "n_gpus": 8 * tp,
             "tp": tp, "micro_batch": 1, "global_batch": 64, "recompute": recompute}
    # the expert split as the MLP is (etp = tp): etp = 1 would hold it whole on every rank
    plain, moe = _run([dense, {**dense, "n_experts": 1, "top_k": 1, "etp": tp}])
    tokens = 64 * 2048
    assert moe["params_total"] - plain["params_total"] == pytest.approx(layers * hidden)
    assert moe["model_flop_per_step"] - plain["model_flop_per_step"] == pytest.approx(
        3 * layers * 2 * tokens * hidden, rel=1e-9)
    assert moe["comm_ep_bytes_per_step"] == 0
    assert plain["step_time_s"] < moe["step_time_s"] < 1.08 * plain["step_time_s"]
    extra_compute = moe["compute_time_s"] - plain["compute_time_s"]
    # and the router's gradient reduction and optimizer step (h parameters per layer)
    assert moe["step_time_s"] - plain["step_time_s"] <= extra_compute * 1.05
    assert moe["memory_total_bytes"] >= plain["memory_total_bytes"]


def test_expert_parallelism_that_does_not_divide_is_refused_with_its_reason():
    rows = [_moe_row(ep=48),                          # 256 experts not divisible by 48
            _moe_row(ep=128, n_gpus=1024, pp=16),     # ep*etp = 128 > tp*cp*dp = 64
            {**_moe_row(model="llama3-8b", n_gpus=8, pp=1, ep=2)}]   # dense model
    for row in _run(rows):
        assert row["infeasible_flags"] & int(fe.EXPERTS), row
        assert "ep must divide n_experts" in row["reason"]
    assert not _run([_moe_row()])[0]["infeasible_flags"] & int(fe.EXPERTS)


def test_the_all_to_all_is_cheaper_inside_the_nvlink_domain():
    """ep = 8 stays on the node's NVLink; ep = 16 sends half of every dispatch over the
    NICs: the same routed rows take longer per layer."""
    inside, across = _run([_moe_row(ep=8), _moe_row(ep=16)])
    per_step = [r["comm_ep_time_s"] / r["n_microbatches"] for r in (inside, across)]
    assert per_step[1] > 2 * per_step[0]


def test_mfu_is_on_active_flops():
    """The model FLOPs of DeepSeek-V3 are those of its ~37 B active parameters: within 15 %
    of 6 x 37 B per token plus attention, far below 6 x 671 B."""
    got = _run([_moe_row()])[0]
    tokens = 4096 * 4096
    per_token = got["model_flop_per_step"] / tokens
    assert 6 * 37e9 < per_token < 1.6 * 6 * 37e9
    assert per_token < 0.1 * 6 * 671e9


@pytest.mark.parametrize(("seq", "window", "chunked", "share", "keys"),
                         [(4096, 128, False, 0.5, 256), (8192, 2048, True, 0.75, 2048),
                          (1024, 8192, True, 0.75, 1024), (256, 128, False, 0.5, 256)])
def test_local_attention_costs_the_keys_it_reads(seq, window, chunked, share, keys):
    """A share of layers attending over a window: the attention-core FLOPs of those layers
    are those of full causal attention over s_eff keys (2w sliding, w chunked, at most s);
    nothing else changes."""
    row = {"model": "llama3-8b", "gpu": "H100-SXM5-80GB", "n_gpus": 8, "global_batch": 8,
           "seq_len": seq, "recompute": "none"}
    full, local = _run([row, {**row, "sliding_window": window, "sliding_window_share": share,
                              "chunked_attention": chunked}])
    tokens, layers, hidden = 8 * seq, 32, 4096
    core_full = 3 * layers * 4 * tokens * seq * hidden       # full square, forward + backward
    saved = core_full * share * (1 - keys / seq)
    assert full["model_flop_per_step"] - local["model_flop_per_step"] == pytest.approx(
        saved, rel=1e-9, abs=1.0)
    assert local["params_total"] == full["params_total"]
    assert local["step_time_s"] <= full["step_time_s"]


def test_gpt_oss_attends_locally_in_half_its_layers():
    row = _moe_row(model="gpt-oss-120b", n_gpus=64, pp=1, ep=8, global_batch=64,
                   seq_len=8192)
    windowed, full = _run([row, {**row, "sliding_window": 0}])
    assert windowed["model_flop_per_step"] < full["model_flop_per_step"]
    assert windowed["step_time_s"] < full["step_time_s"]


def test_deepseek_v3_trains_its_multi_token_prediction_module_on_the_last_stage():
    """One MTP module: model FLOPs grow by about one layer and one output layer (3-6 %), the
    last stage computes and holds more, params_total stays the published 671 B."""
    with_mtp, without = _run([_moe_row(), _moe_row(mtp_layers=0)])
    assert with_mtp["params_total"] == without["params_total"]
    growth = with_mtp["model_flop_per_step"] / without["model_flop_per_step"] - 1
    assert 0.02 < growth < 0.06
    assert with_mtp["step_time_s"] > without["step_time_s"]
    assert with_mtp["memory_total_bytes"] >= without["memory_total_bytes"]


def test_selective_recomputation_of_an_moe_model_recomputes_its_modules():
    """With experts, selective is Megatron-Core's core_attn + moe_act + layernorm (+
    mla_up_proj): less memory than no recomputation, a little more time, and far less
    memory than the attention core alone would save (which is nothing with FlashAttention)."""
    none, selective, full = _run([_moe_row(recompute=r, n_gpus=2048, global_batch=15360)
                                  for r in ("none", "selective", "full")])
    assert full["memory_activations_bytes"] < selective["memory_activations_bytes"] \
        < 0.7 * none["memory_activations_bytes"]
    assert none["step_time_s"] < selective["step_time_s"] < full["step_time_s"]


@pytest.mark.parametrize("top_k", [2, 4, 8])
def test_in_fp8_finer_experts_cast_more_rows_at_the_same_active_width(top_k):
    """Top-k experts of width f/k have the FLOPs of one of width f, but their grouped GEMMs
    quantise k routed copies of every token's input (and of the output gradient): FP8 makes
    the finer split slower by more than BF16 does."""
    base = {"n_layers": 8, "hidden": 4096, "n_heads": 32, "n_kv_heads": 8, "ffn_hidden": 8192,
            "gated_mlp": True, "vocab": 32000, "tied_embeddings": False, "linear_bias": False,
            "position_embedding": "rope", "norm": "rmsnorm", "dropout": False,
            "seq_len": 4096, "gpu": "B200", "n_gpus": 8, "tp": 1, "micro_batch": 2,
            "global_batch": 64, "recompute": "none", "n_experts": 8, "ep": 8}
    rows = [{**base, "top_k": k, "moe_ffn_hidden": 8192 // k, "precision": p}
            for p in ("bf16", "fp8") for k in (1, top_k)]
    bf16_one, bf16_k, fp8_one, fp8_k = (r["step_time_s"] for r in _run(rows))
    assert fp8_k - fp8_one > bf16_k - bf16_one > 0


@pytest.mark.parametrize("recompute_moe", [False, True])
def test_a_slower_grouped_gemm_slows_only_gpus_that_hold_several_experts(recompute_moe):
    """``grouped_gemm_efficiency`` prices the grouped GEMM of a GPU's local experts: with 4
    DeepSeek-V3 experts per GPU (ep 64) a lower value costs time, and the repeated forward of
    whole recomputed MoE blocks costs more with it; with one expert per GPU (ep 256) the
    experts run as plain GEMMs and it changes nothing."""
    def compute_s(ep, efficiency):
        row = _moe_row(n_gpus=4096, ep=ep, recompute="none", recompute_moe=recompute_moe,
                       grouped_gemm_efficiency=efficiency)
        return _run([row])[0]["compute_time_s"]

    assert compute_s(256, 0.5) == pytest.approx(compute_s(256, 1.0), rel=1e-12)
    assert compute_s(64, 0.5) > 1.05 * compute_s(64, 1.0)


def test_recomputed_moe_blocks_repeat_the_grouped_gemm_at_its_efficiency():
    """The extra time of ``recompute_moe`` grows when the grouped GEMM is slower: the repeated
    forward runs the same grouped GEMM."""
    def extra_s(efficiency):
        rows = [_moe_row(n_gpus=4096, ep=64, recompute="none", recompute_moe=flag,
                         grouped_gemm_efficiency=efficiency) for flag in (False, True)]
        kept, recomputed = _run(rows)
        return recomputed["compute_time_s"] - kept["compute_time_s"]

    assert extra_s(0.5) > 1.1 * extra_s(1.0)
