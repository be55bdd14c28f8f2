"""One configuration of a result table as the numbers and the layout text a report shows.

Integer columns arrive as integers (Int64 in ``best.parquet``; ``dp`` is null where
``n_gpus / (tp pp cp)`` is not whole) and stay integers in ``analysis.json``.
"""

from __future__ import annotations

import math
from typing import Any

from trainplan.schema.inputs import INPUTS

GIB = 2.0**30
"""Bytes per GiB."""

EXPOSED = ("tp_exposed_s", "cp_exposed_s", "ep_exposed_s", "dp_exposed_s", "pp_exposed_s")
"""Communication time left exposed after overlap, per dimension [s]."""

INTEGER_COLUMNS = tuple(spec.name for spec in INPUTS if spec.kind == "int")
"""Whole-number columns of a result table (Int64)."""


def optional_float(x: Any) -> float | None:
    """``x`` as a float; None for a null or NaN."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def whole(x: Any) -> int | None:
    """``x`` (int or float) rounded to the nearest int; None for a null."""
    return None if x is None else round(float(x))


def layout_text(row: dict) -> str:
    """How one configuration splits the work, as a report prints it.

    For example ``tp=8 pp=4 (vpp 2) dp=16, micro-batch 1, ZeRO-1, selective recompute,
    sequence parallel``; ``cp`` is shown only above 1 and sequence parallelism only with
    ``tp > 1``.
    """
    parts = [f"tp={whole(row['tp'])}", f"pp={whole(row['pp'])}"]
    if whole(row["vpp"]) > 1:
        parts[-1] += f" (vpp {whole(row['vpp'])})"
    dp = whole(row["dp"])
    parts += [f"dp={dp}" if dp is not None else "dp not whole"]
    if whole(row["cp"]) > 1:
        parts.append(f"cp={whole(row['cp'])}")
    if whole(row.get("ep", 1) or 1) > 1:
        parts.append(f"ep={whole(row['ep'])}")
        if whole(row.get("etp", 1) or 1) > 1:
            parts[-1] += f" (etp {whole(row['etp'])})"
    text = " ".join(parts) + f", micro-batch {whole(row['micro_batch'])}"
    zero = whole(row["zero_stage"])
    text += ", no ZeRO" if zero == 0 else f", ZeRO-{zero}"
    blocks = bool(row.get("recompute_moe")) and row["recompute"] != "full"
    if row["recompute"] == "none":
        text += ", MoE blocks recomputed" if blocks else ", no recompute"
    else:
        text += f", {row['recompute']} recompute" + (" with whole MoE blocks" if blocks else "")
    if row.get("offload_moe_inputs"):
        text += ", experts' inputs offloaded"
    if row.get("seq_parallel") and whole(row["tp"]) > 1:
        text += ", sequence parallel"
    if whole(row.get("ep", 1) or 1) > 1 and row.get("moe_dispatcher") == "deepep":
        text += ", DeepEP dispatch"
    return text


def summary_of(row: dict) -> dict:
    """The numbers a report shows for one configuration (units in the keys).

    Exposed communication is the sum over :data:`EXPOSED`; its share and the bubble share
    are fractions of the step (None for a zero step). Training time, GPU-hours, cost and
    energy are None where the table holds NaN (no token budget or price).
    """
    exposed = sum(float(row.get(k) or 0.0) for k in EXPOSED)   # ep: absent in old tables
    step = float(row["step_time_s"])
    return {
        "config_id": whole(row["config_id"]),
        "strategy": row["strategy"],
        "layout": layout_text(row),
        "feasible": bool(row["feasible"]),
        "reason": row["reason"],
        "n_gpus": whole(row["n_gpus"]),
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
        "comm_bytes_per_step": sum(float(row.get(f"comm_{d}_bytes_per_step", 0.0) or 0.0)
                                   for d in ("tp", "cp", "ep", "dp", "pp")),
        "bubble_share": float(row["bubble_time_s"]) / step if step > 0 else None,
        "bottleneck": row["bottleneck"],
        "time_to_train_days": optional_float(row["time_to_train_days"]),
        "gpu_hours": optional_float(row["gpu_hours"]),
        "cost_usd": optional_float(row["cost_usd"]),
        "energy_mwh": optional_float(row["energy_mwh"]),
    }


def display_value(v: Any) -> str:
    """A sweep value as the report prints it (thousands separators, ``yes``/``no``)."""
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
