"""The software a run used: its ``framework`` cell read into a framework catalog profile.

A framework cell names a framework, maybe a version, and maybe remarks:
``Megatron-LM (2022)``, ``Megatron-Core 0.9``, ``NeMo 25.11 / Megatron-Bridge (Megatron-Core)``,
``torchtitan (PyTorch FSDP2, ...)``, ``llm-foundry / Composer (PyTorch FSDP)``,
``DeepSpeed ZeRO-3``. :func:`profile` looks up, in order and each time by exact name or alias
(ignoring case and punctuation, see :func:`trainplan.catalog.find_framework`):

1. the whole cell;
2. each ``/``-separated part, then the part without its remarks in parentheses;
3. the part's name and version (``Megatron-LM`` + ``2022`` from ``Megatron-LM (2022)``);
4. the bare name, which only a profile standing for every version lists (``NeMo``,
   ``Megatron-Core``): ``Megatron-LM 2024`` is no profile, as the 2021 and 2022 ones differ.

A cell that names no profile takes the documented ``generic`` profile, and the run's
assumptions say so. Megatron-LM command-line overlap flags written in the cell
(``--overlap-grad-reduce``, ``--overlap-param-gather``, ``--tp-comm-overlap``) are taken as
stated.
"""

from __future__ import annotations

import re
from typing import Any

from trainplan import catalog

GENERIC = "generic"
"""The profile of a framework not in the catalog (current software; input-default bytes)."""

OVERLAP_FLAGS = (("overlap_grad_reduce", "overlap-grad-reduce"),
                 ("overlap_param_gather", "overlap-param-gather"),
                 ("tp_comm_overlap", "tp-comm-overlap"),
                 ("tp_comm_overlap", "async tp"),
                 ("tp_comm_overlap", "enable_async_tensor_parallel"))
"""(input, Megatron-LM command-line flag or TorchTitan name) of the overlaps a framework cell
may state. TorchTitan's async tensor parallelism (``enable_async_tensor_parallel``, "async TP")
decomposes the all-gather and reduce-scatter into pieces overlapped with the matmuls, as
Megatron-Core's ``--tp-comm-overlap`` does."""

_VERSION = r"r?v?\d+(?:\.\d+)*[a-z0-9]*"


def _name_and_version(part: str) -> tuple[str, str | None]:
    """``(name, version)`` of one part of a cell: a trailing version of the name, else one
    leading its first remark in parentheses (``Megatron-LM (2022)``)."""
    main = re.sub(r"\(.*", "", part).strip()
    found = re.match(rf"^(.*?)[\s_-]+({_VERSION})$", main, re.IGNORECASE)
    if found and found.group(1).strip():
        return found.group(1).strip(), found.group(2)
    remark = re.search(r"\(\s*([^),;]*)", part)
    if remark:
        lead = remark.group(1).strip().split(" ")[0]
        if re.fullmatch(_VERSION, lead, re.IGNORECASE):
            return main, lead
    return main, None


def candidates(text: str | None) -> list[str]:
    """The names :func:`profile` looks up for a framework cell, in order (may repeat)."""
    text = str(text or "").strip()
    if not text:
        return []
    names = [text]
    for part in (p.strip() for p in text.split("/")):
        if not part:
            continue
        name, version = _name_and_version(part)
        names += [part, re.sub(r"\(.*", "", part).strip()]
        if version:
            names.append(f"{name} {version}")
        names.append(name)
    return [n for n in names if n]


def profile(text: str | None) -> tuple[dict[str, Any], str | None]:
    """The framework profile a cell names and, when it names none, the ``generic`` profile
    with a note saying so (None when a catalog profile was found)."""
    for name in candidates(text):
        entry = catalog.find_framework(name)
        if entry is not None:
            return entry, None
    stated = str(text or "").strip()
    why = f"framework {stated!r} is not in the framework catalog" if stated else \
        "framework not stated"
    return catalog.framework(GENERIC), (
        f"{why}: generic profile (fused attention, gradient-reduce and parameter-gather "
        "overlap, interleaved 1F1B, 2 gradient bytes, 2 reduce bytes, 12 optimizer bytes "
        "per parameter)")


def stated_overlaps(text: str | None) -> dict[str, bool]:
    """Overlaps a framework cell states with Megatron-LM command-line flags or TorchTitan's
    names (:data:`OVERLAP_FLAGS`); a flag the cell negates ("no async TP", "without ...")
    states nothing."""
    lowered = str(text or "").lower()
    return {key: True for key, flag in OVERLAP_FLAGS
            if flag in lowered and not re.search(rf"\b(?:no|without|not)\s+{re.escape(flag)}",
                                                  lowered)}


def stated_schedule(text: str | None) -> str | None:
    """The pipeline schedule a framework cell names: ``"looped"`` for an interleaved (looped)
    schedule with several stages per rank (Megatron's interleaved 1F1B, PyTorch's
    ``Interleaved1F1B``, ``LoopedBFS``, ``InterleavedZeroBubble``), ``"single"`` for one stage
    per rank (``1F1B``, ``GPipe``), None when it names none."""
    lowered = str(text or "").lower()
    if re.search(r"interleav|looped", lowered):
        return "looped"
    if re.search(r"\b1f1b\b|gpipe", lowered):
        return "single"
    return None


def default_vpp(text: str | None, profile: dict[str, Any]) -> int | None:
    """The virtual stages per rank of a pipelined run that leaves them unstated: 1 where its
    framework cell names a one-stage schedule (:func:`stated_schedule`) or its framework
    defaults to one (TorchTitan's ``pipeline_parallel_schedule`` is 1F1B); the profile's
    ``looped_stages_per_rank`` where the cell names a looped schedule; None (searched)
    otherwise."""
    schedule, looped = stated_schedule(text), profile.get("looped_stages_per_rank")
    if schedule == "single":
        return 1
    if not looped:
        return None
    return int(looped) if schedule == "looped" else 1


def default_micro_batch(base: dict[str, Any], profile: dict[str, Any]) -> int | None:
    """The micro-batch of a pipelined run that leaves it unstated, where its framework splits
    each data-parallel rank's batch into as many micro-batches as pipeline stages
    (TorchTitan's ``pipeline_parallel_microbatches`` default); None otherwise."""
    pp, vpp = base["pp"], base.get("vpp")
    if profile.get("default_pipeline_microbatches") != "stages" or pp <= 1 or vpp is None:
        return None
    dp = base.get("dp") or base["n_gpus"] // (base["tp"] * pp * base["cp"])
    if dp < 1 or base["global_batch"] % dp:
        return None
    local, stages = base["global_batch"] // dp, pp * vpp
    return local // stages if local >= stages and local % stages == 0 else None
