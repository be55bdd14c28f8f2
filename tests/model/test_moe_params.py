"""Parameter counts of the mixture-of-experts catalog against the published totals and
active counts.

Publishers count "active" differently: OpenAI (gpt-oss) leaves out the input embedding, a
lookup, as :func:`model_params` does; Mistral and Qwen include it. Each published figure
below says which it is, so that the comparison is like for like.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainplan import catalog
from trainplan.model.blocks import layer_params
from trainplan.model.moe_params import model_params

B = 1e9
# (model, total [B], active [B], active counts the input embedding, source)
PUBLISHED = [
    ("deepseek-v3", 671.0, None, None,
     "DeepSeek-V3 README: 671B total (main model, without the 14B MTP module)"),
    ("qwen3-30b-a3b", 30.5, None, None, "Qwen3-30B-A3B model card: 30.5B in total"),
    ("qwen3-235b-a22b", 235.0, 22.0, True,
     "Qwen3-235B-A22B model card: 235B in total, 22B activated"),
    ("gpt-oss-20b", 20.91, 3.61, False, "gpt-oss model card (arXiv:2508.10925), Table 1"),
    ("gpt-oss-120b", 116.83, 5.13, False, "gpt-oss model card (arXiv:2508.10925), Table 1"),
    ("mixtral-8x7b", 46.7, 12.9, True,
     "Mistral AI model documentation: 12.9B active of 46.7B (the paper rounds to 47B/13B)"),
    ("mixtral-8x22b", 141.0, 39.0, True, "mistral.ai/news/mixtral-8x22b: 39B active of 141B"),
    ("llama4-maverick", 400.0, 17.0, True, "meta-llama/llama-models MODEL_CARD.md: 17B/400B"),
]
TOLERANCE = 0.005
"""Half a percent, the acceptance of the catalog; a published figure rounded to two digits
(22B, 39B, 17B) carries up to 2.5 % of rounding, which the tolerance below widens to."""


def _counts(name: str):
    entry = catalog.find_moe_model(name)
    return entry, model_params(entry)


def _rounding(published: float) -> float:
    """Relative rounding of a published figure given to its last printed digit."""
    text = f"{published:g}"
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10 ** -decimals / published


@pytest.mark.parametrize(("name", "total", "active", "with_embedding", "source"), PUBLISHED,
                         ids=[p[0] for p in PUBLISHED])
def test_counts_match_the_published_figures(name, total, active, with_embedding, source):
    entry, p = _counts(name)
    tol = max(TOLERANCE, _rounding(total))
    assert float(p.total) / B == pytest.approx(total, rel=tol), source
    if active is not None:
        counted = float(p.active) + (entry["vocab"] * entry["hidden"] if with_embedding else 0)
        assert counted / B == pytest.approx(active, rel=max(TOLERANCE, _rounding(active))), \
            source


def test_deepseek_v3_mtp_module_and_active_count():
    # README_WEIGHTS: the MTP module has 11.5B unique parameters (it shares the embedding
    # and output head); activated 36.7B, which the README says includes the 0.9B embedding
    # and the 0.9B head, while counting the layers gives 37.5B with both: the 37B of the
    # abstract lies between
    entry, p = _counts("deepseek-v3")
    assert float(p.mtp) / B == pytest.approx(11.5, rel=0.02)
    with_embedding = (float(p.active) + entry["vocab"] * entry["hidden"]) / B
    assert 36.7 < with_embedding < 37.6


@pytest.mark.parametrize(("name", "non_embedding", "activated"),
                         [("qwen3-30b-a3b", 29.9, 3.3), ("qwen3-235b-a22b", 234.0, 22.0)])
def test_qwen3_non_embedding_totals_and_truncated_active_counts(name, non_embedding, activated):
    # the model cards' "Non-Embedding" totals leave out the embedding and the untied head;
    # their activated counts (with the embedding) are cut, not rounded, to the digit shown
    entry, p = _counts(name)
    embedding = entry["vocab"] * entry["hidden"]
    assert (float(p.total) - 2 * embedding) / B == pytest.approx(
        non_embedding, rel=max(TOLERANCE, _rounding(non_embedding)))
    counted = (float(p.active) + embedding) / B
    step = 0.1 if activated < 10 else 1.0
    assert activated <= counted < activated + step


@pytest.mark.xfail(strict=True, reason="Kimi K2: the listed shapes give 1.026T total; the "
                   "technical report (arXiv:2507.20534) gives 1.04T, the README 1T")
def test_kimi_k2_total_matches_its_technical_report():
    _, p = _counts("kimi-k2")
    assert float(p.total) / B == pytest.approx(1040.0, rel=TOLERANCE)


def test_llama4_scout_text_model_is_the_published_total_less_the_vision_encoder():
    # 109B published for the multimodal model; the text decoder alone is 107.8B
    _, p = _counts("llama4-scout")
    assert 105.0 < float(p.total) / B < 109.0
    assert float(p.active) / B == pytest.approx(17.0 - 1.03, rel=0.02)   # 17B with embedding


@given(st.integers(1, 8), st.sampled_from([1024, 2048, 4096]), st.integers(1, 16))
def test_one_expert_used_by_every_token_is_the_dense_model_plus_its_router(layers, hidden,
                                                                             heads_log):
    """top-1 of one expert, no shared experts: the dense layer count (blocks.layer_params)
    plus the router's h weights per layer."""
    heads = 2 ** (heads_log % 5)
    ffn = 4 * hidden
    dense = {"n_layers": layers, "hidden": hidden, "n_heads": heads, "n_kv_heads": heads,
             "ffn_hidden": ffn, "vocab": 1000, "tied_embeddings": False, "gated_mlp": True}
    moe = {**dense, "n_experts": 1, "top_k": 1, "moe_ffn_hidden": ffn, "moe_layer_step": 1}
    d, m = model_params(dense), model_params(moe)
    by_blocks = layers * layer_params(hidden, heads, heads, ffn, True, False, False) \
        + 2 * 1000 * hidden + hidden
    assert float(d.total) == pytest.approx(float(by_blocks), rel=1e-12)
    assert float(m.total) - float(d.total) == pytest.approx(layers * hidden, rel=1e-12)
    assert float(m.active) == pytest.approx(float(m.total) - 1000 * hidden, rel=1e-12)


@given(st.integers(2, 256), st.integers(1, 8))
def test_more_experts_add_total_not_active_parameters(experts, top_k):
    top_k = min(top_k, experts)
    base = dict(catalog.find_moe_model("qwen3-30b-a3b"))
    few, many = (model_params({**base, "n_experts": n, "top_k": top_k})
                 for n in (experts, experts + 1))
    assert float(many.total) > float(few.total)
    # the router grows by one row per layer; the experts a token uses do not change
    assert float(many.active) - float(few.active) == pytest.approx(
        base["n_layers"] * base["hidden"], rel=1e-9)


def test_every_catalog_entry_counts_finite_positive_parameters():
    for name in catalog.moe_model_names():
        _, p = _counts(name)
        assert np.isfinite(float(p.total)) and 0 < float(p.active) < float(p.total), name
