"""The model's few end-to-end constants: their fit, and leave-one-source-out cross-validation.

A *fitted* input is one whose default was chosen by comparing predicted with measured step
times (every other constant comes from a datasheet or a component microbenchmark). Each such
input declares the grid it is searched over (:attr:`~trainplan.schema.inputs.Input.fit_grid`).

The fit evaluates every run at every point of the grid in one vectorised table (runs x
searched settings x grid points), picks per run and point the fastest setting that fits in
memory (the same rule as :func:`~trainplan.validation.runs.predict_runs`) and chooses the point
that minimises the mean absolute log error of the step time over the training rows,

.. math::

   \\hat\\theta = \\arg\\min_\\theta \\frac{1}{n} \\sum_i
       \\left| \\ln \\frac{\\hat t_i(\\theta)}{t_i} \\right|

(symmetric in over- and under-prediction, and not dominated by one outlier as a squared
loss would be). Leave-one-source-out cross-validation refits on every source but one and
scores the source left out, so each run's error is measured with constants that never saw
it: the honest estimate of the error on runs trainplan has not seen.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from trainplan.schema.inputs import INPUTS
from trainplan.validation.runs import evaluate_candidates, run_spec, target_step_time
from trainplan.validation.spec import short_source

__all__ = ["CrossValidation", "cross_validate", "error_line", "error_summary", "fitted_inputs",
           "grid_points", "predict_grid"]


def fitted_inputs() -> dict[str, tuple[float, ...]]:
    """The fitted inputs and the values each is searched over, by name."""
    return {i.name: tuple(i.fit_grid) for i in INPUTS if i.fit_grid}


def grid_points(grids: dict[str, tuple[float, ...]]) -> list[dict[str, float]]:
    """Every combination of the grids' values (one dict per point; [{}] for no grid)."""
    names = list(grids)
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(grids[n] for n in names))]


def predict_grid(runs: pl.DataFrame, points: list[dict[str, float]]) -> pl.DataFrame:
    """Predicted step time of every scorable run at every grid point, in one evaluation.

    Parameters
    ----------
    runs : polars.DataFrame
        A run table (:func:`~trainplan.validation.runs.read_runs`).
    points : list of dict
        Grid points (:func:`grid_points`): input values set for every run.

    Returns
    -------
    polars.DataFrame
        One row per (run, point) for runs that are represented, have a step time and fit in
        memory at that point: ``run`` (row index), ``row_id``, ``source``, ``point`` (index
        into ``points``), ``predicted_step_time_s``, ``measured_step_time_s`` [s] and
        ``log_ratio`` (:math:`\\ln(\\hat t / t)`).
    """
    rows = runs.to_dicts()
    specs = [run_spec(row) for row in rows]
    meta = {}
    for i, (row, spec) in enumerate(zip(rows, specs, strict=True)):
        target, _ = target_step_time(row)
        if spec.unrepresentable is None and target:
            meta[i] = (spec.row_id, short_source(row.get("source")), target)
    table = evaluate_candidates(specs, points, keep=set(meta))
    if not table.height:
        return pl.DataFrame(schema={"run": pl.Int64, "row_id": pl.String, "source": pl.String,
                                    "point": pl.Int64, "predicted_step_time_s": pl.Float64,
                                    "measured_step_time_s": pl.Float64,
                                    "log_ratio": pl.Float64})
    # as predict_runs: the fastest feasible setting, else the fastest that fits in memory
    picked = (table.select(pl.col("_run").alias("run"), pl.col("_point").alias("point"),
                           "step_time_s", "feasible", "fits_memory")
              .filter(pl.col("fits_memory"))
              .sort("run", "point", pl.col("feasible").not_(), "step_time_s")
              .group_by("run", "point", maintain_order=True).first()
              .select("run", "point", "step_time_s"))
    info = pl.DataFrame({"run": list(meta), "row_id": [m[0] for m in meta.values()],
                         "source": [m[1] for m in meta.values()],
                         "measured_step_time_s": [m[2] for m in meta.values()]})
    return (picked.join(info, on="run")
            .rename({"step_time_s": "predicted_step_time_s"})
            .with_columns((pl.col("predicted_step_time_s") / pl.col("measured_step_time_s"))
                          .log().alias("log_ratio"))
            .sort("run", "point")
            .select("run", "row_id", "source", "point", "predicted_step_time_s",
                    "measured_step_time_s", "log_ratio"))


def _best_point(table: pl.DataFrame, n_points: int) -> int:
    """The grid point with the least mean |log error| over ``table``'s runs.

    Only runs scorable at every point take part, so each point is judged on the same runs.
    """
    complete = (table.group_by("run").agg(pl.len().alias("k"))
                .filter(pl.col("k") == n_points)["run"])
    loss = (table.filter(pl.col("run").is_in(complete.implode()))
            .group_by("point").agg(pl.col("log_ratio").abs().mean().alias("loss"))
            .sort("loss", "point"))
    return int(loss["point"][0]) if loss.height else 0


def error_summary(errors_pct: np.ndarray) -> dict[str, float]:
    """Median and p90 of the absolute, p10 and p90 of the signed errors [%], and their
    count, of the signed step-time errors ``errors_pct`` [%]."""
    a = np.abs(errors_pct)
    return {"median_abs_err_pct": float(np.median(a)) if a.size else float("nan"),
            "p90_abs_err_pct": float(np.percentile(a, 90)) if a.size else float("nan"),
            "p10_signed_err_pct": float(np.percentile(errors_pct, 10)) if a.size else float("nan"),
            "p90_signed_err_pct": float(np.percentile(errors_pct, 90)) if a.size else float("nan"),
            "n": int(a.size)}


@dataclass(frozen=True)
class CrossValidation:
    """In-sample and leave-one-source-out errors of the fitted model.

    ``in_sample`` and ``out_of_sample`` hold the median and p90 absolute, the p10 and p90
    signed step-time errors [%] and n; ``folds`` lists per source left out the constants
    refitted without it and its out-of-sample errors; ``rows`` the per-run signed errors
    [%] of both kinds; ``fitted_all`` the constants fitted on every source.
    """

    in_sample: dict[str, float]
    out_of_sample: dict[str, float]
    fitted_all: dict[str, float]
    folds: list[dict[str, Any]]
    rows: pl.DataFrame


def cross_validate(runs: pl.DataFrame,
                   grids: dict[str, tuple[float, ...]] | None = None) -> CrossValidation:
    """Refit the fitted inputs leaving one source out at a time and score the source left out.

    Parameters
    ----------
    runs : polars.DataFrame
        A run table with at least two sources.
    grids : dict, optional
        The fitted inputs and their grids (default :func:`fitted_inputs`).

    Returns
    -------
    CrossValidation
    """
    grids = fitted_inputs() if grids is None else grids
    points = grid_points(grids)
    table = predict_grid(runs, points)
    pct = table.with_columns(((pl.col("log_ratio").exp() - 1.0) * 100.0).alias("err_pct"))
    best_all = _best_point(table, len(points))
    in_rows = pct.filter(pl.col("point") == best_all).select("run", "row_id", "source",
                                                             pl.col("err_pct").alias(
                                                                 "in_sample_err_pct"))
    folds, out_parts = [], []
    for source in table["source"].unique(maintain_order=True).to_list():
        train = table.filter(pl.col("source") != source)
        best = _best_point(train, len(points)) if train.height else best_all
        held = pct.filter((pl.col("source") == source) & (pl.col("point") == best))
        out_parts.append(held.select("run", pl.col("err_pct").alias("out_of_sample_err_pct")))
        folds.append({"source": source, "constants": points[best],
                      **error_summary(held["err_pct"].to_numpy())})
    out = pl.concat(out_parts) if out_parts else pl.DataFrame(
        schema={"run": pl.Int64, "out_of_sample_err_pct": pl.Float64})
    rows = in_rows.join(out, on="run", how="left").sort("run")
    return CrossValidation(
        in_sample=error_summary(rows["in_sample_err_pct"].to_numpy()),
        out_of_sample=error_summary(rows["out_of_sample_err_pct"].drop_nulls().to_numpy()),
        fitted_all=points[best_all], folds=folds, rows=rows)


def error_line(s: dict[str, float]) -> str:
    """One summary of :func:`error_summary` as ``trainplan validate`` prints it."""
    return (f"median_abs_err_pct={s['median_abs_err_pct']:.2f} "
            f"p90_abs_err_pct={s['p90_abs_err_pct']:.2f} "
            f"p10..p90_signed_err_pct={s['p10_signed_err_pct']:+.1f}.."
            f"{s['p90_signed_err_pct']:+.1f} "
            f"n={s['n']}")


def format_cv(cv: CrossValidation) -> str:
    """The cross-validation block ``trainplan validate --cv source`` prints."""
    consts = ", ".join(f"{k}={v:g}" for k, v in cv.fitted_all.items())
    lines = ["leave-one-source-out cross-validation (fitted inputs refitted without the "
             "source they are scored on; step time of runs that fit):",
             f"  fitted on every source ({consts}):",
             f"    in-sample       {error_line(cv.in_sample)}",
             f"    out-of-sample   {error_line(cv.out_of_sample)}",
             "  per source left out (constants refitted without it):"]
    for f in cv.folds:
        consts = ", ".join(f"{k}={v:g}" for k, v in f["constants"].items())
        lines.append(f"    {f['source'][:58]:<58} n={f['n']:<3} median_abs_err_pct="
                     f"{f['median_abs_err_pct']:.2f}  ({consts})")
    return "\n".join(lines)


def with_cv_block(text: str, cv: CrossValidation) -> str:
    """``trainplan validate``'s text with the cross-validation block inserted before its
    last line, which stays the summary line of the table as given."""
    head, last = text.rsplit("\n", 1)
    return head + "\n\n" + format_cv(cv) + "\n" + last


def cv_json(cv: CrossValidation) -> dict[str, Any]:
    """The cross-validation as JSON-ready data (for ``validation.json``)."""
    return {"in_sample": cv.in_sample, "out_of_sample": cv.out_of_sample,
            "fitted_all": cv.fitted_all,
            "folds": [{**f, "constants": dict(f["constants"])} for f in cv.folds]}
