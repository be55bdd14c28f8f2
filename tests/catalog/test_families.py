"""Architecture families: the conventions a run that names no catalog model takes."""

from __future__ import annotations

import pytest

from trainplan import catalog


def test_gpt_and_llama_conventions():
    gpt, llama = catalog.family("gpt"), catalog.family("Llama")
    assert (gpt["gated_mlp"], gpt["position_embedding"], gpt["norm"]) == \
        (False, "learned", "layernorm")
    assert (gpt["linear_bias"], gpt["tied_embeddings"], gpt["dropout"]) == (True, True, True)
    assert (llama["gated_mlp"], llama["position_embedding"], llama["norm"]) == \
        (True, "rope", "rmsnorm")
    assert (llama["linear_bias"], llama["tied_embeddings"], llama["dropout"]) == \
        (False, False, False)


def test_every_family_names_its_source():
    for name in ("gpt", "llama"):
        assert "arXiv" in catalog.family(name)["source"] or "et al." in \
            catalog.family(name)["source"]


def test_an_unknown_family_lists_the_known_ones():
    with pytest.raises(catalog.UnknownNameError, match="gpt, llama"):
        catalog.family("mamba")
