"""Framework profiles: exact names and aliases, a source for each, no prefix matching."""

from __future__ import annotations

import pytest

from trainplan import catalog
from trainplan.catalog import _Catalog
from trainplan.validation import framework

PROFILES = ("generic", "Megatron-LM 2021", "Megatron-LM 2021 torch DDP", "Megatron-LM 2022",
            "Megatron-Core", "NeMo", "TorchTitan", "NeMo AutoModel", "PyTorch FSDP1",
            "DeepSpeed ZeRO-1",
            "DeepSpeed ZeRO-2", "DeepSpeed ZeRO-3", "Megatron-LM + DeepSpeed ZeRO-3",
            "Megatron-DeepSpeed")


def test_every_profile_names_its_source_and_byte_counts():
    assert tuple(catalog.framework_names()) == PROFILES
    for name in PROFILES:
        entry = catalog.framework(name)
        assert len(entry["source"]) > 40, name
        assert entry["fp8_recipe"] in ("none", "delayed tensorwise", "current tensorwise",
                                       "rowwise", "mxfp8")
        for key in ("grad_bytes_per_param", "grad_reduce_bytes_per_param",
                    "optimizer_bytes_per_param"):
            assert entry[key] > 0, (name, key)


def test_names_match_exactly_not_by_prefix():
    assert not hasattr(_Catalog, "find_prefix")
    assert catalog.find_framework("Megatron-LM (2022)")["name"] == "Megatron-LM 2022"
    assert catalog.find_framework("Megatron-LM 2021")["name"] == "Megatron-LM 2021"
    assert catalog.find_framework("Megatron-LM (PTD-P)")["name"] == "Megatron-LM 2021"
    assert catalog.find_framework("torchtitan")["name"] == "TorchTitan"
    assert catalog.find_framework("Megatron-LM 2023") is None
    assert catalog.find_framework("Megatron-LM") is None
    assert catalog.find_framework("NeMo-ish") is None


@pytest.mark.parametrize(("cell", "profile"), [
    ("Megatron-LM (2021)", "Megatron-LM 2021"), ("Megatron-LM (2022)", "Megatron-LM 2022"),
    ("Megatron-LM (2021, torch DDP)", "Megatron-LM 2021 torch DDP"),
    ("torchtitan (PyTorch FSDP2, async TP, torch.compile)", "TorchTitan"),
    ("NeMo AutoModel (PyTorch FSDP2 + EP + PP, TE kernels, DeepEP)", "NeMo AutoModel"),
    ("NeMo 25.11", "NeMo"), ("NeMo 25.11 / Megatron-Bridge (Megatron-Core)", "NeMo"),
    ("Megatron-Core 0.9", "Megatron-Core"), ("Megatron-Core r0.8.0", "Megatron-Core"),
    ("llm-foundry / Composer (PyTorch FSDP)", "PyTorch FSDP1"),
    ("DeepSpeed ZeRO-3", "DeepSpeed ZeRO-3"), ("Megatron-DeepSpeed", "Megatron-DeepSpeed"),
    ("Megatron-LM + DeepSpeed ZeRO-3", "Megatron-LM + DeepSpeed ZeRO-3"),
    ("Megatron-LM (2024)", "generic"), ("my trainer", "generic"), ("", "generic")])
def test_framework_cells_name_profiles(cell, profile):
    entry, remark = framework.profile(cell)
    assert entry["name"] == profile
    assert (remark is None) == (profile != "generic")


def test_overlap_flags_in_the_framework_cell_are_stated():
    assert framework.stated_overlaps("Megatron-Core (--overlap-grad-reduce --tp-comm-overlap)") \
        == {"overlap_grad_reduce": True, "tp_comm_overlap": True}
    assert framework.stated_overlaps(None) == {}


def test_model_families_match_whole_leading_words():
    assert catalog.find_model_family("BLOOM-candidate 195B")["name"] == "bloom-176b"
    assert catalog.find_model_family("GPT-3.6B")["name"] == "megatron-gpt-3.6b"
    assert catalog.find_model_family("GPT-3 175B (174.6B)")["name"] == "gpt3-175b"
    assert catalog.find_model_family("GPT 16B") is None
