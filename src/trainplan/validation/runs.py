"""Predict published training runs and score the model against them.

A run table has the columns of ``published_runs.csv`` (shipped in
``trainplan/validation/data``); rows may come in any order, extra columns are
ignored (the command line names them; :mod:`trainplan.validation.check` checks a table first)
and blank cells mean "not stated". Each row becomes one configuration
(:func:`~trainplan.validation.spec.run_spec`), its blank tuning knobs searched;
all candidates of all rows are evaluated at once.

A row is scored on step time against ``measured_step_time_s``, or
``derived_step_time_s`` where the source printed none. Every adopted default
is listed in the row's ``assumptions``; rows that cannot be represented are
listed with the reason (``reason_not_represented``). A represented row none of whose
settings (stated, or searched) fits in memory is predicted not to fit and is not scored:
``reason_not_scored`` says so, and the setting shown is the one needing the least memory. A
setting that fits but that the model flags for another reason (layers not divisible by the
pipeline stages, which Megatron-DeepSpeed allows) is scored, the flag in its assumptions.
"""

from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from trainplan import units
from trainplan.model import flops as fl
from trainplan.model.config import Architecture
from trainplan.model.moe_step import attention_score_flop
from trainplan.schema.inputs import INPUT_BY_NAME
from trainplan.schema.resolve import derive
from trainplan.schema.table import evaluate, resolve
from trainplan.validation import parse
from trainplan.validation.spec import RunSpec, number, run_spec

__all__ = ["RunSpec", "per_source", "predict_runs", "read_runs", "run_spec", "shipped_runs_path",
           "summary"]


def shipped_runs_path() -> Path:
    """The published runs shipped with trainplan (a copy of ``published_runs.csv``)."""
    return Path(str(resources.files("trainplan.validation").joinpath("data",
                                                                     "published_runs.csv")))


def read_runs(path: str | Path) -> pl.DataFrame:
    """Read a run table as text columns (blank cells become null)."""
    return pl.read_csv(path, infer_schema_length=0)


def _candidates(spec: RunSpec) -> list[dict[str, Any]]:
    """Every configuration of a spec: its base with each combination of searched values."""
    keys = list(spec.search)
    combos = itertools.product(*(spec.search[k] for k in keys)) if keys else [()]
    return [{**spec.base, **dict(zip(keys, combo, strict=True))} for combo in combos]


def evaluate_candidates(specs: list[RunSpec], points: list[dict[str, Any]],
                        keep: set[int] | None = None) -> pl.DataFrame:
    """Every candidate of every representable spec (of ``keep``, if given) at every point,
    evaluated in one table; ``_run`` is the spec's index and ``_point`` the point's (empty
    when there is nothing to evaluate)."""
    candidates, run, point = [], [], []
    for i, spec in enumerate(specs):
        if spec.unrepresentable is not None or (keep is not None and i not in keep):
            continue
        configs = _candidates(spec)
        for p, values in enumerate(points):
            candidates += [{**c, **values} for c in configs]
            run += [i] * len(configs)
            point += [p] * len(configs)
    if not candidates:
        return pl.DataFrame()
    return evaluate(pl.DataFrame(candidates, infer_schema_length=None)).with_columns(
        pl.Series("_run", run), pl.Series("_point", point))


def target_step_time(row: dict) -> tuple[float | None, str]:
    """The step time a run is scored against [s] and its kind: the measured one, else the
    one derived from the source's throughput (``derived_step_time_s``, else the global batch
    in tokens over ``measured_tokens_per_s_per_gpu`` times ``n_gpus``)."""
    measured = number(row, "measured_step_time_s")
    if measured is not None:
        return measured, "measured"
    derived = number(row, "derived_step_time_s")
    rate, batch, seq, gpus = (number(row, k) for k in (
        "measured_tokens_per_s_per_gpu", "global_batch", "seq_len", "n_gpus"))
    if derived is None and None not in (rate, batch, seq, gpus):
        # the tokens of one step over the tokens all GPUs process per second
        derived = batch * seq / (rate * gpus)
    return derived, "derived"


def _convention_flop(row: dict, config: dict) -> tuple[float | None, str]:
    """FLOPs per step in the convention the source quotes its TFLOP/s in, and its name."""
    text = (row.get("tflops_convention") or "").lower()
    B, s, L, h, V = (config[k] for k in ("global_batch", "seq_len", "n_layers", "hidden",
                                          "vocab"))
    if "eq.3" in text or "eq. 3" in text:
        return float(fl.narayanan_eq3_flop(B, s, L, h, V)), "Narayanan eq. 3"
    megatron = "num_floating_point_operations" in text or "megatron-core" in text
    if megatron and (config.get("n_experts") or 0) > 0:
        return float(fl.megatron_causal_flop(config["model_flop_per_step"],
                                             _attention_score_flop(config))), \
            "Megatron-LM (MoE, causal)"
    if megatron:
        return float(fl.megatron_core_flop(B, s, L, h, config["n_heads"], config["n_kv_heads"],
                                           config["ffn_hidden"], config["gated_mlp"], V)), \
            "Megatron-Core"
    return float(fl.model_flop(B * s, L, s, h, config["n_heads"], config["n_kv_heads"],
                               config["ffn_hidden"], config["gated_mlp"], V)), "model FLOPs"


def _attention_score_flop(config: dict) -> float:
    """Attention-score FLOPs of one step of ``config`` (a row of the evaluated table)."""
    inputs = {k: config[k] for k in INPUT_BY_NAME if config.get(k) is not None}
    arch = Architecture.from_arrays(derive(resolve(pl.DataFrame([inputs])).values))
    return float(attention_score_flop(config["global_batch"] * config["seq_len"], arch)[0])


def _choose(specs: list[RunSpec], overrides: dict[str, Any] | None) -> dict[int, dict]:
    """Evaluate every candidate of every representable spec at once; per spec (by index),
    the fastest feasible candidate, else the fastest that fits in memory (its flag noted),
    else (the run is not scored) the one needing the least memory."""
    chosen: dict[int, dict] = {}
    result = evaluate_candidates(specs, [overrides or {}])
    if not result.height:
        return chosen
    for i in result["_run"].unique().sort().to_list():
        group = result.filter(pl.col("_run") == i)
        feasible = group.filter(pl.col("feasible"))
        fitting = group.filter(pl.col("fits_memory"))
        if feasible.height:
            chosen[i] = feasible.sort("step_time_s").row(0, named=True)
        elif fitting.height:
            chosen[i] = fitting.sort("step_time_s").row(0, named=True)
            specs[i].assumptions.append(f"the model flags this layout ({chosen[i]['reason']}); "
                                        "scored as the model evaluates it")
        else:
            chosen[i] = group.sort("memory_total_bytes", "step_time_s").row(0, named=True)
    return chosen


def _prediction(row: dict, spec: RunSpec, pick: dict) -> dict[str, Any]:
    """The chosen configuration's predictions beside what the source measured."""
    step = pick["step_time_s"]
    conv_flop, conv_name = _convention_flop(row, pick)
    pred_tflops = conv_flop / (step * pick["n_gpus"]) / units.TERA
    peak = number(row, "peak_tflops_used_by_source")
    mem_gib = (pick["memory_total_bytes"] + pick["cuda_context_bytes"]) / units.GIB_BYTES
    searched = {k: pick[k] for k in spec.search}
    return {
        "predicted_step_time_s": step,
        "framework": pick.get("framework") or "",
        "tp": pick["tp"], "pp": pick["pp"], "dp": pick["dp"],
        "micro_batch": pick["micro_batch"], "vpp": pick["vpp"],
        "recompute": pick["recompute"], "zero_stage": pick["zero_stage"],
        "flop_convention": conv_name,
        "predicted_tflops_per_gpu": pred_tflops,
        "measured_tflops_per_gpu": number(row, "measured_tflops_per_gpu"),
        "predicted_mfu": pred_tflops / peak if peak and number(row, "measured_mfu") else None,
        "measured_mfu": number(row, "measured_mfu"),
        "source_mfu": (number(row, "measured_mfu") if number(row, "measured_mfu") is not None
                       else number(row, "derived_mfu")),
        "predicted_hfu": pred_tflops / peak if peak and number(row, "measured_hfu") else None,
        "measured_hfu": number(row, "measured_hfu"),
        "predicted_memory_gib": mem_gib,
        "measured_memory_gib": number(row, "measured_memory_gb"),
        "predicted_fits": pick["fits_memory"],
        "measured_oom": (row.get("measured_oom") or "").strip().lower() or None,
        "bottleneck": pick["bottleneck"],
        "searched": ", ".join(f"{k}={v}" for k, v in searched.items()),
    }


def not_scored(spec: RunSpec, pick: dict) -> str:
    """Why a represented run predicted not to fit in memory is not scored."""
    need = (pick["memory_total_bytes"] + pick["cuda_context_bytes"]) / units.GIB_BYTES
    which = ("no searched setting fits; the leanest needs" if spec.search else
             "the stated setting needs")
    usable = pick["memory_gib"] * (1.0 - pick.get("memory_reserve_fraction", 0.0))
    return (f"predicted not to fit in memory ({which} {need:.0f} GiB; {usable:.0f} GiB of "
            f"{pick['memory_gib']:.0f} GiB usable after the allocator reserve)")


def _record(row: dict, spec: RunSpec, pick: dict | None) -> dict[str, Any]:
    """One output row: the run, its prediction (if represented) and the error, or why it is
    not scored."""
    target, target_kind = target_step_time(row)
    rec: dict[str, Any] = {
        "row_id": spec.row_id, "source": spec.source,
        "gpu": parse.gpu_name(row.get("gpu")) or row.get("gpu"),
        "n_gpus": number(row, "n_gpus"), "represented": spec.unrepresentable is None,
        "reason_not_represented": spec.unrepresentable or "",
        "measured_step_time_s": target, "step_time_kind": target_kind if target else "",
        "reason_not_scored": "",
        "experts": bool(spec.base.get("n_experts", 0)),
    }
    if pick is not None:
        rec.update(_prediction(row, spec, pick))
        if not pick["fits_memory"]:
            rec["reason_not_scored"] = not_scored(spec, pick)
        elif target:
            rec["abs_err_pct"] = abs(pick["step_time_s"] - target) / target * 100.0
    rec["assumptions"] = "; ".join(spec.assumptions)
    return rec


def predict_runs(runs: pl.DataFrame, overrides: dict[str, Any] | None = None) -> pl.DataFrame:
    """Predict every run of ``runs``; one output row per input row, in the input order.

    Parameters
    ----------
    runs : polars.DataFrame
        A run table (:func:`read_runs`); rows in any order, extra columns ignored.
    overrides : dict, optional
        Model inputs set for every run (e.g. to study a constant).

    Returns
    -------
    polars.DataFrame
        Per run: whether it is represented (else why not), the predicted and measured step
        time [s], TFLOP/s per GPU in the source's FLOP convention, MFU/HFU, memory [GiB],
        fit against the reported OOM, the chosen layout, the searched settings, the
        assumptions and ``abs_err_pct`` (absolute step-time error [%]) where scored.
    """
    rows = runs.to_dicts()
    specs = [run_spec(r) for r in rows]
    chosen = _choose(specs, overrides)
    out = [_record(row, spec, chosen.get(i))
           for i, (row, spec) in enumerate(zip(rows, specs, strict=True))]
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
