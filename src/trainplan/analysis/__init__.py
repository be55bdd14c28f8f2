"""What a sweep's results say: the recommendation, rankings, use cases and scaling guidelines.

Everything here is computed from the sweep's own tables (``best``, ``tp_pp``,
``pareto``, ``counts``); no sentence is fixed text without the numbers that
justify it. The result is a plain JSON-serialisable dict that the report
templates render.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from trainplan import catalog
from trainplan.model.feasibility import MEMORY, REASONS
from trainplan.schema.inputs import INPUT_BY_NAME, INPUTS, LAYOUT_AXES
from trainplan.sweep.file import Sweep

GIB = 2.0**30
MEMORY_REASON = REASONS[MEMORY]
EXPOSED = ("tp_exposed_s", "cp_exposed_s", "dp_exposed_s", "pp_exposed_s")
MFU_FRACTION_FOR_REFERENCE = 0.9
"""The reference scenario is the largest whose best configuration reaches at least this
fraction of the best achieved TFLOP/s per GPU on the same GPU type (the biggest cluster that
still uses its GPUs about as well); among equally large ones, the one that trains fastest."""


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _int(x: Any) -> int:
    return round(float(x))


def layout_text(row: dict) -> str:
    """``tp=8 pp=4 (vpp 2) dp=16 cp=1, micro-batch 1, ZeRO-1, selective recompute``."""
    parts = [f"tp={_int(row['tp'])}", f"pp={_int(row['pp'])}"]
    if _int(row["vpp"]) > 1:
        parts[-1] += f" (vpp {_int(row['vpp'])})"
    parts += [f"dp={_int(row['dp'])}"]
    if _int(row["cp"]) > 1:
        parts.append(f"cp={_int(row['cp'])}")
    text = " ".join(parts) + f", micro-batch {_int(row['micro_batch'])}"
    zero = _int(row["zero_stage"])
    text += ", no ZeRO" if zero == 0 else f", ZeRO-{zero}"
    text += f", {row['recompute']} recompute" if row["recompute"] != "none" else \
        ", no recompute"
    if row.get("seq_parallel") and _int(row["tp"]) > 1:
        text += ", sequence parallel"
    return text


def summary_of(row: dict) -> dict:
    """The numbers a report shows for one configuration (units in the keys)."""
    exposed = sum(float(row[k]) for k in EXPOSED)
    step = float(row["step_time_s"])
    return {
        "config_id": _int(row["config_id"]),
        "strategy": row["strategy"],
        "layout": layout_text(row),
        "feasible": bool(row["feasible"]),
        "reason": row["reason"],
        "n_gpus": _int(row["n_gpus"]),
        "gpu": row["gpu"],
        "model": row["model"],
        "step_time_s": step,
        "tokens_per_s": float(row["tokens_per_s"]),
        "tflop_s_per_gpu": float(row["achieved_tflop_s_per_gpu"]),
        "mfu": float(row["mfu"]),
        "memory_gib": float(row["memory_total_bytes"]) / GIB,
        "memory_usable_gib": float(row["memory_usable_bytes"]) / GIB,
        "exposed_comm_s": exposed,
        "exposed_comm_share": exposed / step if step > 0 else None,
        "comm_bytes_per_step": sum(float(row[f"comm_{d}_bytes_per_step"])
                                   for d in ("tp", "cp", "dp", "pp")),
        "bubble_share": float(row["bubble_time_s"]) / step if step > 0 else None,
        "bottleneck": row["bottleneck"],
        "time_to_train_days": _num(row["time_to_train_days"]),
        "gpu_hours": _num(row["gpu_hours"]),
        "cost_usd": _num(row["cost_usd"]),
        "energy_mwh": _num(row["energy_mwh"]),
    }


def scenario_columns(sweep: Sweep) -> list[str]:
    return list(sweep.scenario)


def scenario_label(row: dict, columns: list[str]) -> str:
    """``llama3-70b, 512 x H100-SXM5-80GB, scaleout 3200 Gb/s/node``."""
    parts = []
    gpus = f"{_int(row['n_gpus'])} x {row['gpu']}"
    parts.append(str(row["model"]))
    parts.append(gpus)
    for c in columns:
        if c in ("model", "n_gpus", "gpu"):
            continue
        spec = INPUT_BY_NAME.get(c)
        unit = f" {spec.unit}" if spec is not None and spec.unit != "-" else ""
        value = row.get(c)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        parts.append(f"{c} {value}{unit}")
    return ", ".join(parts)


def choose_reference(best: pl.DataFrame, sweep: Sweep) -> int | None:
    """The scenario the headline recommendation is for (see
    :data:`MFU_FRACTION_FOR_REFERENCE`; a sweep's ``reference`` key overrides)."""
    winners = best.filter(pl.col("rank_in_scenario") == 1)
    if winners.height == 0:
        return None
    wanted = sweep.raw.get("reference") or {}
    if wanted:
        cond = pl.lit(True)
        for key, value in wanted.items():
            cond = cond & (pl.col(key) == value)
        match = winners.filter(cond)
        if match.height:
            return int(match["scenario_id"][0])
    # achieved TFLOP/s, not MFU, so that FP8 and 16-bit scenarios of one GPU compare fairly
    top = pl.col("achieved_tflop_s_per_gpu").max().over("gpu")
    good = winners.filter(pl.col("achieved_tflop_s_per_gpu") >= MFU_FRACTION_FOR_REFERENCE * top)
    good = good.sort(["n_gpus", "step_time_s", "scenario_id"], descending=[True, False, False])
    return int(good["scenario_id"][0])


def rankings(rows: pl.DataFrame) -> dict[str, list[dict]]:
    """Strategies of one scenario ranked four ways, with the number each ranking uses."""
    items = [summary_of(r) for r in rows.iter_rows(named=True)]
    feasible = [i for i in items if i["feasible"]]
    infeasible = [i for i in items if not i["feasible"]]

    def ranked(key, reverse=False, pool=None):
        pool = items if pool is None else pool
        return sorted(pool, key=lambda i: (i[key] is None, i[key]), reverse=reverse)

    return {
        "memory": ranked("memory_gib"),
        "compute_efficiency": sorted(feasible, key=lambda i: -i["mfu"]) + infeasible,
        "communication": ranked("exposed_comm_s", pool=feasible) + infeasible,
        "overall": ranked("step_time_s", pool=feasible) + infeasible,
    }


def _pct(a: float, b: float) -> float:
    return (a / b - 1.0) * 100.0


def use_cases(rows: pl.DataFrame, best: pl.DataFrame) -> list[dict]:
    """Recommendations for four situations, each from this sweep's numbers."""
    items = [summary_of(r) for r in rows.iter_rows(named=True)]
    feasible = [i for i in items if i["feasible"]]
    out = []
    if not feasible:
        out.append(_nothing_feasible(items))
        return out
    fastest = min(feasible, key=lambda i: i["step_time_s"])
    lean = min(feasible, key=lambda i: i["memory_gib"])
    out.append({
        "case": "Memory constrained", "strategy": lean["strategy"],
        "text": (f"{lean['strategy']} ({lean['layout']}) needs the least memory, "
                 f"{lean['memory_gib']:.1f} GiB per GPU against {fastest['memory_gib']:.1f} GiB "
                 f"for the fastest ({fastest['strategy']}); its step is "
                 f"{_pct(lean['step_time_s'], fastest['step_time_s']):+.0f} % longer.")})
    quiet = min(feasible, key=lambda i: i["exposed_comm_s"])
    share = quiet["exposed_comm_share"] or 0.0
    out.append({
        "case": "Communication limited", "strategy": quiet["strategy"],
        "text": (f"{quiet['strategy']} ({quiet['layout']}) exposes the least communication: "
                 f"{quiet['exposed_comm_s']:.3g} s per step ({share * 100:.1f} % of its step), "
                 f"against {fastest['exposed_comm_s']:.3g} s for the fastest.")})
    busy = max(feasible, key=lambda i: i["mfu"])
    out.append({
        "case": "Compute intensive", "strategy": busy["strategy"],
        "text": (f"{busy['strategy']} ({busy['layout']}) keeps the GPUs busiest: MFU "
                 f"{busy['mfu'] * 100:.1f} %, {busy['tflop_s_per_gpu']:.0f} TFLOP/s per GPU.")})
    out.append(_large_model_case(best))
    return out


def _nothing_feasible(items: list[dict]) -> dict:
    """The use case when no strategy of the scenario is feasible, worded from the reasons."""
    if not items:
        return {"case": "No strategy fits", "strategy": None,
                "text": "No configuration was evaluated."}
    memory_only = [i for i in items if i["reason"] == MEMORY_REASON]
    if memory_only:
        c = min(memory_only, key=lambda i: i["memory_gib"])
        return {"case": "No strategy fits", "strategy": c["strategy"],
                "text": f"No configuration of this scenario fits in GPU memory; the closest "
                        f"({c['strategy']}, {c['layout']}) needs {c['memory_gib']:.1f} GiB of "
                        f"{c['memory_usable_gib']:.1f} GiB usable."}
    c = items[0]
    return {"case": "No strategy is feasible", "strategy": c["strategy"],
            "text": f"No configuration of this scenario can run; for example {c['strategy']} "
                    f"({c['layout']}) fails because: {c['reason']}."}


def _large_model_case(best: pl.DataFrame) -> dict:
    """For the largest model of the sweep: the fewest GPUs on which it fits, and how."""
    largest = best.sort(["params_total", "model"], descending=[True, False])["model"][0]
    rows = best.filter((pl.col("model") == largest) & pl.col("feasible"))
    params = float(best.filter(pl.col("model") == largest)["params_total"][0])
    if rows.height == 0:
        return {"case": "Very large models", "strategy": None,
                "text": f"{largest} ({params / 1e9:.0f} B parameters) fits in no evaluated "
                        "configuration: add GPUs, sharding (ZeRO-3, more tp/pp) or "
                        "recomputation."}
    fewest = rows.sort(["n_gpus", "step_time_s", "config_id"]).row(0, named=True)
    s = summary_of(fewest)
    return {"case": "Very large models", "strategy": s["strategy"],
            "text": (f"{largest} ({params / 1e9:.0f} B parameters) fits on as few as "
                     f"{s['n_gpus']} GPUs with {s['strategy']} ({s['layout']}): "
                     f"{s['memory_gib']:.1f} of {s['memory_usable_gib']:.1f} GiB per GPU. "
                     "Model states must be split (pipeline and tensor parallelism, or "
                     "ZeRO) once they exceed one GPU.")}


BANDS = ((1, 8, "1-8 GPUs (one node)"), (9, 64, "9-64 GPUs"), (65, 512, "65-512 GPUs"),
         (513, 4096, "513-4,096 GPUs"), (4097, 10**9, "more than 4,096 GPUs"))


def scaling_guidelines(best: pl.DataFrame) -> list[dict]:
    """Per GPU-count band: which strategy wins, its typical layout, MFU and bottleneck."""
    winners = best.filter(pl.col("rank_in_scenario") == 1)
    out = []
    for low, high, label in BANDS:
        band = winners.filter((pl.col("n_gpus") >= low) & (pl.col("n_gpus") <= high))
        if band.height == 0:
            continue
        counts = band.group_by("strategy").len().sort(["len", "strategy"],
                                                       descending=[True, False])
        top = counts["strategy"][0]
        tp = sorted({_int(x) for x in band["tp"]})
        pp = sorted({_int(x) for x in band["pp"]})
        bottlenecks = band.group_by("bottleneck").len().sort(["len", "bottleneck"],
                                                             descending=[True, False])
        out.append({
            "band": label,
            "scenarios": band.height,
            "strategy": top,
            "wins": int(counts["len"][0]),
            "tp": tp, "pp": pp,
            "mfu_min": float(band["mfu"].min()), "mfu_max": float(band["mfu"].max()),
            "bottleneck": bottlenecks["bottleneck"][0],
            "text": (f"{top} wins {int(counts['len'][0])} of {band.height} scenarios; "
                     f"tp {', '.join(map(str, tp))}; pp {', '.join(map(str, pp))}; "
                     f"MFU {band['mfu'].min() * 100:.0f}-{band['mfu'].max() * 100:.0f} %; "
                     f"mostly bound by {bottlenecks['bottleneck'][0]}."),
        })
    return out


def scaling_efficiency(best: pl.DataFrame) -> list[dict]:
    """Tokens/s per GPU of the best configuration at each GPU count, relative to the smallest
    count, per model and GPU type (weak-scaling efficiency of the plan)."""
    winners = best.filter(pl.col("rank_in_scenario") == 1)
    out = []
    ordered = winners.sort(["model", "gpu", "n_gpus", "config_id"])
    for (model, gpu), group in ordered.group_by(["model", "gpu"], maintain_order=True):
        by_n = group.group_by("n_gpus", maintain_order=True).agg(
            pl.col("tokens_per_s").max())
        base = by_n.row(0, named=True)
        base_rate = base["tokens_per_s"] / base["n_gpus"]
        for r in by_n.iter_rows(named=True):
            out.append({"model": model, "gpu": gpu, "n_gpus": _int(r["n_gpus"]),
                        "tokens_per_s": r["tokens_per_s"],
                        "efficiency": r["tokens_per_s"] / r["n_gpus"] / base_rate})
    return out


NOTES = {
    "DP": "Replicate the model, split the batch. Needs the whole model state per GPU unless "
          "ZeRO shards it; gradient reduction per step grows with the parameter count.",
    "TP": "Split every layer's matrices across GPUs; two collectives per layer in forward and "
          "backward, so keep the group inside one NVLink/NVSwitch domain.",
    "PP": "Split the layers into stages; costs a pipeline bubble of (p-1)/(v m) of the ideal "
          "(bubble-free) time, reduced by more micro-batches or virtual stages (interleaving).",
    "2D (DP x TP)": "Tensor parallelism inside a node, data parallelism across nodes.",
    "2D (DP x PP)": "Pipeline stages hold slices of the model; replicas of the pipeline split "
                    "the batch.",
    "2D (TP x PP)": "Model parallelism only: every GPU holds a slice of the model.",
    "3D (DP x TP x PP)": "Tensor parallelism inside nodes, pipeline stages across nodes, data "
                         "parallel replicas of the whole pipeline (Megatron-LM PTD-P).",
    "single GPU": "No parallelism.",
}


def implementation_notes(rows: pl.DataFrame) -> list[dict]:
    """Per strategy present: how it is built, with this scenario's numbers."""
    out = []
    for r in rows.iter_rows(named=True):
        s = summary_of(r)
        base = r["strategy"].replace(" + CP", "")
        specifics = []
        tp = _int(r["tp"])
        if tp > 1:
            specifics.append(f"TP={tp} moves {float(r['comm_tp_bytes_per_step']) / 1e9:.1f} GB "
                             f"per GPU per step, {float(r['tp_exposed_s']):.3g} s of it exposed")
        if _int(r["pp"]) > 1:
            specifics.append(f"PP={_int(r['pp'])} with {_int(r['n_microbatches'])} micro-batches"
                             f" and vpp={_int(r['vpp'])}: bubble "
                             f"{float(r['bubble_fraction']) * 100:.1f} % of the pipeline")
        if _int(r["zero_stage"]) > 0:
            specifics.append(f"ZeRO-{_int(r['zero_stage'])}: optimizer states "
                             f"{float(r['memory_optimizer_bytes']) / GIB:.1f} GiB per GPU")
        if _int(r["dp"]) > 1:
            specifics.append(f"DP={_int(r['dp'])} exposes {float(r['dp_exposed_s']):.3g} s of "
                             "gradient/parameter communication per step")
        if _int(r["cp"]) > 1:
            specifics.append(f"CP={_int(r['cp'])} splits each sequence of {_int(r['seq_len'])} "
                             "tokens")
        out.append({"strategy": r["strategy"], "note": NOTES.get(base, ""),
                    "specifics": "; ".join(specifics) + "." if specifics else "",
                    "feasible": s["feasible"], "reason": s["reason"]})
    return out


def assumptions(sweep: Sweep) -> list[dict]:
    """Every input: its value(s) in this sweep, unit, and whether it is a default (with source)."""
    out = []
    given = {a.name: a.values for a in sweep.axes}
    given.update({k: [v] for k, v in sweep.constants.items()})
    for spec in INPUTS:
        if spec.group == "model" and spec.name != "model":
            continue
        if spec.name == "model":
            values = [v["model"] for v in given["model"]]
        elif spec.name in given:
            values = given[spec.name]
        elif spec.from_catalog:
            values = ["from the catalog"]
        elif spec.default is None and spec.name == "dp":
            values = ["n_gpus / (tp pp cp)"]
        elif spec.default is None:
            continue
        else:
            values = [spec.default]
        is_default = spec.name not in given
        out.append({"name": spec.name, "group": spec.group, "unit": spec.unit,
                    "values": [_display(v) for v in values], "default": is_default,
                    "varied": spec.name in {a.name for a in sweep.axes},
                    "description": spec.description,
                    "source": spec.source if is_default else ""})
    return out


def _display(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "not set"
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:.4g}"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def models_table(best: pl.DataFrame) -> list[dict]:
    out = []
    for name in best["model"].unique().sort().to_list():
        r = best.filter(pl.col("model") == name).row(0, named=True)
        entry = catalog.find_model(name)
        out.append({"model": name, "params_b": float(r["params_total"]) / 1e9,
                    "n_layers": _int(r["n_layers"]), "hidden": _int(r["hidden"]),
                    "n_heads": _int(r["n_heads"]), "n_kv_heads": _int(r["n_kv_heads"]),
                    "ffn_hidden": _int(r["ffn_hidden"]), "vocab": _int(r["vocab"]),
                    "gated_mlp": bool(r["gated_mlp"]),
                    "source": entry["source"] if entry else "given inline in the sweep"})
    return out


def analyse(sweep: Sweep, best: pl.DataFrame, counts: dict) -> dict:
    """Everything the report says, as a JSON-serialisable dict."""
    columns = scenario_columns(sweep)
    ref = choose_reference(best, sweep) if best.height else None
    result: dict[str, Any] = {
        "name": sweep.name, "title": sweep.title, "description": sweep.description,
        "question": sweep.question, "grid_size": sweep.size, "keep": sweep.keep,
        "axes": [{"name": a.name, "count": len(a.values),
                  "values": [_display(v["model"] if a.name == "model" else v)
                             for v in a.values]} for a in sweep.axes],
        "scenario_columns": columns,
        "counts": counts,
        "assumptions": assumptions(sweep),
        "models": models_table(best) if best.height else [],
        "layout_axes": sorted(a.name for a in sweep.axes if a.name in LAYOUT_AXES),
    }
    if ref is None:
        result.update({"reference": None, "scenarios": [], "rankings": {}, "use_cases": [],
                       "scaling": [], "scaling_efficiency": [], "implementation": []})
        return result
    rows = best.filter(pl.col("scenario_id") == ref)
    top = rows.filter(pl.col("rank_in_scenario") == 1).row(0, named=True)
    scenarios = []
    for sid in best["scenario_id"].unique().sort().to_list():
        group = best.filter(pl.col("scenario_id") == sid)
        winner = group.filter(pl.col("rank_in_scenario") == 1)
        first = (winner if winner.height else group).row(0, named=True)
        scenarios.append({"scenario_id": sid, "label": scenario_label(first, columns),
                          "best": summary_of(first) if winner.height else None,
                          "feasible_strategies": int(group["feasible"].sum()),
                          "strategies": group.height})
    result.update({
        "reference": {"scenario_id": ref, "label": scenario_label(top, columns),
                      "best": summary_of(top), "config": {k: _jsonable(v)
                                                          for k, v in top.items()}},
        "scenarios": scenarios,
        "rankings": rankings(rows),
        "use_cases": use_cases(rows, best),
        "scaling": scaling_guidelines(best),
        "scaling_efficiency": scaling_efficiency(best),
        "implementation": implementation_notes(rows.sort("strategy")),
    })
    return result


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v
