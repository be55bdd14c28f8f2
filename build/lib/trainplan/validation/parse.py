"""Reading the free-text cells of published-run tables.

Cells such as ``recompute``, ``seq_parallel``, ``precision``, ``zero_stage``
and ``gpu`` begin with the setting and may go on with a remark in
parentheses (``full (every layer; ...)``, ``bf16 (BF16 optimizer, fp32 grad
accumulation)``). Each parser returns the setting, or None when the cell is
blank or says the setting is not stated.
"""

from __future__ import annotations

import re

from trainplan import catalog

_NOT_STATED = re.compile(r"^\s*(not stated|n/?a|unknown|\?)", re.IGNORECASE)


def _lead(text: str | None) -> str:
    """The cell's first word, lower-cased; '' for blank or 'not stated' cells."""
    if text is None:
        return ""
    text = str(text).strip()
    if not text or _NOT_STATED.match(text):
        return ""
    return re.split(r"[\s(,;]+", text.lower(), maxsplit=1)[0]


def recompute(text: str | None) -> str | None:
    """``full``, ``selective`` or ``none`` (also ``no``, ``off``, ``uniform``, ``block``)."""
    word = _lead(text)
    if not word:
        return None
    if word in ("full", "uniform", "block", "yes", "checkpoint-activations"):
        return "full"
    if word.startswith("selective"):
        return "selective"
    if word in ("none", "no", "off", "false", "0"):
        return "none"
    raise ValueError(f"unrecognised recompute setting {text!r}; expected full, selective or none")


def yes_no(text: str | None) -> bool | None:
    """True for ``yes``/``true``/``on``/``1``/``y``, False for their opposites."""
    word = _lead(text)
    if not word:
        return None
    if word in ("yes", "true", "on", "1", "y"):
        return True
    if word in ("no", "false", "off", "0", "n"):
        return False
    raise ValueError(f"unrecognised yes/no setting {text!r}")


def zero_stage(text: str | None) -> int | None:
    """ZeRO stage 0-3; FSDP / fully sharded = 3; distributed optimizer = 1."""
    if text is None:
        return None
    lowered = str(text).strip().lower()
    if not lowered or _NOT_STATED.match(lowered):
        return None
    if re.match(r"^[0-3]\b", lowered):
        return int(lowered[0])
    if "fsdp" in lowered or "fully sharded" in lowered or "zero-3" in lowered:
        return 3
    if "distributed optimizer" in lowered or "distributed-optimizer" in lowered:
        return 1
    raise ValueError(f"unrecognised ZeRO stage {text!r}; expected 0-3, FSDP or distributed "
                     "optimizer")


def precision(text: str | None) -> tuple[str | None, bool]:
    """``(precision, fp32_grad_accumulation)``; precision is bf16, fp16 or fp8."""
    if text is None:
        return None, False
    lowered = str(text).strip().lower()
    fp32_accum = bool(re.search(r"fp32 grad(ient)? accum", lowered))
    word = _lead(text)
    if not word:
        return None, fp32_accum
    if word.startswith("fp8"):
        return "fp8", fp32_accum
    if word.startswith("bf16") or word.startswith("bfloat16"):
        return "bf16", fp32_accum
    if word.startswith("fp16") or word.startswith("float16") or word in ("mixed", "16-bit"):
        return "fp16", fp32_accum
    raise ValueError(f"unrecognised precision {text!r}; expected bf16, fp16 or fp8")


def gpu_name(text: str | None) -> str | None:
    """The catalog name of the accelerator a cell begins with, or None if unknown."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    candidates = [text, re.split(r"\s*[(,;]", text, maxsplit=1)[0], text.split()[0]]
    for candidate in candidates:
        entry = catalog.find_gpu(candidate)
        if entry is not None:
            return entry["name"]
    return None


def interconnect(text: str | None) -> tuple[float | None, int | None]:
    """``(scale-out Gb/s per node, scale-up domain size)`` stated in an interconnect cell.

    Reads ``8x 200 Gb/s ...`` (count x rate) or ``4x Omni-Path`` (count x a
    catalog network), and ``domain of 72 GPUs``. None where not stated.
    """
    if text is None or not str(text).strip():
        return None, None
    text = str(text)
    per_node = None
    match = re.search(r"(\d+)\s*x\s*(\d+(?:\.\d+)?)\s*Gb/?s", text, re.IGNORECASE)
    if match:
        per_node = float(match.group(1)) * float(match.group(2))
    else:
        for alias, entry in catalog.all_network_aliases():
            found = re.search(rf"(\d+)\s*x\s*{re.escape(alias)}", text, re.IGNORECASE)
            if found:
                per_node = float(found.group(1)) * float(entry["gbit_s_per_link"])
                break
    domain = None
    found = re.search(r"domain of (\d+) GPUs", text, re.IGNORECASE)
    if found:
        domain = int(found.group(1))
    return per_node, domain


def stated_overlaps(text: str | None) -> dict[str, bool]:
    """Overlap flags a run states it enables (Megatron-LM command-line names, or PyTorch DDP,
    which overlaps its gradient all-reduce with the backward by design)."""
    lowered = (text or "").lower()
    stated = {key: True for key, flag in (
        ("overlap_grad_reduce", "overlap-grad-reduce"),
        ("overlap_param_gather", "overlap-param-gather"),
        ("tp_comm_overlap", "tp-comm-overlap"),
    ) if flag in lowered}
    # PyTorch DistributedDataParallel overlaps its bucketed all-reduce with the backward
    if "ddp impl (torch)" in lowered or "ddp-impl torch" in lowered:
        stated["overlap_grad_reduce"] = True
    return stated
