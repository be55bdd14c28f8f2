"""What a sweep's results say: the recommendation, rankings, use cases and scaling guidelines.

Everything here is computed from the sweep's own ``best`` table and ``counts``;
no sentence is fixed text without the numbers that justify it. The result is a
plain JSON-serialisable dict that the report templates render.

* :mod:`~trainplan.analysis.summary`: one configuration as numbers and layout text;
* :mod:`~trainplan.analysis.recommend`: the reference scenario, rankings, use cases;
* :mod:`~trainplan.analysis.guidelines`: bands, scaling efficiency, implementation notes.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from trainplan import catalog
from trainplan.analysis.answer import answer
from trainplan.analysis.guidelines import (
    BANDS,
    NOTES,
    implementation_notes,
    scaling_efficiency,
    scaling_guidelines,
)
from trainplan.analysis.headroom import headroom
from trainplan.analysis.recommend import (
    MFU_FRACTION_FOR_REFERENCE,
    USE_CASE_MARGIN,
    choose_reference,
    rankings,
    scenario_columns,
    scenario_label,
    scenarios,
    use_cases,
)
from trainplan.analysis.replicated import replicated_memory_bytes
from trainplan.analysis.summary import GIB, display_value, layout_text, summary_of, whole
from trainplan.schema.inputs import INPUTS, LAYOUT_AXES
from trainplan.sweep.file import Sweep

__all__ = [
    "BANDS", "GIB", "MFU_FRACTION_FOR_REFERENCE", "NOTES", "USE_CASE_MARGIN", "analyse",
    "assumptions",
    "choose_reference", "implementation_notes", "layout_text", "models_table", "rankings",
    "scaling_efficiency", "scaling_guidelines", "scenario_columns", "scenario_label",
    "scenarios", "summary_of", "use_cases",
]


def _given(sweep: Sweep) -> dict[str, list]:
    """Values the sweep sets for each input: its axes and constants."""
    given = {a.name: a.values for a in sweep.axes}
    given.update({k: [v] for k, v in sweep.constants.items()})
    return given


def _values(spec, given: dict[str, list], best: pl.DataFrame | None = None) -> list | None:
    """The values an assumption row lists for ``spec``; None for an input left out.

    An input the catalogs fill is listed with the values they gave (from ``best``): one
    value, or ``GPU: value`` per GPU type where it differs between them.
    """
    if spec.name == "model":
        return [v["model"] for v in given["model"]]
    if spec.name in given:
        return given[spec.name]
    if spec.name == "global_batch_tokens" and best is not None and best.height:
        tokens = (best["global_batch"] * best["seq_len"]).unique().sort().to_list()
        return [int(t) for t in tokens if t is not None]
    if spec.from_catalog:
        return _catalog_values(spec.name, best)
    if spec.default is None and spec.name == "dp":
        return ["n_gpus / (tp pp cp)"]
    if spec.default is None:
        return None
    return [spec.default]


def _catalog_values(name: str, best: pl.DataFrame | None) -> list:
    """The values the catalogs gave input ``name`` in ``best``: one value, else
    ``GPU: value`` per GPU type."""
    if best is None or name not in best.columns or best.height == 0:
        return ["from the catalog"]
    pairs = best.select("gpu", name).unique().sort("gpu")
    values = pairs[name].unique().sort().to_list()
    if len(values) == 1:
        return values
    if pairs.height == pairs["gpu"].n_unique():
        return [f"{g}: {display_value(v)}" for g, v in pairs.iter_rows()]
    return values


EXPERT_INPUTS = ("ep", "etp", "moe_dispatcher", "moe_router_group_topk", "moe_a2a_overlap",
                 "recompute_moe", "offload_moe_inputs",
                 "moe_load_imbalance", "moe_capacity_factor")
"""Inputs that only matter for models with experts."""


def assumptions(sweep: Sweep, best: pl.DataFrame | None = None) -> list[dict]:
    """Every input: its value(s) in this sweep, unit, and whether it is a default (with source).

    Architecture columns other than ``model`` are left out (the model table lists them), as
    are inputs without a default that the sweep does not set, and the expert-parallel inputs
    (:data:`EXPERT_INPUTS`) of a sweep whose models have no experts. Inputs the catalogs fill show
    the values they took in ``best`` (the global batch also in tokens).
    """
    out = []
    given = _given(sweep)
    varied = {a.name for a in sweep.axes}
    experts = bool(set(given) & set(EXPERT_INPUTS)) or (
        best is not None and "n_experts" in best.columns and best.height > 0
        and bool((best["n_experts"].fill_null(0) > 0).any()))
    for spec in INPUTS:
        if spec.group == "model" and spec.name != "model":
            continue
        if spec.name in EXPERT_INPUTS and not experts:
            continue
        values = _values(spec, given, best)
        if values is None:
            continue
        is_default = spec.name not in given
        out.append({"name": spec.name, "group": spec.group, "unit": spec.unit,
                    "values": [display_value(v) for v in values], "default": is_default,
                    "varied": spec.name in varied,
                    "description": spec.description,
                    "source": spec.source if is_default else ""})
    return out


def models_table(best: pl.DataFrame) -> list[dict]:
    """One row per model of ``best`` (by name): its size [B parameters], architecture and the
    catalog source of its numbers (or that the sweep gave them inline)."""
    out = []
    for name in best["model"].unique().sort().to_list():
        r = best.filter(pl.col("model") == name).row(0, named=True)
        entry = catalog.find_model(name)
        out.append({"model": name, "params_b": float(r["params_total"]) / 1e9,
                    "n_layers": whole(r["n_layers"]), "hidden": whole(r["hidden"]),
                    "n_heads": whole(r["n_heads"]), "n_kv_heads": whole(r["n_kv_heads"]),
                    "ffn_hidden": whole(r["ffn_hidden"]), "vocab": whole(r["vocab"]),
                    "gated_mlp": bool(r["gated_mlp"]),
                    "n_experts": whole(r.get("n_experts") or 0),
                    "top_k": whole(r.get("top_k") or 0),
                    "params_active_b": float(r.get("params_active") or r["params_total"]) / 1e9,
                    "source": entry["source"] if entry else "given inline in the sweep"})
    return out


def _describe(sweep: Sweep, counts: dict, best: pl.DataFrame | None = None) -> dict[str, Any]:
    """The part of the analysis that depends on the sweep file only (and the counts)."""
    return {
        "name": sweep.name, "title": sweep.title, "description": sweep.description,
        "question": sweep.question, "grid_size": sweep.size, "keep": sweep.keep,
        "axes": [{"name": a.name, "count": len(a.values),
                  "values": [display_value(v["model"] if a.name == "model" else v)
                             for v in a.values]} for a in sweep.axes],
        "scenario_columns": scenario_columns(sweep),
        "counts": counts,
        "assumptions": assumptions(sweep, best),
        "layout_axes": sorted(a.name for a in sweep.axes if a.name in LAYOUT_AXES),
    }


def analyse(sweep: Sweep, best: pl.DataFrame, counts: dict) -> dict:
    """Everything the report says about a sweep, as a JSON-serialisable dict.

    Parameters
    ----------
    sweep : Sweep
        The loaded sweep file.
    best : polars.DataFrame
        ``best.parquet``: the candidate configurations of every scenario with
        ``rank_in_scenario`` (integer columns Int64; ``dp`` null where
        ``n_gpus / (tp pp cp)`` is not whole).
    counts : dict
        ``counts.json``: configurations evaluated, feasible, and reasons.

    Returns
    -------
    dict
        The sweep's description, assumptions and models; the ``reference`` scenario (label,
        best summary, full configuration), the ``answer`` over the scenario axes
        (:func:`~trainplan.analysis.answer.answer`), every scenario's winner, the reference's
        ``rankings``, ``use_cases`` and ``implementation`` notes, and the ``scaling``
        guidelines and ``scaling_efficiency`` over the whole table. Without any scenario
        winner, ``reference`` is None and the lists are empty.
    """
    columns = scenario_columns(sweep)
    ref = choose_reference(best, sweep) if best.height else None
    result = _describe(sweep, counts, best)
    result["models"] = models_table(best) if best.height else []
    if ref is None:
        result.update({"reference": None, "answer": None, "scenarios": [], "rankings": {},
                       "use_cases": [], "scaling": [], "scaling_efficiency": [],
                       "implementation": []})
        return result
    rows = best.filter(pl.col("scenario_id") == ref)
    top = rows.filter(pl.col("rank_in_scenario") == 1).row(0, named=True)
    the_answer = answer(best, columns, sweep.raw.get("answer_axes"))
    page1 = the_answer["page1"]
    kept = [a["name"] for a in page1["axes"]]
    # scaling is read along the page-1 axes: over the fastest scenario of the minor ones
    series = best.filter(pl.col("scenario_id").is_in([r["scenario_id"] for r in page1["rows"]])) \
        if page1["collapsed"] else best
    result.update({
        "reference": {"scenario_id": ref, "label": scenario_label(top, columns),
                      "best": summary_of(top), "headroom": headroom(rows, top),
                      "replicated_memory_bytes": replicated_memory_bytes(top),
                      "config": {k: _jsonable(v) for k, v in top.items()}},
        "answer": the_answer,
        "scenarios": scenarios(best, columns),
        "rankings": rankings(rows),
        "use_cases": use_cases(rows, best),
        "use_case_margin": USE_CASE_MARGIN,
        "scaling": scaling_guidelines(series, kept),
        "scaling_efficiency": scaling_efficiency(series, kept),
        "implementation": implementation_notes(rows.sort("strategy")),
    })
    return result


def _jsonable(v: Any) -> Any:
    """NaN and infinity (not JSON) become None."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
