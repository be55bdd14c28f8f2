"""One row of a published-run table turned into a configuration to evaluate.

The row's stated values go into :attr:`RunSpec.base`; blank architecture,
hardware and software cells take documented defaults (each one noted in
:attr:`RunSpec.assumptions`); blank tuning knobs go into :attr:`RunSpec.search`,
the values :func:`~trainplan.validation.runs.predict_runs` tries. A row that
cannot be represented keeps the reason in :attr:`RunSpec.unrepresentable`.

* Architecture cells left blank take the documented defaults: ``n_kv_heads``
  = ``n_heads``, ``ffn_hidden`` = 4h, ``activation`` = GeLU; the vocabulary,
  position embedding, norm, biases, tying and dropout come from the model
  catalog entry the ``model_name`` begins with (e.g. ``BLOOM-candidate 195B``
  -> ``bloom-176b``), else from GPT (GeLU) or Llama (SwiGLU) conventions.
* Tuning knobs left blank (``micro_batch``, ``vpp``, ``recompute``,
  ``seq_parallel``, ``zero_stage``) are searched: the fastest configuration
  that fits in memory is taken, as a published benchmark reports a tuned run.
* ``interconnect`` sets the scale-out bandwidth per node (``8x 200 Gb/s``,
  ``4x Omni-Path``) and the scale-up domain (``domain of 72 GPUs``); otherwise
  the GPU catalog's typical node is used. ``framework`` names a framework catalog
  profile (:mod:`trainplan.validation.framework`; the ``generic`` one, said in the
  assumptions, when it names none): what the software could do (fused attention,
  overlaps, interleaving, selective recompute, sequence parallelism), its ZeRO stage
  when the row states none, and its gradient, reduction and optimizer bytes per
  parameter unless the row's precision cell states them (fp32 gradient accumulation).
* A row naming a catalog model takes its blank architecture cells, experts included, from
  that entry (:mod:`trainplan.validation.experts`).
* A free-text cell that cannot be read (``precision``, ``recompute``,
  ``seq_parallel``, ``zero_stage``, ``moe_dispatcher``, ``moe_a2a_overlap``, ``activation``,
  ``measured_oom``), an unknown
  accelerator or missing required cells make the row not represented, with the
  column, the value and the reason; no other text (``source``, ``notes``) is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trainplan import catalog
from trainplan.schema.catalog_fill import (
    FP8_RECIPE_OF_PROFILE,
    FRAMEWORK_BYTES,
    framework_defaults,
)
from trainplan.validation import experts, framework, parse
from trainplan.validation.parse import number

SEARCH_MICRO_BATCH = (1, 2, 4, 8)
MAX_SEARCH_VPP = 8
SEARCH_RECOMPUTE = ("none", "selective", "full")
SEARCH_RECOMPUTE_FRACTION = (0.25, 0.5, 0.75, 1.0)
"""Shares of each stage's layers fully recomputed, searched when a run leaves recomputation
blank."""

CONVENTIONS = ("position_embedding", "norm", "linear_bias", "tied_embeddings", "dropout")
"""Architecture cells a run table has no column for: from the catalog model the run names,
else from the catalog family of its MLP (``gpt`` for GeLU, ``llama`` for a gated MLP)."""

DEFAULT_VOCAB = 51200
"""Vocabulary of a run that states none and names no catalog model: GPT-2's 50,257 tokens
padded as Megatron-LM does (Narayanan et al. 2021, arXiv:2104.04473, Sec. 5.1)."""

REQUIRED = ("n_layers", "hidden", "n_heads", "seq_len", "global_batch", "tp", "pp")
"""Cells a row must state to be represented (besides a known GPU and n_gpus or dp)."""

SETTINGS: dict[str, Callable[[str | None], Any]] = {
    "recompute": parse.recompute, "seq_parallel": parse.yes_no,
    "zero_stage": parse.zero_stage, "precision": parse.precision,
    "moe_dispatcher": parse.moe_dispatcher, "moe_a2a_overlap": parse.yes_no,
    "recompute_modules": parse.recompute_modules, "offload_modules": parse.offload_modules,
}
"""Free-text setting columns and their parsers (a ValueError says what the column allows)."""

ACTIVATIONS = ("gelu", "relu", "silu", "swiglu", "geglu", "reglu", "glu")
"""Values the ``activation`` column allows (the last four are gated MLPs)."""

Note = Callable[[str], None]


class NotRepresented(ValueError):
    """A cell that keeps its row from being represented (the message is the reason)."""


def read_settings(row: dict) -> dict[str, Any]:
    """The parsed free-text setting cells of ``row``.

    Raises
    ------
    NotRepresented
        A cell its parser cannot read, an activation or measured_oom value not allowed;
        the message names the column, the value and what is allowed.
    """
    settings = {}
    for column, parser in SETTINGS.items():
        value = row.get(column)
        try:
            settings[column] = parser(value)
        except ValueError as err:
            raise NotRepresented(f"column {column!r}: value {str(value)!r} not understood "
                                 f"({err})") from None
    activation = str(row.get("activation") or "").strip().lower()
    if activation and activation not in ACTIVATIONS:
        raise NotRepresented(f"column 'activation': value {row.get('activation')!r} not "
                             f"understood (expected {', '.join(ACTIVATIONS)})")
    oom = str(row.get("measured_oom") or "").strip().lower()
    if oom not in ("", "yes", "no"):
        raise NotRepresented(f"column 'measured_oom': value {row.get('measured_oom')!r} not "
                             "understood (expected yes or no)")
    return settings


@dataclass
class RunSpec:
    """One published run turned into a configuration (or the reason it cannot be)."""

    row_id: str
    source: str
    base: dict[str, Any] = field(default_factory=dict)
    search: dict[str, tuple] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    unrepresentable: str | None = None


def short_source(text: str | None) -> str:
    """A source cell up to its first comma or parenthesis (``Narayanan et al. 2021``)."""
    text = (text or "").strip()
    return text.split(",")[0].split("(")[0].strip() or "unknown"


def run_spec(row: dict) -> RunSpec:
    """Turn one row of a published-run table into a :class:`RunSpec`.

    Parameters
    ----------
    row : dict
        One row of a run table with the columns of ``published_runs.csv`` as text
        (None for blank cells).

    Returns
    -------
    RunSpec
        The stated and defaulted inputs (``base``), the knobs to search (``search``) and
        every default adopted (``assumptions``); or ``unrepresentable`` with the reason
        (unknown accelerator, required cells not stated, neither n_gpus nor dp).
    """
    spec = RunSpec(row_id=str(row.get("row_id") or ""), source=short_source(row.get("source")))
    note = spec.assumptions.append
    row, entry = experts.from_catalog(row, note)
    try:
        settings = read_settings(row)
    except NotRepresented as err:
        spec.unrepresentable = str(err)
        return spec
    gpu = parse.gpu_name(row.get("gpu"))
    if gpu is None:
        spec.unrepresentable = f"unknown accelerator {row.get('gpu')!r} (not in the GPU catalog)"
        return spec
    missing = [k for k in REQUIRED if number(row, k) is None]
    if missing:
        spec.unrepresentable = "not stated: " + ", ".join(missing)
        return spec
    base: dict[str, Any] = {"gpu": gpu, **{k: int(number(row, k)) for k in REQUIRED}}
    _model(row, base, note)
    experts.fill(row, entry, settings, base)
    spec.unrepresentable = _layout(row, base)
    if spec.unrepresentable:
        return spec
    _precision(settings["precision"], base, note)
    _hardware(row, base, note)
    profile = _software(row, base, settings["precision"], note)
    search = _tuning(row, settings, base, profile, note)
    for key, values in search.items():
        note(f"{key} searched over {list(values)} (not stated)")
    spec.base, spec.search = base, search
    return spec


def _model(row: dict, base: dict[str, Any], note: Note) -> None:
    """Architecture cells, blank ones from the catalog family or GPT/Llama conventions."""
    kv = number(row, "n_kv_heads")
    if kv is None:
        kv = base["n_heads"]
        note("n_kv_heads = n_heads (not stated)")
    base["n_kv_heads"] = int(kv)
    activation = str(row.get("activation") or "").strip().lower()
    if not activation:
        activation = "gelu"
        note("activation GeLU (not stated)")
    gated = activation in ("swiglu", "geglu", "reglu", "glu")
    base["gated_mlp"] = gated
    ffn = number(row, "ffn_hidden")
    if ffn is None:
        ffn = 4 * base["hidden"]
        note("ffn_hidden = 4h (not stated)")
    base["ffn_hidden"] = int(ffn)
    family = catalog.find_model_family(row.get("model_name") or "")
    conventions = family if family is not None else catalog.family("llama" if gated else "gpt")
    for key in CONVENTIONS:
        base[key] = conventions[key]
    vocab = number(row, "vocab")
    if vocab is None:
        if family is not None:
            vocab = family["vocab"]
            note(f"vocab {int(vocab):,} from catalog entry {family['name']} (not stated)")
        else:
            vocab = DEFAULT_VOCAB
            note(f"vocab {DEFAULT_VOCAB:,} (not stated)")
    base["vocab"] = int(vocab)


def _layout(row: dict, base: dict[str, Any]) -> str | None:
    """cp (1 if blank) and the cluster size from n_gpus or dp; the reason if neither."""
    cp = number(row, "cp")
    base["cp"] = int(cp) if cp is not None else 1
    n_gpus, dp = number(row, "n_gpus"), number(row, "dp")
    if n_gpus is None and dp is None:
        return "not stated: n_gpus and dp"
    base["n_gpus"] = int(n_gpus) if n_gpus is not None else \
        int(dp * base["tp"] * base["pp"] * base["cp"])
    if dp is not None:
        base["dp"] = int(dp)
    return None


def _precision(stated: parse.Precision, base: dict[str, Any], note: Note) -> None:
    """Precision (bf16 if blank) and the gradient bytes of fp32 gradient accumulation."""
    prec = stated.precision
    if prec is None:
        prec = "bf16"
        note("precision bf16 (not stated)")
    base["precision"] = prec
    if stated.fp32_grad_accumulation:
        base["grad_bytes_per_param"] = 6.0
        base["grad_reduce_bytes_per_param"] = 4.0
        note("fp32 gradient accumulation: 6 gradient bytes/param, fp32 reduction")


def _hardware(row: dict, base: dict[str, Any], note: Note) -> None:
    """Scale-out bandwidth, scale-up domain and GPUs per node where the row states them."""
    per_node, domain = parse.interconnect(row.get("interconnect"))
    if per_node is not None:
        base["scaleout_gbit_s_per_node"] = per_node
    else:
        note("scale-out network of the GPU catalog's typical node (not stated)")
    if domain is not None:
        base["scaleup_domain_gpus"] = domain
    gpn = number(row, "gpus_per_node")
    if gpn is not None:
        base["gpus_per_node"] = int(gpn)
    memory_gb, power_w = parse.gpu_variant(row.get("gpu"))
    catalog_gib = catalog.find_gpu(base["gpu"])["memory_gib"]
    if memory_gb is not None and abs(memory_gb - float(catalog_gib)) > 2.0:
        base["memory_gib"] = memory_gb
        note(f"memory {memory_gb:g} GiB as the gpu cell states (a variant of {base['gpu']})")
    if power_w is not None:
        base["power_limit_w"] = power_w
        note(f"power limit {power_w:g} W as the gpu cell states")


def _software(row: dict, base: dict[str, Any], stated: parse.Precision,
              note: Note) -> dict[str, Any]:
    """What the framework profile sets (flags, allocator reserve; byte counts the row does
    not state), the overlaps the framework cell states, the FP8 recipe; returns the
    profile."""
    cell = row.get("framework")
    profile, remark = framework.profile(cell)
    if remark:
        note(remark)
    base["framework"] = profile["name"]
    for key, value in framework_defaults(profile).items():
        if key not in FRAMEWORK_BYTES or key not in base:
            base[key] = value
    base.update(framework.stated_overlaps(cell))
    if base["precision"] == "fp8":
        recipe = stated.fp8_recipe
        if recipe is None:
            recipe = profile["fp8_recipe"] if profile["fp8_recipe"] != "none" else None
            origin = f"the {profile['name']} profile" if recipe else "no recipe stated"
        else:
            origin = "stated"
        mapped = FP8_RECIPE_OF_PROFILE.get(recipe or "")
        if mapped is not None:
            base["fp8_recipe"] = mapped
        note(f"FP8 recipe {recipe or 'unknown'} ({origin})")
    return profile


def _tuning(row: dict, settings: dict[str, Any], base: dict[str, Any],
            profile: dict[str, Any], note: Note) -> dict[str, tuple]:
    """Stated tuning knobs into ``base``; blank ones as the values to search (within what
    the framework profile could do)."""
    search: dict[str, tuple] = {}
    vpp = number(row, "vpp")
    L, pp = base["n_layers"], base["pp"]
    if vpp is not None:
        base["vpp"] = int(vpp)
    elif pp > 1 and (default := framework.default_vpp(row.get("framework"), profile)) is not None:
        base["vpp"] = default
        note(f"vpp {default} (not stated): " + (
            f"the {profile['name']} default for its interleaved schedule" if default > 1
            else "a one-stage-per-rank schedule (1F1B or GPipe, as stated or the "
            f"{profile['name']} default)"))
    elif pp > 1 and profile["interleaved_schedule"]:
        # the chunk counts the model accepts: pp*v divides L, or L+1 / L+2 with the embedding
        # and the loss counted in the split
        search["vpp"] = tuple(v for v in range(1, MAX_SEARCH_VPP + 1)
                              if v == 1 or (any((L + e) % (pp * v) == 0 for e in (0, 1, 2))
                                            and L >= pp * v - 2))
    else:
        base["vpp"] = 1
    mb = number(row, "micro_batch")
    if mb is not None:
        base["micro_batch"] = int(mb)
    elif (default := framework.default_micro_batch(base, profile)) is not None:
        base["micro_batch"] = default
        note(f"micro_batch {default} (not stated): the {profile['name']} default of one "
             "micro-batch per pipeline stage")
    else:
        search["micro_batch"] = SEARCH_MICRO_BATCH
    offloaded = number(row, "cpu_offloading_num_layers")
    if offloaded:
        per_stage = math.ceil(base["n_layers"] / base["pp"])
        base["activation_offload_fraction"] = min(1.0, offloaded / per_stage)
        note(f"activations of {int(offloaded)} of {per_stage} layers offloaded to host memory")
    rc = settings["recompute"]
    if settings["offload_modules"]:
        base["offload_moe_inputs"] = True
        note("offload_modules priced as both expert_fc1 and moe_act offloaded")
    modules = settings["recompute_modules"]
    if modules is not None:
        base["recompute_moe"] = modules[1]
        if rc is None:
            rc = modules[0]
        if modules[0] == "selective":
            note("recompute_modules priced as trainplan's selective set (core_attn, layernorm, "
                 "moe_act or moe, and mla_up_proj with latent attention)")
    if offloaded and rc is None:
        rc = "none"
        note("recompute none: Megatron-Core offloads activations only without recomputation")
    if rc is not None:
        base["recompute"] = rc
    elif profile["selective_recompute"]:
        search["recompute"] = SEARCH_RECOMPUTE
    else:
        search["recompute"] = tuple(r for r in SEARCH_RECOMPUTE if r != "selective")
    if rc is None and profile["partial_recompute"]:
        # full recomputation of only some layers (Megatron --recompute-method block), where
        # the framework can: Megatron-LM 2021 and its DeepSpeed forks recompute every layer
        search["recompute_fraction"] = SEARCH_RECOMPUTE_FRACTION
    sp = settings["seq_parallel"]
    if sp is not None:
        base["seq_parallel"] = sp
    elif base["tp"] > 1 and profile["sequence_parallel"]:
        search["seq_parallel"] = (False, True)
    else:
        base["seq_parallel"] = False
    zero = settings["zero_stage"]
    remark = parse.zero_stage_remark(row.get("zero_stage"))
    if remark:
        note(remark)
    if zero is not None:
        base["zero_stage"] = zero
    elif profile["zero_stage"] is not None:
        base["zero_stage"] = int(profile["zero_stage"])
        note(f"zero_stage {base['zero_stage']} from the {profile['name']} profile (not stated)")
    else:
        search["zero_stage"] = (0, 1)
    _sharded_pipeline(row, base, profile, note)
    return search


def _sharded_pipeline(row: dict, base: dict[str, Any], profile: dict[str, Any],
                      note: Note) -> None:
    """A run that states ZeRO-2/3 with a pipeline did combine them; whether ZeRO-3 regathers
    every micro-batch follows the zero_stage cell, else the framework profile."""
    zero, pp = base.get("zero_stage"), base.get("pp", 1)
    if zero is None or zero < 2 or pp <= 1:
        return
    if not base.get("sharded_pipeline"):
        base["sharded_pipeline"] = True
        note(f"ZeRO-{zero} with pp={pp} as the run states it (the {profile['name']} profile "
             "does not shard across pipeline stages)")
    stated = parse.reshard(row.get("zero_stage"))
    if zero >= 3 and stated is not None:
        base["zero3_reshard_after_forward"] = stated
        base["zero3_keep_gathered_with_pipeline"] = not stated
