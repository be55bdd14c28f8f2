"""One configuration of a result table as the numbers and the layout text a report shows.

The analysis reads ``best.parquet`` whatever the dtype of its integer columns
(Float64, or Int64 with ``dp`` null where ``n_gpus / (tp pp cp)`` is not whole):
:func:`float_layout` brings them to one form before anything is computed, so
``analysis.json`` does not depend on it.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from trainplan.schema.inputs import INPUTS

GIB = 2.0**30
"""Bytes per GiB."""

EXPOSED = ("tp_exposed_s", "cp_exposed_s", "dp_exposed_s", "pp_exposed_s")
"""Communication time left exposed after overlap, per dimension [s]."""

INTEGER_COLUMNS = (*(spec.name for spec in INPUTS if spec.kind == "int"), "n_microbatches")
"""Whole-number columns of a result table; the analysis reads them as floats."""


def float_layout(best: pl.DataFrame) -> pl.DataFrame:
    """``best`` with its integer-typed :data:`INTEGER_COLUMNS` as Float64.

    A null ``dp`` (an Int64 table where ``n_gpus / (tp pp cp)`` is not whole) becomes that
    quotient, which is what a Float64 table holds. Identifier columns (``config_id``,
    ``scenario_id``, ``rank_in_scenario``) are left as they are.

    Parameters
    ----------
    best : polars.DataFrame
        A ``best.parquet`` table (or any result table with the layout columns).

    Returns
    -------
    polars.DataFrame
        The same rows and columns, with whole-number columns as Float64.
    """
    integer = [c for c in INTEGER_COLUMNS
               if c in best.columns and best[c].dtype.is_integer()]
    if not integer:
        return best
    out = best.with_columns(pl.col(integer).cast(pl.Float64))
    if "dp" in integer and {"n_gpus", "tp", "pp", "cp"} <= set(out.columns):
        quotient = pl.col("n_gpus") / (pl.col("tp") * pl.col("pp") * pl.col("cp"))
        out = out.with_columns(pl.col("dp").fill_null(quotient))
    return out


def optional_float(x: Any) -> float | None:
    """``x`` as a float; None for a null or NaN."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def whole(x: Any) -> int:
    """``x`` (int or float) rounded to the nearest int."""
    return round(float(x))


def layout_text(row: dict) -> str:
    """How one configuration splits the work, as a report prints it.

    For example ``tp=8 pp=4 (vpp 2) dp=16, micro-batch 1, ZeRO-1, selective recompute,
    sequence parallel``; ``cp`` is shown only above 1 and sequence parallelism only with
    ``tp > 1``.
    """
    parts = [f"tp={whole(row['tp'])}", f"pp={whole(row['pp'])}"]
    if whole(row["vpp"]) > 1:
        parts[-1] += f" (vpp {whole(row['vpp'])})"
    parts += [f"dp={whole(row['dp'])}"]
    if whole(row["cp"]) > 1:
        parts.append(f"cp={whole(row['cp'])}")
    text = " ".join(parts) + f", micro-batch {whole(row['micro_batch'])}"
    zero = whole(row["zero_stage"])
    text += ", no ZeRO" if zero == 0 else f", ZeRO-{zero}"
    text += f", {row['recompute']} recompute" if row["recompute"] != "none" else \
        ", no recompute"
    if row.get("seq_parallel") and whole(row["tp"]) > 1:
        text += ", sequence parallel"
    return text


def summary_of(row: dict) -> dict:
    """The numbers a report shows for one configuration (units in the keys).

    Exposed communication is the sum over :data:`EXPOSED`; its share and the bubble share
    are fractions of the step (None for a zero step). Training time, GPU-hours, cost and
    energy are None where the table holds NaN (no token budget or price).
    """
    exposed = sum(float(row[k]) for k in EXPOSED)
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
        "comm_bytes_per_step": sum(float(row[f"comm_{d}_bytes_per_step"])
                                   for d in ("tp", "cp", "dp", "pp")),
        "bubble_share": float(row["bubble_time_s"]) / step if step > 0 else None,
        "bottleneck": row["bottleneck"],
        "time_to_train_days": optional_float(row["time_to_train_days"]),
        "gpu_hours": optional_float(row["gpu_hours"]),
        "cost_usd": optional_float(row["cost_usd"]),
        "energy_mwh": optional_float(row["energy_mwh"]),
    }
