"""Reductions of evaluated configurations to the rows a report needs.

The same reduction runs twice: on every block of a shard (over light key
columns, to pick candidate rows) and on the union of the shards' candidates
(to pick the final rows). Because each reduction is an arg-min (or a Pareto
filter) over a group, reducing the candidates gives exactly what reducing all
configurations would, whatever the sharding.

Kinds of rows kept:

``best``
    per (scenario, strategy): the feasible configuration with the shortest step
    (ties: lowest ``config_id``).
``closest``
    per (scenario, strategy) with no feasible configuration: the one needing the
    least memory among those that fail only for memory (else among all), to
    show why the strategy fails.
``tp_pp``
    per (scenario, tp, pp): the feasible configuration with the shortest step.
``pareto``
    feasible configurations on the Pareto frontier of step time, memory per GPU
    and cost, per model.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from trainplan.model.feasibility import MEMORY

KINDS = ("best", "closest", "tp_pp", "pareto")


def _first_by(df: pl.DataFrame, keys: list[str], order: list[str]) -> pl.DataFrame:
    """Per group of ``keys``, the row that sorts first by ``order`` (then ``config_id``)."""
    if df.height == 0:
        return df
    return (df.sort([*order, "config_id"])
            .group_by(keys, maintain_order=True).first()
            .select(df.columns)
            .sort(keys))


def pareto_candidates(df: pl.DataFrame) -> pl.DataFrame:
    """Rows that no other row of the same (model, cost_rate) beats on step time and memory.

    Within a group cost is proportional to step time, so this keeps every point
    of the 3-D (step, memory, cost) frontier; :func:`pareto_front` finishes the job.
    """
    feasible = df.filter(pl.col("feasible"))
    if feasible.height == 0:
        return feasible
    ordered = feasible.sort(["model", "cost_rate", "step_time_s", "memory_total_bytes",
                             "config_id"])
    best_so_far = pl.col("memory_total_bytes").cum_min().shift(1).over(["model", "cost_rate"])
    return ordered.filter(best_so_far.is_null() | (pl.col("memory_total_bytes") < best_so_far))


def pareto_front(df: pl.DataFrame) -> pl.DataFrame:
    """The exact Pareto frontier (minimise step time, memory and cost) per model.

    ``df`` is small (the union of candidates); the test is pairwise per model.
    A NaN cost (no price given) is treated as equal for every row.
    """
    keep = []
    for _, group in df.sort("config_id").group_by("model", maintain_order=True):
        step = group["step_time_s"].to_numpy()
        mem = group["memory_total_bytes"].to_numpy()
        cost = np.nan_to_num(group["cost_usd"].to_numpy(), nan=0.0)
        le = ((step[:, None] <= step[None, :]) & (mem[:, None] <= mem[None, :])
              & (cost[:, None] <= cost[None, :]))
        lt = ((step[:, None] < step[None, :]) | (mem[:, None] < mem[None, :])
              | (cost[:, None] < cost[None, :]))
        dominated = (le & lt).any(axis=0)           # some row i dominates row j
        keep.append(group.filter(pl.Series(~dominated)))
    if not keep:
        return df.clear()
    return pl.concat(keep).sort(["model", "step_time_s", "config_id"])


def reduce(df: pl.DataFrame) -> pl.DataFrame:
    """Candidate rows of ``df`` with a ``kind`` column (a row may appear once per kind)."""
    feasible = df.filter(pl.col("feasible"))
    best = _first_by(feasible, ["scenario_id", "strategy"], ["step_time_s"])
    no_feasible = df.join(best.select("scenario_id", "strategy"), on=["scenario_id",
                                                                       "strategy"], how="anti")
    no_feasible = no_feasible.with_columns(
        (pl.col("infeasible_flags") != MEMORY).alias("__structural"))
    closest = _first_by(no_feasible, ["scenario_id", "strategy"],
                        ["__structural", "memory_total_bytes"]).drop("__structural")
    tp_pp = _first_by(feasible, ["scenario_id", "tp", "pp"], ["step_time_s"])
    pareto = pareto_candidates(df)
    parts = [part.with_columns(pl.lit(kind).alias("kind"))
             for kind, part in zip(KINDS, (best, closest, tp_pp, pareto), strict=True)]
    return pl.concat(parts, how="vertical")


def finish(candidates: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Final tables from the union of candidates of every shard."""
    rows = candidates.drop("kind").unique(subset=["config_id"], keep="first",
                                          maintain_order=True)
    final = reduce(rows)
    best = pl.concat([final.filter(pl.col("kind") == "best"),
                      final.filter(pl.col("kind") == "closest")])
    best = (best.with_columns(
        pl.when(pl.col("feasible")).then(pl.col("step_time_s")).otherwise(None)
        .rank("ordinal").over("scenario_id").cast(pl.Int64).alias("rank_in_scenario"))
        .sort(["scenario_id", "rank_in_scenario", "strategy"], nulls_last=True)
        .drop("kind"))
    tp_pp = final.filter(pl.col("kind") == "tp_pp").drop("kind").sort(
        ["scenario_id", "tp", "pp"])
    pareto = pareto_front(final.filter(pl.col("kind") == "pareto").drop("kind"))
    return {"best": best, "tp_pp": tp_pp, "pareto": pareto}
