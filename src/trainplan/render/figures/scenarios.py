"""Figures across scenarios: scaling with the GPU count, the TP x PP heat map of the
reference scenario and the time-cost frontier of every scenario.

Rows belong to a scenario by ``scenario_id``; the Pareto table is per model and drawn whole.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import EngFormatter, FuncFormatter, NullFormatter

from trainplan.render.figures._draw import (
    Drawn,
    fmt,
    legend_right,
    literal,
    log_if_wide,
    new_figure,
)
from trainplan.render.figures._style import LINESTYLES, MARKERS, strategy_order, strategy_style
from trainplan.render.figures._tables import (
    Context,
    col,
    feasible_rows,
    names,
    scenario_rows,
    series_ids,
)


def _scaling_rows(ctx: Context) -> pl.DataFrame:
    """Fastest feasible row per (n_gpus, strategy) of the reference's series over n_gpus."""
    ids = series_ids(ctx.best, ctx.scenario_id, "n_gpus")
    rows = feasible_rows(ctx.best.filter(pl.col("scenario_id").is_in(ids)))
    if rows.height == 0 or "n_gpus" not in rows.columns:
        return rows.clear() if rows.width else rows
    return (rows.filter(pl.col("step_time_s").is_not_nan() & pl.col("n_gpus").is_not_null())
            .sort(["n_gpus", "strategy", "step_time_s"])
            .unique(["n_gpus", "strategy"], keep="first", maintain_order=True))


def scaling(ctx: Context) -> Drawn | None:
    """Throughput and MFU against the GPU count, one line per strategy."""
    if ctx.ref.height == 0:
        return None
    rows = _scaling_rows(ctx)
    gpus = sorted(set(col(rows, "n_gpus").tolist())) if rows.height else []
    if len(gpus) < 2:
        return None
    fig, (left, right) = new_figure(ncols=2)
    for name in strategy_order(names(rows)):
        sub = rows.filter(pl.col("strategy") == name).sort("n_gpus")
        style = strategy_style(name)
        kwargs = {"label": name, "markersize": 4, "linewidth": 1.2, "markeredgecolor": "black",
                  "markeredgewidth": 0.5, **style}
        left.plot(col(sub, "n_gpus"), col(sub, "tokens_per_s"), **kwargs)
        right.plot(col(sub, "n_gpus"), col(sub, "mfu") * 100, **kwargs)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(gpus, [f"{g:g}" for g in gpus], rotation=45 if len(gpus) > 5 else 0,
                      ha="right" if len(gpus) > 5 else "center")
        ax.minorticks_off()
        ax.set_xlabel("number of GPUs (log$_2$ scale)")
    left.set_yscale("log")
    left.yaxis.set_major_formatter(EngFormatter(sep=""))
    left.yaxis.set_minor_formatter(EngFormatter(sep=""))
    left.set_ylabel("throughput (tokens/s, log scale)")
    right.set_ylabel("MFU (% of dense peak)")
    right.set_ylim(bottom=0)
    fig.subplots_adjust(wspace=0.35)
    legend_right(right, title="strategy")
    title = f"Scaling with the number of GPUs (reference: {ctx.label})"
    fig.suptitle(literal(title), fontsize=9)
    caption = ("Throughput of the whole job in tokens/s (left, log scale) and MFU in percent of "
               "the dense peak (right) of the fastest feasible configuration of each strategy "
               f"against the number of GPUs ({', '.join(f'{g:g}' for g in gpus)}; log2 axis), "
               "over the scenarios that differ from the reference only in the GPU count.")
    return Drawn(fig, title, caption)


def _reference_tp_pp(ctx: Context) -> pl.DataFrame:
    """Feasible rows of ``tp_pp`` whose ``scenario_id`` is the reference's."""
    tp_pp = ctx.tp_pp
    if tp_pp.height == 0 or not {"tp", "pp", "step_time_s"} <= set(tp_pp.columns):
        return tp_pp.clear() if tp_pp.width else tp_pp
    rows = scenario_rows(tp_pp, ctx.scenario_id)
    return feasible_rows(rows) if "feasible" in rows.columns else rows


def _tp_pp_grid(ctx: Context, rows: pl.DataFrame) -> tuple[list[float], list[float], np.ndarray]:
    """tp values, pp values and the best step time per (pp, tp) cell (NaN: none)."""
    tps = sorted(set(col(ctx.tp_pp, "tp").tolist()) | set(col(ctx.ref, "tp").tolist()))
    pps = sorted(set(col(ctx.tp_pp, "pp").tolist()) | set(col(ctx.ref, "pp").tolist()))
    tps = [t for t in tps if np.isfinite(t)]
    pps = [p for p in pps if np.isfinite(p)]
    grid = np.full((len(pps), len(tps)), np.nan)
    for tp, pp, step in zip(col(rows, "tp"), col(rows, "pp"), col(rows, "step_time_s"),
                            strict=True):
        if np.isfinite(step) and tp in tps and pp in pps:
            cell = (pps.index(pp), tps.index(tp))
            grid[cell] = np.fmin(grid[cell], step)
    return tps, pps, grid


def _annotate_cells(ax: Axes, grid: np.ndarray, image) -> None:
    """Write each finite cell's value in black or white, whichever contrasts."""
    for (y, x), value in np.ndenumerate(grid):
        if not np.isfinite(value):
            continue
        r, g, b, _ = image.cmap(image.norm(value))
        light = 0.299 * r + 0.587 * g + 0.114 * b > 0.5
        ax.text(x, y, fmt(value), ha="center", va="center", fontsize=7,
                color="black" if light else "white")


def tp_pp_heatmap(ctx: Context) -> Drawn | None:
    """Best step time over (tp, pp) for the reference scenario."""
    rows = _reference_tp_pp(ctx)
    if rows.height == 0:
        return None
    tps, pps, grid = _tp_pp_grid(ctx, rows)
    if not np.isfinite(grid).any():
        return None
    fig, (ax,) = new_figure()
    image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap="viridis")
    _annotate_cells(ax, grid, image)
    y, x = np.unravel_index(np.nanargmin(grid), grid.shape)
    ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="#c00000",
                           linewidth=2.0))
    ax.set_xticks(range(len(tps)), [f"{t:g}" for t in tps])
    ax.set_yticks(range(len(pps)), [f"{p:g}" for p in pps])
    ax.set_xlabel("tensor-parallel degree tp (GPUs)")
    ax.set_ylabel("pipeline-parallel degree pp (stages)")
    fig.colorbar(image, ax=ax, label="best step time (s)")
    title = f"Best step time over TP x PP: {ctx.label}"
    ax.set_title(literal(title))
    caption = ("Step time in seconds of the fastest feasible configuration for each "
               "tensor-parallel (x) and pipeline-parallel (y) degree, darker is faster; blank "
               "cells have no feasible configuration and the red outline marks the fastest.")
    return Drawn(fig, title, caption)


def _frontier_2d(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of (x, y) not dominated when minimising both, sorted by x."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    best = np.minimum.accumulate(y) if y.size else y
    front = np.concatenate([[True], y[1:] < best[:-1]]) if y.size else np.zeros(0, bool)
    return x[front], y[front]


def _money_axis(ax: Axes, which: str) -> str:
    """Dollar tick labels in millions on ``which`` axis (no ``1e7`` offset); its unit."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e6:,.3g}"))
    axis.set_minor_formatter(NullFormatter())
    return "$M"


def cost_frontier(ctx: Context) -> Drawn | None:
    """Time to train against cost of every scenario's fastest layout: marker by GPU type,
    shade by GPU count (each labelled), with the Pareto frontier per model."""
    rows = feasible_rows(ctx.best)
    if "rank_in_scenario" in rows.columns:
        rows = rows.filter(pl.col("rank_in_scenario") == 1)
    days = col(rows, "time_to_train_days")
    if rows.height == 0 or not np.isfinite(days).any():
        return None
    use_cost = np.isfinite(col(rows, "cost_usd")).any()
    column = "cost_usd" if use_cost else "gpu_hours"
    fig, (ax,) = new_figure()
    gpus = sorted({str(g) for g in rows["gpu"].to_list()})
    counts = sorted({int(n) for n in col(rows, "n_gpus") if np.isfinite(n)})
    shades = matplotlib.colormaps["viridis"](np.linspace(0.1, 0.9, max(len(counts), 1)))
    for g_index, gpu in enumerate(gpus):
        sub = rows.filter(pl.col("gpu") == gpu)
        n = col(sub, "n_gpus")
        colour = [shades[counts.index(int(v))] for v in n]
        ax.scatter(col(sub, "time_to_train_days"), col(sub, column), s=26, c=colour,
                   marker=MARKERS[g_index % len(MARKERS)], edgecolors="black",
                   linewidths=0.6, zorder=3, label=literal(gpu))
    pareto = feasible_rows(ctx.pareto) if "feasible" in ctx.pareto.columns else ctx.pareto
    models = sorted({str(m) for m in pareto["model"].to_list()}) if "model" in pareto.columns \
        else []
    for i, model in enumerate(models):
        sub = pareto.filter(pl.col("model") == model)
        x, y = _frontier_2d(col(sub, "time_to_train_days"), col(sub, column))
        if x.size:
            ax.step(x, y, where="post", color="black", linewidth=1.0, zorder=2,
                    linestyle=LINESTYLES[i % len(LINESTYLES)],
                    label=literal(f"Pareto frontier: {model}"))
    log_if_wide(ax, days, col(rows, column))
    if len(counts) > 1:
        handles = [Line2D([], [], linestyle="none", marker="s", markerfacecolor=shades[i],
                          markeredgecolor="black", label=f"{c:,} GPUs")
                   for i, c in enumerate(counts)]
        fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, -0.02),
                   ncols=min(len(counts), 6), frameon=False, fontsize=6.5)
    ax.set_xlabel("time to train (days)")
    unit = f"cost ({_money_axis(ax, 'y')})" if use_cost else "GPU-hours"
    ax.set_ylabel(unit)
    what = "cost" if use_cost else "GPU-hours"
    title = f"Time to train against {what} of each scenario's fastest layout"
    ax.set_title(literal(title))
    legend_right(ax, title="GPU type" if len(gpus) > 1 else None)
    what = "cost in millions of USD" if use_cost else \
        "GPU-hours (no price given, so cost is not known)"
    caption = (f"Wall-clock time to train in days against {what} of the fastest feasible "
               "layout of each scenario: the marker gives the GPU type, the shade the GPU count "
               "(legend below the axes); step lines are the time-cost Pareto frontier of each "
               "model over all evaluated configurations.")
    return Drawn(fig, title, caption)
