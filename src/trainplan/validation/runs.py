"""Predict published training runs and score the model against them.

A run table has the columns of ``published_runs.csv`` (shipped in
``trainplan/validation/data``); rows may come in any order, extra columns are
ignored and blank cells mean "not stated". Each row becomes one configuration:

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
  the GPU catalog's typical node is used. ``framework`` sets what the software
  of the time could do (fused attention, overlaps, interleaving) from the
  framework catalog; overlap flags named in ``notes`` are taken as stated.

A row is scored on step time against ``measured_step_time_s``, or
``derived_step_time_s`` where the source printed none. Every adopted default
is listed in the row's ``assumptions``; rows that cannot be represented are
listed with the reason.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from trainplan import catalog, units
from trainplan.model import flops as fl
from trainplan.schema.table import evaluate
from trainplan.validation import parse

SEARCH_MICRO_BATCH = (1, 2, 4, 8)
MAX_SEARCH_VPP = 8
SEARCH_RECOMPUTE = ("none", "selective", "full")

GPT_FAMILY = {"position_embedding": "learned", "norm": "layernorm", "linear_bias": True,
              "tied_embeddings": True, "dropout": True}
LLAMA_FAMILY = {"position_embedding": "rope", "norm": "rmsnorm", "linear_bias": False,
                "tied_embeddings": False, "dropout": False}
DEFAULT_VOCAB = 51200


def shipped_runs_path() -> Path:
    """The published runs shipped with trainplan (a copy of ``published_runs.csv``)."""
    return Path(str(resources.files("trainplan.validation").joinpath("data",
                                                                     "published_runs.csv")))


def read_runs(path: str | Path) -> pl.DataFrame:
    """Read a run table as text columns (blank cells become null)."""
    return pl.read_csv(path, infer_schema_length=0)


@dataclass
class RunSpec:
    """One published run turned into a configuration (or the reason it cannot be)."""

    row_id: str
    source: str
    base: dict[str, Any] = field(default_factory=dict)
    search: dict[str, tuple] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    unrepresentable: str | None = None


def _num(row: dict, key: str) -> float | None:
    value = row.get(key)
    if value is None or str(value).strip() == "":
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _short_source(text: str | None) -> str:
    text = (text or "").strip()
    return text.split(",")[0].split("(")[0].strip() or "unknown"


def run_spec(row: dict) -> RunSpec:
    """Turn one row of a published-run table into a :class:`RunSpec`."""
    spec = RunSpec(row_id=str(row.get("row_id") or ""), source=_short_source(row.get("source")))
    note = spec.assumptions.append
    gpu = parse.gpu_name(row.get("gpu"))
    if gpu is None:
        spec.unrepresentable = f"unknown accelerator {row.get('gpu')!r} (not in the GPU catalog)"
        return spec
    missing = [k for k in ("n_layers", "hidden", "n_heads", "seq_len", "global_batch", "tp", "pp")
               if _num(row, k) is None]
    if missing:
        spec.unrepresentable = "not stated: " + ", ".join(missing)
        return spec
    L, h, a = int(_num(row, "n_layers")), int(_num(row, "hidden")), int(_num(row, "n_heads"))
    base: dict[str, Any] = {"gpu": gpu, "n_layers": L, "hidden": h, "n_heads": a,
                            "seq_len": int(_num(row, "seq_len")),
                            "global_batch": int(_num(row, "global_batch")),
                            "tp": int(_num(row, "tp")), "pp": int(_num(row, "pp"))}
    kv = _num(row, "n_kv_heads")
    if kv is None:
        kv = a
        note("n_kv_heads = n_heads (not stated)")
    base["n_kv_heads"] = int(kv)
    activation = (row.get("activation") or "").strip().lower()
    if not activation:
        activation = "gelu"
        note("activation GeLU (not stated)")
    gated = activation in ("swiglu", "geglu", "reglu", "glu")
    base["gated_mlp"] = gated
    ffn = _num(row, "ffn_hidden")
    if ffn is None:
        ffn = 4 * h
        note("ffn_hidden = 4h (not stated)")
    base["ffn_hidden"] = int(ffn)
    family = catalog.find_model_family(row.get("model_name") or "")
    conventions = LLAMA_FAMILY if gated else GPT_FAMILY
    for key in GPT_FAMILY:
        base[key] = family[key] if family is not None else conventions[key]
    vocab = _num(row, "vocab")
    if vocab is None:
        if family is not None:
            vocab = family["vocab"]
            note(f"vocab {int(vocab):,} from catalog entry {family['name']} (not stated)")
        else:
            vocab = DEFAULT_VOCAB
            note(f"vocab {DEFAULT_VOCAB:,} (not stated)")
    base["vocab"] = int(vocab)
    tp, pp = base["tp"], base["pp"]
    cp = _num(row, "cp")
    base["cp"] = int(cp) if cp is not None else 1
    n_gpus, dp = _num(row, "n_gpus"), _num(row, "dp")
    if n_gpus is None and dp is None:
        spec.unrepresentable = "not stated: n_gpus and dp"
        return spec
    base["n_gpus"] = int(n_gpus) if n_gpus is not None else int(dp * tp * pp * base["cp"])
    if dp is not None:
        base["dp"] = int(dp)

    prec, fp32_accum = parse.precision(row.get("precision"))
    if prec is None:
        prec = "bf16"
        note("precision bf16 (not stated)")
    base["precision"] = prec
    if fp32_accum:
        base["grad_bytes_per_param"] = 6.0
        base["grad_reduce_bytes_per_param"] = 4.0
        note("fp32 gradient accumulation: 6 gradient bytes/param, fp32 reduction")

    per_node, domain = parse.interconnect(row.get("interconnect"))
    if per_node is not None:
        base["scaleout_gbit_s_per_node"] = per_node
    else:
        note("scale-out network of the GPU catalog's typical node (not stated)")
    if domain is not None:
        base["scaleup_domain_gpus"] = domain
    gpn = _num(row, "gpus_per_node")
    if gpn is not None:
        base["gpus_per_node"] = int(gpn)

    framework = catalog.find_framework(row.get("framework") or "")
    if framework is None:
        note("framework not in the catalog: current defaults (fused attention, overlaps on)")
        base["flash_attention"] = True
        interleaving = True
    else:
        for key in ("flash_attention", "overlap_grad_reduce", "overlap_param_gather",
                    "tp_comm_overlap", "tp_async_backward"):
            base[key] = bool(framework[key])
        interleaving = bool(framework["interleaved_schedule"])
    base.update(parse.stated_overlaps(row.get("notes")))

    search: dict[str, tuple] = {}
    mb = _num(row, "micro_batch")
    if mb is None:
        search["micro_batch"] = SEARCH_MICRO_BATCH
    else:
        base["micro_batch"] = int(mb)
    vpp = _num(row, "vpp")
    if vpp is not None:
        base["vpp"] = int(vpp)
    elif pp > 1 and interleaving:
        per_stage = L // pp if L % pp == 0 else 1
        search["vpp"] = tuple(v for v in range(1, MAX_SEARCH_VPP + 1) if per_stage % v == 0)
    else:
        base["vpp"] = 1
    rc = parse.recompute(row.get("recompute"))
    if rc is None:
        search["recompute"] = SEARCH_RECOMPUTE
    else:
        base["recompute"] = rc
    sp = parse.yes_no(row.get("seq_parallel"))
    if sp is not None:
        base["seq_parallel"] = sp
    elif tp > 1:
        search["seq_parallel"] = (False, True)
    else:
        base["seq_parallel"] = False
    zero = parse.zero_stage(row.get("zero_stage"))
    if zero is None:
        search["zero_stage"] = (0, 1)
    else:
        base["zero_stage"] = zero
    for key, values in search.items():
        note(f"{key} searched over {list(values)} (not stated)")
    spec.base, spec.search = base, search
    return spec


def _candidates(spec: RunSpec) -> list[dict[str, Any]]:
    keys = list(spec.search)
    combos = itertools.product(*(spec.search[k] for k in keys)) if keys else [()]
    return [{**spec.base, **dict(zip(keys, combo, strict=True))} for combo in combos]


def _convention_flop(row: dict, config: dict) -> tuple[float | None, str]:
    text = (row.get("tflops_convention") or "").lower()
    B, s, L, h, V = (config[k] for k in ("global_batch", "seq_len", "n_layers", "hidden",
                                          "vocab"))
    if "eq.3" in text or "eq. 3" in text:
        return float(fl.narayanan_eq3_flop(B, s, L, h, V)), "Narayanan eq. 3"
    if "num_floating_point_operations" in text or "megatron-core" in text:
        return float(fl.megatron_core_flop(B, s, L, h, config["n_heads"], config["n_kv_heads"],
                                           config["ffn_hidden"], config["gated_mlp"], V)), \
            "Megatron-Core"
    return float(fl.model_flop(B * s, L, s, h, config["n_heads"], config["n_kv_heads"],
                               config["ffn_hidden"], config["gated_mlp"], V)), "model FLOPs"


def predict_runs(runs: pl.DataFrame, overrides: dict[str, Any] | None = None) -> pl.DataFrame:
    """Predict every run of ``runs``; one output row per input row, in the input order.

    ``overrides`` sets model inputs for every run (e.g. to study a constant).
    """
    rows = runs.to_dicts()
    specs = [run_spec(r) for r in rows]
    candidates, owner = [], []
    for i, spec in enumerate(specs):
        if spec.unrepresentable is None:
            for c in _candidates(spec):
                candidates.append({**c, **(overrides or {})})
                owner.append(i)
    chosen: dict[int, dict] = {}
    if candidates:
        table = pl.DataFrame(candidates, infer_schema_length=None)
        result = evaluate(table).with_columns(pl.Series("_run", owner))
        for i in sorted(set(owner)):
            group = result.filter(pl.col("_run") == i)
            feasible = group.filter(pl.col("feasible"))
            pick = (feasible if feasible.height else group).sort("step_time_s").row(0, named=True)
            if not feasible.height and specs[i].search:
                specs[i].assumptions.append("no searched setting fits in memory")
            chosen[i] = pick
    out = []
    for i, (row, spec) in enumerate(zip(rows, specs, strict=True)):
        measured = _num(row, "measured_step_time_s")
        target, target_kind = (measured, "measured") if measured is not None else (
            _num(row, "derived_step_time_s"), "derived")
        rec: dict[str, Any] = {
            "row_id": spec.row_id, "source": spec.source, "gpu": row.get("gpu"),
            "n_gpus": _num(row, "n_gpus"), "represented": spec.unrepresentable is None,
            "reason_not_represented": spec.unrepresentable or "",
            "measured_step_time_s": target, "step_time_kind": target_kind if target else "",
        }
        pick = chosen.get(i)
        if pick is not None:
            step = pick["step_time_s"]
            conv_flop, conv_name = _convention_flop(row, pick)
            n = pick["n_gpus"]
            pred_tflops = conv_flop / (step * n) / units.TERA
            peak = _num(row, "peak_tflops_used_by_source")
            mem_gib = (pick["memory_total_bytes"] + pick["cuda_context_bytes"]) / units.GIB_BYTES
            searched = {k: pick[k] for k in spec.search}
            rec.update({
                "predicted_step_time_s": step,
                "tp": pick["tp"], "pp": pick["pp"], "dp": pick["dp"],
                "micro_batch": pick["micro_batch"], "vpp": pick["vpp"],
                "recompute": pick["recompute"], "zero_stage": pick["zero_stage"],
                "flop_convention": conv_name,
                "predicted_tflops_per_gpu": pred_tflops,
                "measured_tflops_per_gpu": _num(row, "measured_tflops_per_gpu"),
                "predicted_mfu": pred_tflops / peak if peak and _num(row, "measured_mfu")
                else None,
                "measured_mfu": _num(row, "measured_mfu"),
                "predicted_hfu": pred_tflops / peak if peak and _num(row, "measured_hfu")
                else None,
                "measured_hfu": _num(row, "measured_hfu"),
                "predicted_memory_gib": mem_gib,
                "measured_memory_gib": _num(row, "measured_memory_gb"),
                "predicted_fits": pick["fits_memory"],
                "measured_oom": (row.get("measured_oom") or "").strip().lower() or None,
                "bottleneck": pick["bottleneck"],
                "searched": ", ".join(f"{k}={v}" for k, v in searched.items()),
            })
            if target:
                rec["abs_err_pct"] = abs(step - target) / target * 100.0
        rec["assumptions"] = "; ".join(spec.assumptions)
        out.append(rec)
    return pl.DataFrame(out, infer_schema_length=None)


def summary(results: pl.DataFrame) -> dict[str, float]:
    """Median and 90th percentile absolute step-time error [%] over the scored rows."""
    scored = results.filter(pl.col("abs_err_pct").is_not_null()) if "abs_err_pct" in \
        results.columns else results.clear()
    errs = scored["abs_err_pct"].to_numpy() if scored.height else np.array([])
    return {
        "median_abs_err_pct": float(np.median(errs)) if errs.size else float("nan"),
        "p90_abs_err_pct": float(np.percentile(errs, 90)) if errs.size else float("nan"),
        "n": int(errs.size),
    }


def per_source(results: pl.DataFrame) -> pl.DataFrame:
    """Median absolute error and number of scored rows per source."""
    if "abs_err_pct" not in results.columns:
        return pl.DataFrame({"source": [], "n": [], "median_abs_err_pct": []})
    return (results.filter(pl.col("abs_err_pct").is_not_null())
            .group_by("source", maintain_order=True)
            .agg(pl.len().alias("n"), pl.col("abs_err_pct").median().alias("median_abs_err_pct")))
