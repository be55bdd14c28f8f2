"""Reading the free-text cells of published-run tables.

Cells such as ``recompute``, ``seq_parallel``, ``precision``, ``zero_stage``
and ``gpu`` begin with the setting and may go on with a remark in
parentheses (``full (every layer; ...)``, ``bf16 (BF16 optimizer, fp32 grad
accumulation)``). Each parser returns the setting, or None when the cell is
blank or says the setting is not stated.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from trainplan import catalog
from trainplan.schema.inputs import MOE_DISPATCHERS

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
    raise ValueError("expected full, selective or none (a remark may follow)")


def _module_names(text: str | None) -> list[str]:
    """The names of a Megatron-Core module list cell (spaces or commas between names),
    lower-cased."""
    return str(text or "").replace(",", " ").lower().split()


RECOMPUTE_MODULES = ("core_attn", "moe_act", "layernorm", "mla_up_proj", "mlp", "moe",
                     "shared_experts")
"""Module names of Megatron-Core's ``--recompute-modules``."""


def recompute_modules(text: str | None) -> tuple[str, bool] | None:
    """Megatron-Core's ``--recompute-modules`` list (spaces or commas between names) as the
    recomputation mode it amounts to and whether whole MoE blocks are recomputed: ``moe``
    alone is (``none``, True); any other module makes it ``selective``."""
    names = _module_names(text)
    if not names:
        return None
    unknown = [w for w in names if w not in RECOMPUTE_MODULES]
    if unknown:
        raise ValueError(f"expected Megatron-Core module names ({', '.join(RECOMPUTE_MODULES)})")
    block = "moe" in names
    return ("selective" if set(names) - {"moe"} else "none"), block


OFFLOAD_MODULES = ("expert_fc1", "moe_act")
"""Module names of Megatron-Core's ``--offload-modules`` that trainplan models (together)."""


def offload_modules(text: str | None) -> bool | None:
    """Megatron-Core's ``--offload-modules`` list as ``offload_moe_inputs``: True for
    ``expert_fc1`` and ``moe_act`` (either, or both: trainplan offloads both), None when
    blank; other modules are not modelled."""
    names = _module_names(text)
    if not names:
        return None
    if any(w not in OFFLOAD_MODULES for w in names):
        raise ValueError(f"trainplan models offloading of {' and '.join(OFFLOAD_MODULES)} only")
    return True


def yes_no(text: str | None) -> bool | None:
    """True for ``yes``/``true``/``on``/``1``/``y``, False for their opposites."""
    word = _lead(text)
    if not word:
        return None
    if word in ("yes", "true", "on", "1", "y"):
        return True
    if word in ("no", "false", "off", "0", "n"):
        return False
    raise ValueError("expected yes or no")


def number(row: dict, key: str) -> float | None:
    """The number in cell ``key`` of ``row``; None when blank or not a number."""
    value = row.get(key)
    if value is None or str(value).strip() == "":
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def moe_dispatcher(text: str | None) -> str | None:
    """The token dispatcher a cell names (``alltoall`` or ``deepep``), None when blank."""
    word = _lead(text)
    if not word:
        return None
    if word not in MOE_DISPATCHERS:
        raise ValueError(f"expected {' or '.join(MOE_DISPATCHERS)}")
    return word


_ZERO_WORDS = (
    (r"\bshard_grad_op\b|\bshard grad op\b|\bzero[- ]?2\b|\bstage[- ]?2\b", 2),
    (r"\bhybrid[_ ]shard|\bhsdp\b", 3),
    (r"\bfull_shard\b|\bfull shard\b|\bfully sharded\b|\bfsdp2?\b|\bzero[- ]?3\b"
     r"|\bstage[- ]?3\b|reshard[_ ]after[_ ]forward", 3),
    (r"\bno_shard\b|\bno shard\b|\bddp\b", 0),
    (r"distributed[- ]optimi[sz]er|\bzero[- ]?1\b|\bstage[- ]?1\b", 1),
)
"""Words naming a sharding (first match wins): FSDP SHARD_GRAD_OP shards gradients and
optimizer states (ZeRO-2); HYBRID_SHARD / HSDP is FULL_SHARD within a shard group, taken as
ZeRO-3 over the whole data-parallel group (the model has no shard group, see
:func:`zero_stage_remark`); FULL_SHARD and FSDP2's reshard-after-forward are ZeRO-3; NO_SHARD
is DDP; the Megatron distributed optimizer shards optimizer states (ZeRO-1)."""


def zero_stage(text: str | None) -> int | None:
    """ZeRO stage 0-3 from a leading digit or the sharding the cell names (see
    :data:`_ZERO_WORDS`); None when blank or not stated."""
    if text is None:
        return None
    lowered = str(text).strip().lower()
    if not lowered or _NOT_STATED.match(lowered):
        return None
    if re.match(r"^[0-3](\b|$)", lowered):
        return int(lowered[0])
    for pattern, stage in _ZERO_WORDS:
        if re.search(pattern, lowered):
            return stage
    raise ValueError("expected 0-3, FSDP FULL_SHARD / SHARD_GRAD_OP / HYBRID_SHARD, ZeRO-1/2/3 "
                     "or distributed optimizer")


def reshard(text: str | None) -> bool | None:
    """Whether a sharding cell says the parameters are resharded after the forward (FSDP
    ``reshard_after_forward``); None when it does not say."""
    lowered = str(text or "").lower()
    if re.search(r"not resharded|no reshard|reshard_after_forward\s*[=:]\s*false", lowered):
        return False
    if re.search(r"reshard_after_forward\s*[=:]\s*true|resharded after", lowered):
        return True
    return None


def zero_stage_remark(text: str | None) -> str | None:
    """What the model does not represent of a stated sharding (hybrid sharding), or None."""
    if text and re.search(r"hybrid[_ ]shard|\bhsdp\b", str(text).lower()):
        return ("hybrid sharding (HSDP) taken as ZeRO-3 over the whole data-parallel group: the "
                "model has no shard group, so the all-gathers and reduce-scatters span every "
                "data-parallel rank")
    return None


class Precision(NamedTuple):
    """A precision cell: the precision, the FP8 scaling recipe (FP8 only, None if not
    stated) and whether the run accumulates gradients in fp32."""

    precision: str | None
    fp8_recipe: str | None = None
    fp32_grad_accumulation: bool = False


FP8_RECIPES = ("delayed tensorwise", "current tensorwise", "rowwise", "mxfp8")
"""FP8 scaling recipes: Transformer Engine DelayedScaling (amax history), current
(per-tensor, just-in-time) scaling (Float8CurrentScaling, torchao tensorwise), torchao
rowwise scaling, and MXFP8 block scaling (32-element blocks, Blackwell)."""

_RECIPE_WORDS = (
    (r"mxfp8|\bmx\b|block[- ]?scal|blockwise", "mxfp8"),
    (r"row[- ]?wise", "rowwise"),
    (r"current|\bcs\b|fp8-cs|dynamic|just[- ]in[- ]time", "current tensorwise"),
    (r"delayed|\bds\b|fp8-ds|amax[_ ]history", "delayed tensorwise"),
    (r"tensor[- ]?wise", "current tensorwise"),
)

_PRECISION_WORDS = (
    (r"fp8|float8|e4m3|e5m2|\bmxfp8\b", "fp8"),
    (r"bf16|bfloat16|brain ?float", "bf16"),
    (r"fp16|float16|\bhalf\b|\bmixed\b|16-bit|\bapex\b", "fp16"),
)
"""Words naming the precision of the linear layers, most specific first: an FP8 run also names
bf16 (its other layers), a bf16 run may say 'mixed'."""


def precision(text: str | None) -> Precision:
    """The precision (bf16, fp16 or fp8), FP8 recipe and fp32 gradient accumulation of a cell
    such as ``amp_bf16 (autocast ...)``, ``bf16 mixed``, ``fp8 (delayed scaling, ...)``,
    ``float8 rowwise``, ``mxfp8`` or ``FP8-CS``; None when blank or not stated."""
    if text is None:
        return Precision(None)
    lowered = str(text).strip().lower()
    fp32_accum = bool(re.search(r"fp32 grad(ient)?s? accum", lowered))
    if not lowered or _NOT_STATED.match(lowered):
        return Precision(None, None, fp32_accum)
    name = next((n for pattern, n in _PRECISION_WORDS if re.search(pattern, lowered)), None)
    if name is None:
        if re.search(r"fp32|float32|tf32|single", lowered):
            raise ValueError("fp32 / tf32 training is not represented (the model covers bf16, "
                             "fp16 and fp8 linear layers)")
        raise ValueError("expected bf16, fp16 or fp8 (a remark may follow)")
    recipe = None
    if name == "fp8":
        recipe = next((r for pattern, r in _RECIPE_WORDS if re.search(pattern, lowered)), None)
    return Precision(name, recipe, fp32_accum)


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


def gpu_variant(text: str | None) -> tuple[float | None, float | None]:
    """``(memory GB, power limit W)`` a GPU cell states beside the part's name, or None.

    Reads ``96GB`` / ``94 GB`` (memory of a variant of the catalog part) and ``500 W power
    limit`` / ``@500W`` / ``power-limited to 500 W`` (a board power limit)."""
    lowered = str(text or "").lower()
    memory = re.search(r"(\d+(?:\.\d+)?)\s*gb\b", lowered)
    power = (re.search(r"(\d{3,4})\s*w\b[^,;)]*(?:power|limit|cap)", lowered)
             or re.search(r"(?:power[- ]?(?:limit(?:ed)?|cap(?:ped)?)|@)\s*(?:to\s*)?"
                          r"(\d{3,4})\s*w\b", lowered))
    return (float(memory.group(1)) if memory else None,
            float(power.group(1)) if power else None)


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
