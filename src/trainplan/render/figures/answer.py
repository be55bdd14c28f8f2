"""The answer along the sweep's main varied axis: time to train and cost of every scenario's
fastest feasible layout.

Which figure depends on the scenario axes the sweep declares: against the GPU count (log
axis, one line per combination of the other axes, with ideal linear scaling dashed from the
smallest cluster), as a heat map of days over two axes, or as bars over one categorical axis.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from trainplan.analysis.answer import axis_label, axis_title
from trainplan.render.figures._draw import Drawn, fmt, literal, new_figure
from trainplan.render.figures._style import BAR_COLOUR, COLOURS, LINESTYLES, MARKERS
from trainplan.render.figures._tables import Context, col

MILLION = 1e6
"""USD per million USD."""


def _winners(ctx: Context) -> pl.DataFrame:
    """Each scenario's fastest feasible row."""
    best = ctx.best
    if best.height == 0 or "rank_in_scenario" not in best.columns:
        return best.clear() if best.width else best
    return best.filter(pl.col("rank_in_scenario") == 1).sort("scenario_id")


def _label(row: dict, columns: list[str]) -> str:
    """Values of ``columns`` of one row, comma separated."""
    return literal(", ".join(f"{row[c]:g}" if isinstance(row[c], float) else str(row[c])
                             for c in columns) or "all")


def _against_gpus(rows: pl.DataFrame, others: list[str]) -> Drawn:
    """Days and cost against the GPU count, a line per combination of the other axes."""
    fig, (left, right) = new_figure(ncols=2)
    groups = rows.partition_by(others, maintain_order=True) if others else [rows]
    for i, group in enumerate(groups):
        group = group.sort("n_gpus")
        gpus, days = col(group, "n_gpus"), col(group, "time_to_train_days")
        style = {"color": COLOURS[i % len(COLOURS)], "marker": MARKERS[i % len(MARKERS)],
                 "linestyle": LINESTYLES[i % len(LINESTYLES)], "markersize": 4,
                 "linewidth": 1.2, "markeredgecolor": "black", "markeredgewidth": 0.5}
        label = _label(group.row(0, named=True), others)
        left.plot(gpus, days, label=label, **style)
        left.plot(gpus, days[0] * gpus[0] / gpus, color=style["color"], linestyle=":",
                  linewidth=0.8)
        cost = col(group, "cost_usd") / MILLION
        right.plot(gpus, cost, label=label, **style)
        _label_points(left, gpus, days, " d")
        _label_points(right, gpus, cost, " M", prefix="$", rotation=60)
    ticks = sorted(set(col(rows, "n_gpus").tolist()))
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [f"{g:,.0f}" for g in ticks], rotation=45, ha="right")
        ax.minorticks_off()
        ax.set_xlabel("number of GPUs (log$_2$ scale)")
    left.set_yscale("log")
    left.set_ylabel("time to train (days, log scale)")
    right.set_ylabel("cost (million USD)")
    right.set_ylim(bottom=0)
    fig.subplots_adjust(wspace=0.35)
    ideal = Line2D([], [], color="black", linestyle=":", linewidth=0.8,
                   label="ideal scaling (days x N0 / N)")
    handles, _ = right.get_legend_handles_labels()
    right.legend(handles=[*handles, ideal] if others else [ideal], loc="upper left",
                 bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=6,
                 title=literal(", ".join(axis_label(o) for o in others)) if others else None)
    caption = ("Days to train the token budget (left, log scale; dotted: ideal linear scaling "
               "from the smallest cluster) and its cost in million USD (right) with the fastest "
               "feasible layout of each scenario, against the number of GPUs"
               + (f", one line per {', '.join(others)}." if others else "."))
    return Drawn(fig, "Time and cost against the number of GPUs", caption)


def _label_points(ax: Axes, x: np.ndarray, y: np.ndarray, unit: str, prefix: str = "",
                  rotation: float = 0.0) -> None:
    """Write each finite point's value next to it (three significant figures); rotated labels
    stand above their point, so that neighbours on a flat line do not overlap."""
    for xi, yi in zip(x, y, strict=True):
        if np.isfinite(xi) and np.isfinite(yi):
            ax.annotate(f"{prefix}{fmt(yi)}{unit}", (xi, yi),
                        xytext=(0, 5) if rotation else (3, 3), textcoords="offset points",
                        fontsize=5, color="#303030", rotation=rotation,
                        rotation_mode="anchor" if rotation else "default",
                        ha="left", va="bottom")


def _heatmap(rows: pl.DataFrame, down: str, across: str) -> Drawn:
    """Days over two axes, each cell annotated with days and cost."""
    ys = rows[down].unique(maintain_order=True).sort().to_list()
    xs = rows[across].unique(maintain_order=True).sort().to_list()
    grid = np.full((len(ys), len(xs)), np.nan)
    cost = np.full_like(grid, np.nan)
    for r in rows.iter_rows(named=True):
        i, j = ys.index(r[down]), xs.index(r[across])
        grid[i, j], cost[i, j] = r["time_to_train_days"], r["cost_usd"]
    fig, (ax,) = new_figure()
    image = ax.imshow(grid, cmap="viridis_r", aspect="auto")
    _annotate(ax, grid, cost, image)
    ax.set_xticks(range(len(xs)), [_tick(x) for x in xs])
    ax.set_yticks(range(len(ys)), [_tick(y) for y in ys])
    ax.set_xlabel(literal(axis_title(across)))
    ax.set_ylabel(literal(axis_title(down)))
    fig.colorbar(image, ax=ax, label="time to train (days)")
    caption = (f"Days to train the token budget (colour and first line) and cost (second line) "
               f"with the fastest feasible layout of each scenario, over {axis_label(down)} and "
               f"{axis_label(across)}; blank: no feasible layout.")
    return Drawn(fig, f"Time and cost over {axis_label(down)} and {axis_label(across)}", caption)


def _tick(value) -> str:
    """A scenario value as a tick label (numbers with separators, text as written)."""
    return f"{value:,g}" if isinstance(value, float | int) else literal(str(value))


def _annotate(ax: Axes, grid: np.ndarray, cost: np.ndarray, image) -> None:
    """Write days and cost (million USD) into each cell, dark on light colours."""
    finite = grid[np.isfinite(grid)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            colour = "white" if value > middle else "black"
            ax.text(j, i, f"{value:,.0f} d\n${cost[i, j] / MILLION:,.1f} M", ha="center",
                    va="center", fontsize=6, color=colour)


def _bars(rows: pl.DataFrame, axis: str) -> Drawn:
    """Days per value of one categorical axis, each bar annotated with its cost."""
    fig, (ax,) = new_figure()
    labels = [_tick(v) for v in rows[axis].to_list()]
    days = col(rows, "time_to_train_days")
    bars = ax.bar(range(len(labels)), days, color=BAR_COLOUR, edgecolor="black", linewidth=0.5)
    for bar, c in zip(bars, col(rows, "cost_usd"), strict=True):
        ax.annotate(f"${c / MILLION:,.1f} M", (bar.get_x() + bar.get_width() / 2,
                                                 bar.get_height()),
                    ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                    textcoords="offset points")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel(literal(axis_title(axis)))
    ax.set_ylabel("time to train (days)")
    caption = (f"Days to train the token budget with the fastest feasible layout for each "
               f"{axis_label(axis)}, with the cost in million USD above each bar.")
    return Drawn(fig, f"Time and cost per {axis_label(axis)}", caption)


def answer(ctx: Context) -> Drawn | None:
    """The figure along the main varied axes (None without scenario axes or winners)."""
    axes = [a for a in ctx.axes if a in ctx.best.columns]
    rows = _winners(ctx)
    rows = rows.filter(pl.col("time_to_train_days").is_finite()) if rows.height else rows
    if not axes or rows.height < 2:
        return None
    if "n_gpus" in axes and rows["n_gpus"].n_unique() > 1:
        return _against_gpus(rows, [a for a in axes if a != "n_gpus"])
    if len(axes) == 2:
        return _heatmap(rows, axes[0], axes[1])
    if len(axes) == 1:
        return _bars(rows, axes[0])
    return None
