"""A validation's results as text (predicted vs measured per run, then the summary line)
and as the JSON summary the reports render (``reports/validation/validation.json``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from trainplan.validation.runs import per_source, summary


def _fmt(value, spec: str) -> str:
    """``value`` formatted with ``spec``; ``-`` for None or NaN."""
    if value is None:
        return "-"
    if isinstance(value, float) and value != value:
        return "-"
    return format(value, spec)


def _by_kind(results: pl.DataFrame) -> list[str]:
    """The error of the dense and of the mixture-of-experts runs apart, when both kinds or
    only experts are in the table (nothing for a dense table)."""
    if "experts" not in results.columns or not results["experts"].any():
        return []
    lines = ["", "step-time error by kind of model:"]
    for label, kind in (("dense", False), ("mixture-of-experts", True)):
        part = results.filter(pl.col("experts") == kind)
        if part.filter(pl.col("abs_err_pct").is_not_null()).height if "abs_err_pct" in \
                part.columns else 0:
            lines.append(f"  {label:<20} {summary_line(part)}")
    return lines


def summary_line(results: pl.DataFrame) -> str:
    """``median_abs_err_pct=X p90_abs_err_pct=Y n=N``."""
    s = summary(results)
    return (f"median_abs_err_pct={s['median_abs_err_pct']:.2f} "
            f"p90_abs_err_pct={s['p90_abs_err_pct']:.2f} n={s['n']}")


SUMMARY_COLUMNS = (
    "row_id", "source", "gpu", "framework", "n_gpus", "represented", "reason_not_represented",
    "measured_step_time_s", "step_time_kind", "predicted_step_time_s", "tp", "pp", "dp",
    "predicted_tflops_per_gpu", "measured_tflops_per_gpu", "predicted_mfu", "measured_mfu",
    "source_mfu",
    "predicted_hfu", "measured_hfu", "predicted_memory_gib", "measured_memory_gib",
    "predicted_fits", "measured_oom", "abs_err_pct", "experts")
"""The per-run fields of :func:`summary_json` (missing ones are null)."""


def _json_value(value: Any) -> Any:
    """NaN (not JSON) becomes null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def summary_json(results: pl.DataFrame) -> dict[str, Any]:
    """Everything a report says about the model's accuracy, computed once.

    Keys: ``rows`` (one dict per run with :data:`SUMMARY_COLUMNS`), ``per_source``
    (``source``, ``n``, ``median_abs_err_pct``), ``summary`` (``median_abs_err_pct``,
    ``p90_abs_err_pct``, ``n``) and ``summary_line`` (as ``trainplan validate`` prints it).
    """
    df = results
    for c in SUMMARY_COLUMNS:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None).alias(c))
    rows = df.select(SUMMARY_COLUMNS).to_dicts() if results.height else []
    medians = per_source(results).to_dicts() if results.height else []
    return {
        "rows": [{k: _json_value(v) for k, v in r.items()} for r in rows],
        "per_source": [{k: _json_value(v) for k, v in m.items()} for m in medians],
        "summary": {k: _json_value(v) for k, v in summary(results).items()},
        "summary_line": summary_line(results),
    }


def format_text(results: pl.DataFrame) -> str:
    """The validation table, the runs not represented, assumptions, per-source medians and,
    last, the summary line."""
    lines = []
    header = (f"{'row_id':<24}{'layout tp/pp/dp':>16}{'step s':>10}{'meas. s':>10}{'err %':>8}"
              f"{'TF/GPU':>8}{'meas.':>7}{'MFU':>6}{'meas.':>6}{'HFU':>6}{'meas.':>6}"
              f"{'mem GiB':>8}{'meas.':>6}{'fits':>6}{'OOM':>5}")
    lines.append(header)
    lines.append("-" * len(header))
    for r in results.iter_rows(named=True):
        if not r["represented"]:
            continue
        layout = f"{r['tp']:.0f}/{r['pp']:.0f}/{r['dp']:.0f}"
        lines.append(
            f"{r['row_id']:<24}{layout:>16}"
            f"{_fmt(r['predicted_step_time_s'], '.2f'):>10}"
            f"{_fmt(r['measured_step_time_s'], '.2f'):>10}"
            f"{_fmt(r.get('abs_err_pct'), '.1f'):>8}"
            f"{_fmt(r['predicted_tflops_per_gpu'], '.0f'):>8}"
            f"{_fmt(r['measured_tflops_per_gpu'], '.0f'):>7}"
            f"{_fmt(r['predicted_mfu'], '.2f'):>6}{_fmt(r['measured_mfu'], '.2f'):>6}"
            f"{_fmt(r['predicted_hfu'], '.2f'):>6}{_fmt(r['measured_hfu'], '.2f'):>6}"
            f"{_fmt(r['predicted_memory_gib'], '.0f'):>8}"
            f"{_fmt(r['measured_memory_gib'], '.0f'):>6}"
            f"{'yes' if r['predicted_fits'] else 'NO':>6}{(r['measured_oom'] or '-'):>5}")
    lines.append("")
    lines.append("step time: measured where the source printed it, else derived from its "
                 "throughput; TF/GPU, MFU and HFU in the source's FLOP convention; memory: "
                 "predicted allocation + CUDA context vs nvidia-smi (which adds the allocator "
                 "cache)")
    missing = results.filter(~pl.col("represented"))
    if missing.height:
        lines.append("")
        lines.append("not represented:")
        for r in missing.iter_rows(named=True):
            lines.append(f"  {r['row_id']}: {r['reason_not_represented']}")
    lines.append("")
    lines.append("assumptions (settings the source leaves blank):")
    for r in results.filter(pl.col("represented")).iter_rows(named=True):
        parts = [p for p in (r["assumptions"], r.get("searched") and
                             f"chosen: {r['searched']}") if p]
        if parts:
            lines.append(f"  {r['row_id']}: " + "; ".join(parts))
    unfit = results.filter(pl.col("reason_not_scored").fill_null("") != "") if \
        "reason_not_scored" in results.columns else results.clear()
    if unfit.height:
        lines.append("")
        lines.append("not scored (the model predicts the run cannot run as stated):")
        for r in unfit.iter_rows(named=True):
            lines.append(f"  {r['row_id']}: {r['reason_not_scored']}")
    oom = results.filter(pl.col("measured_oom") == "yes") if "measured_oom" in \
        results.columns else results.clear()
    if oom.height:
        caught = int((~oom["predicted_fits"]).sum())
        lines.append("")
        lines.append(f"out-of-memory runs predicted not to fit: {caught} of {oom.height}")
    lines += _by_kind(results)
    lines.append("")
    lines.append("median absolute step-time error per source:")
    for r in per_source(results).iter_rows(named=True):
        lines.append(f"  {r['source']:<60} n={r['n']:<3} median_abs_err_pct="
                     f"{r['median_abs_err_pct']:.2f}")
    lines.append(summary_line(results))
    return "\n".join(lines)


def expert_errors(results: pl.DataFrame) -> dict[str, Any]:
    """The error summary (:func:`~trainplan.validation.fit.error_summary`) of the scored runs
    with experts: median and p90 absolute, p10 and p90 signed step-time errors [%], n."""
    from trainplan.validation.fit import error_summary

    scored = results.filter(pl.col("abs_err_pct").is_not_null() & pl.col("experts"))
    signed = ((scored["predicted_step_time_s"] / scored["measured_step_time_s"] - 1.0) * 100.0
              ).to_numpy() if scored.height else np.array([])
    return {k: _json_value(v) for k, v in error_summary(signed).items()}
