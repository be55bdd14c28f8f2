"""The recommendation: which scenario is the headline, how its strategies rank, and what to
use in four situations, each worded with the sweep's own numbers."""

from __future__ import annotations

import polars as pl

from trainplan.analysis.summary import summary_of, whole
from trainplan.model.feasibility import MEMORY, REASONS
from trainplan.schema.inputs import INPUT_BY_NAME
from trainplan.sweep.file import Sweep

MEMORY_REASON = REASONS[MEMORY]
MFU_FRACTION_FOR_REFERENCE = 0.9
"""The reference scenario is the largest whose best configuration reaches at least this
fraction of the best achieved TFLOP/s per GPU on the same GPU type (the biggest cluster that
still uses its GPUs about as well); among equally large ones, the one that trains fastest."""


def scenario_columns(sweep: Sweep) -> list[str]:
    """The inputs that tell the sweep's scenarios apart (its non-layout axes)."""
    return list(sweep.scenario)


def scenario_label(row: dict, columns: list[str]) -> str:
    """``llama3-70b, 512 x H100-SXM5-80GB, scaleout_gbit_s_per_node 3200 Gb/s``.

    The model and the cluster first, then every other scenario column of ``columns`` with
    its value and unit (whole floats printed as ints).
    """
    parts = [str(row["model"]), f"{whole(row['n_gpus'])} x {row['gpu']}"]
    return ", ".join(parts + other_columns(row, columns))


def other_columns(row: dict, columns: list[str]) -> list[str]:
    """``scaleout_gbit_s_per_node 3200 Gb/s``: each scenario column of ``columns`` but the
    model, GPU type and count, with its value and unit (whole floats printed as ints)."""
    parts = []
    for c in columns:
        if c in ("model", "n_gpus", "gpu"):
            continue
        spec = INPUT_BY_NAME.get(c)
        unit = f" {spec.unit}" if spec is not None and spec.unit != "-" else ""
        value = row.get(c)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        parts.append(f"{c} {value}{unit}")
    return parts


def choose_reference(best: pl.DataFrame, sweep: Sweep) -> int | None:
    """The scenario the headline recommendation is for.

    The sweep's ``reference`` key (column: value pairs) picks it where a scenario winner
    matches; otherwise the largest scenario whose winner reaches
    :data:`MFU_FRACTION_FOR_REFERENCE` of the best achieved TFLOP/s per GPU on its GPU type,
    the fastest step (then the lowest id) among equally large ones. None without winners.
    """
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


def scenarios(best: pl.DataFrame, columns: list[str]) -> list[dict]:
    """One entry per scenario, by id: its label, its winner's summary (None if nothing is
    feasible) and how many of its strategies are feasible."""
    out = []
    for sid in best["scenario_id"].unique().sort().to_list():
        group = best.filter(pl.col("scenario_id") == sid)
        winner = group.filter(pl.col("rank_in_scenario") == 1)
        first = (winner if winner.height else group).row(0, named=True)
        out.append({"scenario_id": sid, "label": scenario_label(first, columns),
                    "best": summary_of(first) if winner.height else None,
                    "feasible_strategies": int(group["feasible"].sum()),
                    "strategies": group.height})
    return out


def _ranked(items: list[dict], key: str) -> list[dict]:
    """``items`` by ascending ``key``, None last."""
    return sorted(items, key=lambda i: (i[key] is None, i[key]))


def rankings(rows: pl.DataFrame) -> dict[str, list[dict]]:
    """Strategies of one scenario ranked four ways, with the number each ranking uses.

    ``memory`` (least memory per GPU first, infeasible included), ``compute_efficiency``
    (highest MFU first), ``communication`` (least exposed communication first) and
    ``overall`` (shortest step first); the last three rank the feasible strategies and
    append the infeasible ones in table order.
    """
    items = [summary_of(r) for r in rows.iter_rows(named=True)]
    feasible = [i for i in items if i["feasible"]]
    infeasible = [i for i in items if not i["feasible"]]
    return {
        "memory": _ranked(items, "memory_gib"),
        "compute_efficiency": sorted(feasible, key=lambda i: -i["mfu"]) + infeasible,
        "communication": _ranked(feasible, "exposed_comm_s") + infeasible,
        "overall": _ranked(feasible, "step_time_s") + infeasible,
    }


def _pct(a: float, b: float) -> float:
    """How much larger ``a`` is than ``b`` [%]."""
    return (a / b - 1.0) * 100.0


def use_cases(rows: pl.DataFrame, best: pl.DataFrame) -> list[dict]:
    """Recommendations for four situations, each from this sweep's numbers.

    Memory constrained, communication limited and compute intensive are chosen among the
    feasible strategies of the reference scenario ``rows`` whose step is within
    :data:`USE_CASE_MARGIN` of the fastest (a pick that gives up more time than that is no
    recommendation); one entry explaining why when none is feasible. Very large models are
    answered from the whole ``best`` table.
    """
    items = [summary_of(r) for r in rows.iter_rows(named=True)]
    feasible = [i for i in items if i["feasible"]]
    if not feasible:
        return [_nothing_feasible(items)]
    fastest = min(feasible, key=lambda i: i["step_time_s"])
    near = [i for i in feasible
            if i["step_time_s"] <= fastest["step_time_s"] * (1.0 + USE_CASE_MARGIN)]
    lean = min(near, key=lambda i: (i["memory_gib"], i["step_time_s"]))
    quiet = min(near, key=lambda i: (i["exposed_comm_s"], i["step_time_s"]))
    share = quiet["exposed_comm_share"] or 0.0
    busy = max(near, key=lambda i: (i["mfu"], -i["step_time_s"]))
    return [
        {"case": "Memory constrained", "strategy": lean["strategy"],
         "text": _lean_text(lean, fastest)},
        {"case": "Communication limited", "strategy": quiet["strategy"],
         "text": (f"{quiet['strategy']} ({quiet['layout']}) exposes the least communication "
                  f"{_WITHIN}: {quiet['exposed_comm_s']:.3g} s per step ({share * 100:.1f} % "
                  f"of its step), against {fastest['exposed_comm_s']:.3g} s for the fastest"
                  + ("." if quiet is not fastest else " (it is the fastest)."))},
        {"case": "Compute intensive", "strategy": busy["strategy"],
         "text": (f"{busy['strategy']} ({busy['layout']}) keeps the GPUs busiest {_WITHIN}: "
                  f"MFU {busy['mfu'] * 100:.1f} %, {busy['tflop_s_per_gpu']:.0f} TFLOP/s per "
                  "GPU.")},
        _large_model_case(best),
    ]


USE_CASE_MARGIN = 0.10
"""Use-case picks are made among the layouts whose step is at most this fraction longer than
the fastest one of the scenario [-]."""

_WITHIN = f"of the layouts within {USE_CASE_MARGIN * 100:.0f} % of the fastest step"


def _lean_text(lean: dict, fastest: dict) -> str:
    """The memory-constrained pick, against the fastest layout."""
    if lean is fastest:
        return (f"The fastest, {lean['strategy']} ({lean['layout']}), also needs the least "
                f"memory {_WITHIN}: {lean['memory_gib']:.1f} GiB per GPU of "
                f"{lean['memory_usable_gib']:.1f} GiB usable.")
    return (f"{lean['strategy']} ({lean['layout']}) needs the least memory {_WITHIN}: "
            f"{lean['memory_gib']:.1f} GiB per GPU against {fastest['memory_gib']:.1f} GiB for "
            f"the fastest ({fastest['strategy']}); its step is "
            f"{_pct(lean['step_time_s'], fastest['step_time_s']):+.0f} % longer.")


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
    smallest = whole(best.filter(pl.col("model") == largest)["n_gpus"].min())
    where = (f"fits on {s['n_gpus']:,} x {s['gpu']}, the smallest count this sweep evaluates "
             "for it (fewer were not tried),"
             if s["n_gpus"] <= smallest else f"fits on as few as {s['n_gpus']:,} x {s['gpu']}")
    return {"case": "Very large models", "strategy": s["strategy"],
            "text": (f"{largest} ({params / 1e9:.0f} B parameters) {where} with "
                     f"{s['strategy']} ({s['layout']}): "
                     f"{s['memory_gib']:.1f} of {s['memory_usable_gib']:.1f} GiB per GPU. "
                     "Model states must be split (pipeline and tensor parallelism, or "
                     "ZeRO) once they exceed one GPU.")}
