"""Figures comparing the strategies of the reference scenario: memory, communication,
compute efficiency, throughput, memory reduction, the ranking and the step-time breakdown.

Each figure function takes the :class:`~trainplan.render.figures._tables.Context` and
returns the drawn figure with its title and caption, or None when there is nothing to draw.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from matplotlib.patches import Patch
from matplotlib.ticker import EngFormatter

from trainplan.render.figures._draw import (
    Drawn,
    annotate_bars,
    category_axis,
    clip_outliers,
    excluded_note,
    fmt,
    is_wide,
    legend_right,
    literal,
    log_axis,
    mark_missing,
    new_figure,
    nonzero_parts,
    short_reason,
    stacked_bars,
    tick_labels,
)
from trainplan.render.figures._style import BAR_COLOUR, INFEASIBLE_COLOUR, strategy_key
from trainplan.render.figures._tables import Context, col, feasible, names
from trainplan.units import GIB_BYTES, GIGA

MEMORY_PARTS = (("weights", "memory_weights_bytes"), ("gradients", "memory_gradients_bytes"),
                ("optimizer states", "memory_optimizer_bytes"),
                ("activations", "memory_activations_bytes"), ("other", "memory_other_bytes"))
COMM_PARTS = (("TP", "comm_tp_bytes_per_step"), ("CP", "comm_cp_bytes_per_step"),
              ("DP", "comm_dp_bytes_per_step"), ("PP", "comm_pp_bytes_per_step"))
STEP_PARTS = (("compute", "compute_time_s"), ("TP exposed", "tp_exposed_s"),
              ("CP exposed", "cp_exposed_s"), ("DP exposed", "dp_exposed_s"),
              ("PP exposed", "pp_exposed_s"), ("pipeline bubble", "bubble_time_s"),
              ("optimizer", "optimizer_time_s"))


def memory_breakdown(ctx: Context) -> Drawn | None:
    """Stacked memory per GPU of each strategy against the usable GPU memory."""
    ref = ctx.ref
    if ref.height == 0:
        return None
    fig, (ax,) = new_figure()
    everything = np.ones(ref.height, dtype=bool)
    parts = [(label, np.nan_to_num(values, nan=0.0))
             for label, values in nonzero_parts(ref, MEMORY_PARTS, GIB_BYTES, everything)]
    totals = stacked_bars(ax, parts, vertical=True)
    infeasible = ~feasible(ref)
    for i in np.flatnonzero(infeasible):
        ax.bar(i, totals[i], 0.78, facecolor="none", edgecolor="#c00000", linewidth=1.5,
               linestyle="--", label="no feasible configuration" if i == infeasible.argmax()
               else None)
    usable = col(ref, "memory_usable_bytes") / GIB_BYTES
    if np.all(np.isfinite(usable)) and np.ptp(usable) == 0:
        ax.axhline(usable[0], color="black", linestyle="--", linewidth=1.0,
                   label=f"usable GPU memory ({usable[0]:.1f} GiB)")
    else:
        ax.hlines(usable, np.arange(ref.height) - 0.45, np.arange(ref.height) + 0.45,
                  color="black", linestyle="--", linewidth=1.0, label="usable GPU memory")
    top = np.nanmax(np.concatenate([totals, usable, [1.0]]))
    ax.set_ylim(0, top * 1.08)
    category_axis(ax, tick_labels(ref), infeasible, vertical=True)
    ax.set_ylabel("memory per GPU (GiB = 2$^{30}$ bytes)")
    title = f"Memory per GPU by strategy: {ctx.label}"
    ax.set_title(literal(title))
    legend_right(ax)
    caption = ("Memory per GPU in GiB (2^30 bytes) of the best configuration of each strategy, "
               "stacked by weights, gradients, optimizer states, activations and other buffers; "
               "the dashed line is the usable GPU memory.")
    if infeasible.any():
        caption += (" Red dashed outlines mark strategies with no feasible configuration "
                    "(the configuration closest to fitting is shown, with the reason under its "
                    "name).")
    return Drawn(fig, title, caption)


def communication_volume(ctx: Context) -> Drawn | None:
    """Bytes sent per GPU per step, stacked by parallel dimension."""
    ref = ctx.ref
    rows = feasible(ref)
    if not rows.any():
        return None
    fig, (ax,) = new_figure()
    parts = nonzero_parts(ref, COMM_PARTS, GIGA, rows)
    totals = stacked_bars(ax, parts, vertical=True)
    cut = clip_outliers(ax, np.where(rows, totals, np.nan), vertical=True, unit="GB")
    mark_missing(ax, rows, vertical=True)
    category_axis(ax, tick_labels(ref), ~rows, vertical=True)
    ax.set_ylabel("bytes sent per GPU per step (GB = 10$^9$ bytes)")
    title = f"Communication volume per GPU and step: {ctx.label}"
    ax.set_title(literal(title))
    legend_right(ax, title="dimension")
    caption = ("Bytes sent per GPU per training step in GB (10^9 bytes) by the best configuration "
               "of each strategy, stacked by parallel dimension (dimensions that send nothing "
               "are omitted)." + cut + excluded_note(ref, rows))
    return Drawn(fig, title, caption)


def compute_efficiency(ctx: Context) -> Drawn | None:
    """MFU bars with HFU markers per strategy."""
    ref = ctx.ref
    rows = feasible(ref)
    if not rows.any():
        return None
    fig, (ax,) = new_figure()
    positions = np.arange(ref.height)
    mfu = np.where(rows, col(ref, "mfu") * 100, np.nan)
    hfu = np.where(rows, col(ref, "hfu") * 100, np.nan)
    ax.bar(positions, np.nan_to_num(mfu), 0.7, color=BAR_COLOUR, edgecolor="black",
           linewidth=0.4, hatch="///", label="MFU (model FLOPs)")
    ax.plot(positions, hfu, linestyle="none", marker="D", markerfacecolor="white",
            markeredgecolor="black", markersize=5, label="HFU (with recomputation)")
    annotate_bars(ax, np.fmax(mfu, hfu), [f"{v:.1f}" for v in mfu], vertical=True, offset=5)
    mark_missing(ax, rows, vertical=True)
    category_axis(ax, tick_labels(ref), ~rows, vertical=True)
    ax.set_ylim(0, max(np.nanmax(np.concatenate([mfu, hfu, [0.0]])) * 1.15, 1.0))
    ax.set_ylabel("FLOPs utilisation (% of dense peak)")
    title = f"Compute efficiency: {ctx.label}"
    ax.set_title(literal(title))
    legend_right(ax)
    caption = ("Model FLOPs utilisation (MFU, bars, value on top) and hardware FLOPs utilisation "
               "(HFU, counting recomputation, diamonds) in percent of the GPU's dense peak for the "
               "best configuration of each strategy." + excluded_note(ref, rows))
    return Drawn(fig, title, caption)


def throughput(ctx: Context) -> Drawn | None:
    """Training throughput per strategy."""
    ref = ctx.ref
    rows = feasible(ref)
    if not rows.any():
        return None
    fig, (ax,) = new_figure()
    tokens = np.where(rows, col(ref, "tokens_per_s"), np.nan)
    ax.bar(np.arange(ref.height), np.nan_to_num(tokens), 0.7, color=BAR_COLOUR,
           edgecolor="black", linewidth=0.4, hatch="\\\\\\")
    short = EngFormatter(places=1, sep="")
    annotate_bars(ax, tokens, [short.format_eng(v) if np.isfinite(v) else "" for v in tokens],
                   vertical=True)
    mark_missing(ax, rows, vertical=True)
    category_axis(ax, tick_labels(ref), ~rows, vertical=True)
    ax.yaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_ylim(0, max(np.nanmax(np.append(tokens, 0.0)) * 1.12, 1.0))
    ax.set_ylabel("throughput of the whole job (tokens/s)")
    title = f"Training throughput: {ctx.label}"
    ax.set_title(literal(title))
    caption = ("Training throughput of the whole job in tokens per second (k = 10^3, M = 10^6) "
               "for the best configuration of each strategy." + excluded_note(ref, rows))
    return Drawn(fig, title, caption)


def memory_reduction(ctx: Context) -> Drawn | None:
    """Percent reduction of memory per GPU against plain data parallelism (whole model state
    on every GPU, nothing recomputed), the baseline of the ZeRO paper's Figure 1."""
    ref = ctx.ref
    if ref.height == 0:
        return None
    memory = col(ref, "memory_total_bytes")
    base = ctx.replicated_memory_bytes
    if base is None or not base > 0:
        return None
    base_name = "plain DP"
    how = (f"plain data parallelism of the same model and job: every GPU holds the whole "
           f"model state, nothing recomputed, micro-batch 1 ({base / GIB_BYTES:,.1f} GiB per "
           "GPU, whether or not it fits)")
    reduction = 100.0 * (1.0 - memory / base)
    fig, (ax,) = new_figure()
    infeasible = ~feasible(ref)
    bars = ax.bar(np.arange(ref.height), np.nan_to_num(reduction), 0.7, color=BAR_COLOUR,
                  edgecolor="black", linewidth=0.4, hatch="...")
    for i in np.flatnonzero(infeasible):
        bars[i].set_facecolor(INFEASIBLE_COLOUR)
        bars[i].set_hatch("xxx")
    annotate_bars(ax, reduction, [f"{v:+.0f}%" for v in reduction], vertical=True)
    ax.axhline(0, color="black", linewidth=0.8)
    category_axis(ax, tick_labels(ref), infeasible, vertical=True)
    low, high = np.nanmin(np.append(reduction, 0.0)), np.nanmax(np.append(reduction, 0.0))
    pad = max(high - low, 1.0) * 0.12
    ax.set_ylim(low - (pad if low < 0 else 0), high + pad)
    ax.set_ylabel(f"memory per GPU reduction vs {base_name} (%)")
    title = f"Memory reduction against {base_name}: {ctx.label}"
    ax.set_title(literal(title))
    if infeasible.any():
        ax.legend(handles=[Patch(facecolor=INFEASIBLE_COLOUR, edgecolor="black", hatch="xxx",
                                 label="infeasible")], loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), frameon=False)
    caption = (f"Reduction of memory per GPU in percent, 100 x (1 - M / M_ref), of the best "
               f"layout of each strategy relative to {how}; negative values need more memory.")
    if infeasible.any():
        caption += " Grey cross-hatched bars are strategies with no feasible configuration."
    return Drawn(fig, title, caption)


def _ranking_order(ref: pl.DataFrame) -> pl.DataFrame:
    """Feasible rows by step time (fastest first), then infeasible rows in display order."""
    ok = feasible(ref)
    step = col(ref, "step_time_s")
    keys = [(0, step[i], strategy_key(n)) if ok[i] and np.isfinite(step[i])
            else (1, 0.0, strategy_key(n)) for i, n in enumerate(names(ref))]
    order = sorted(range(ref.height), key=lambda i: keys[i])
    return ref[order]


def overall_ranking(ctx: Context) -> Drawn | None:
    """Strategies ranked by step time, infeasible ones listed greyed below."""
    if ctx.ref.height == 0:
        return None
    ref = _ranking_order(ctx.ref)
    rows = feasible(ref) & np.isfinite(col(ref, "step_time_s"))
    step = np.where(rows, col(ref, "step_time_s"), np.nan)
    days = col(ref, "time_to_train_days")
    fig, (ax,) = new_figure()
    ax.barh(np.arange(ref.height), np.nan_to_num(step), 0.7, color=BAR_COLOUR,
            edgecolor="black", linewidth=0.4, hatch="///")
    texts = [f"{fmt(s)} s" + (f" ({fmt(d)} days to train)" if np.isfinite(d) else "")
             for s, d in zip(step, days, strict=True)]
    annotate_bars(ax, step, texts, vertical=False)
    reasons = ref["reason"].to_list() if "reason" in ref.columns else [None] * ref.height
    for i in np.flatnonzero(~rows):
        ax.text(0, i, f" infeasible: {short_reason(reasons[i], 60)}", ha="left", va="center",
                fontsize=7, color="#505050", style="italic")
    if rows.any() and not rows.all():
        ax.axhline(rows.sum() - 0.5, color="#909090", linewidth=0.8, linestyle=":")
    category_axis(ax, names(ref), ~rows, vertical=False)
    wide = is_wide(step)
    if wide:
        log_axis(ax, "x")
        ax.set_xlim(np.nanmin(step) / 1.5, np.nanmax(step) * 12)
    else:
        ax.set_xlim(0, max(np.nanmax(np.append(step, 0.0)), 1e-9) * 1.45)
    ax.set_xlabel("step time (s, log scale)" if wide else "step time (s)")
    title = f"Strategies ranked by step time: {ctx.label}"
    ax.set_title(literal(title))
    caption = ("Step time in seconds of the best configuration of each strategy, fastest at the "
               "top, with the wall-clock time to train in days; strategies with no feasible "
               "configuration are listed greyed below the dotted line with the reason."
               + (f" Log scale: the slowest step is {np.nanmax(step) / np.nanmin(step):,.0f} "
                  "times the fastest." if wide else ""))
    return Drawn(fig, title, caption)


def step_breakdown(ctx: Context) -> Drawn | None:
    """Stacked parts of the step time per strategy."""
    ref = ctx.ref
    rows = feasible(ref)
    if not rows.any():
        return None
    parts = nonzero_parts(ref, STEP_PARTS, 1.0, rows)
    rest = np.where(rows, col(ref, "step_time_s") - sum(col(ref, c) for _, c in STEP_PARTS),
                    np.nan)
    if np.nanmax(rest, initial=0.0) > 1e-9 * np.nanmax(col(ref, "step_time_s"), initial=1.0):
        parts.append(("other (step overhead)", np.clip(rest, 0.0, None)))
    fig, (ax,) = new_figure()
    totals = stacked_bars(ax, parts, vertical=False)
    cut = clip_outliers(ax, np.where(rows, totals, np.nan), vertical=False, unit="s")
    mark_missing(ax, rows, vertical=False)
    category_axis(ax, tick_labels(ref, newline=False), ~rows, vertical=False)
    ax.set_xlabel("time per training step (s)")
    title = f"Step time breakdown: {ctx.label}"
    ax.set_title(literal(title))
    legend_right(ax)
    caption = ("Time per training step in seconds of the best configuration of each strategy, "
               "split into compute, communication not hidden by compute (exposed), pipeline "
               "bubble and optimizer update (parts that are zero everywhere are omitted)."
               + cut + excluded_note(ref, rows))
    return Drawn(fig, title, caption)
