"""Drawing helpers shared by the figures: the canvas, category axes, stacked bars, labels
and annotations, and the PNG bytes (reproducible: no software or time metadata)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from trainplan.model.feasibility import MEMORY, REASONS
from trainplan.render.figures._style import DPI, FIGSIZE, part_styles
from trainplan.render.figures._tables import col, feasible, names

_MEMORY_REASON = REASONS[MEMORY]


@dataclass
class Drawn:
    """A drawn figure with its title and caption."""

    fig: Figure
    title: str
    caption: str


def literal(text: str) -> str:
    """``text`` drawn as written: its ``$`` signs escaped, so matplotlib's mathtext never
    parses a sweep's text (a model named ``a$x$b`` would otherwise be math, or an error)."""
    return text.replace("$", r"\$")


def short_reason(reason: str | None, width: int = 32) -> str:
    """A short form of an infeasibility reason for a label.

    Parameters
    ----------
    reason : str or None
        The ``reason`` column: reasons joined with ``"; "``.
    width : int, optional
        Maximum length of the first reason before it is cut with ``"..."``.

    Returns
    -------
    str
        ``"does not fit"`` for the memory reason, else the first reason shortened,
        followed by ``" (+N)"`` when there are N more reasons.
    """
    parts = [p.strip() for p in (reason or "").split(";") if p.strip()]
    if not parts:
        return "infeasible"
    first = "does not fit" if parts[0] == _MEMORY_REASON else parts[0]
    if len(first) > width:
        first = first[: width - 3].rstrip() + "..."
    return first + (f" (+{len(parts) - 1})" if len(parts) > 1 else "")


def tick_labels(df: pl.DataFrame, newline: bool = True) -> list[str]:
    """Strategy labels, with the shortened reason appended for infeasible rows."""
    sep = "\n" if newline else " "
    reasons = df["reason"].to_list() if "reason" in df.columns else [None] * df.height
    return [name if ok else f"{name}{sep}({short_reason(r, 20)})"
            for name, ok, r in zip(names(df), feasible(df), reasons, strict=True)]


def new_figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    """A figure of the fixed size with ``ncols`` axes side by side on an Agg canvas."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes without software or time metadata."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def legend_right(ax: Axes, **kwargs) -> None:
    """A legend outside the axes, to the right."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, **kwargs)


def category_axis(ax: Axes, labels: list[str], infeasible: np.ndarray, vertical: bool) -> None:
    """Strategy tick labels (greyed when infeasible) on x (``vertical``) or on y."""
    positions = np.arange(len(labels))
    if vertical:
        ax.set_xticks(positions, labels, rotation=30, ha="right", rotation_mode="anchor")
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ticks = ax.get_xticklabels()
    else:
        ax.set_yticks(positions, labels)
        ax.set_ylim(len(labels) - 0.4, -0.6)
        ticks = ax.get_yticklabels()
    for tick, bad in zip(ticks, infeasible, strict=True):
        if bad:
            tick.set_color("#707070")


def stacked_bars(ax: Axes, parts: list[tuple[str, np.ndarray]], vertical: bool) -> np.ndarray:
    """Stacked bars of ``parts`` (label, values per category); returns the totals."""
    n = len(parts[0][1]) if parts else 0
    positions = np.arange(n)
    bottom = np.zeros(n)
    for (label, values), style in zip(parts, part_styles(len(parts)), strict=True):
        heights = np.nan_to_num(values, nan=0.0)
        if vertical:
            ax.bar(positions, heights, 0.7, bottom=bottom, label=label, **style)
        else:
            ax.barh(positions, heights, 0.7, left=bottom, label=label, **style)
        bottom = bottom + heights
    return bottom


def nonzero_parts(df: pl.DataFrame, parts: Sequence[tuple[str, str]], scale: float,
                  rows: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(label, column / scale) of the parts non-zero in some row of ``rows`` (others NaN)."""
    out = []
    for label, name in parts:
        values = np.where(rows, col(df, name) / scale, np.nan)
        if np.nanmax(np.abs(values), initial=0.0) > 0:
            out.append((label, values))
    return out or [(parts[0][0], np.where(rows, col(df, parts[0][1]) / scale, np.nan))]


def mark_missing(ax: Axes, rows: np.ndarray, vertical: bool, text: str = "infeasible") -> None:
    """Write ``text`` at the base of the categories that are not drawn."""
    for i in np.flatnonzero(~rows):
        if vertical:
            ax.annotate(text, (i, 0), xytext=(0, 3), textcoords="offset points", rotation=90,
                        ha="center", va="bottom", fontsize=6, color="#505050")
        else:
            ax.annotate(text, (0, i), xytext=(3, 0), textcoords="offset points", ha="left",
                        va="center", fontsize=6, color="#505050")


def annotate_bars(ax: Axes, values: np.ndarray, texts: list[str], vertical: bool,
                  offset: float = 2) -> None:
    """Write ``texts`` at the end of each finite bar of ``values``, ``offset`` points away."""
    for i, (v, t) in enumerate(zip(values, texts, strict=True)):
        if not np.isfinite(v):
            continue
        if vertical:
            ax.annotate(t, (i, v), xytext=(0, offset if v >= 0 else -offset),
                        textcoords="offset points",
                        ha="center", va="bottom" if v >= 0 else "top", fontsize=6)
        else:
            ax.annotate(t, (v, i), xytext=(offset + 1, 0), textcoords="offset points", ha="left",
                        va="center", fontsize=6)


def fmt(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits and thousands separators."""
    if not np.isfinite(value):
        return "n/a"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def excluded_note(df: pl.DataFrame, rows: np.ndarray) -> str:
    """Caption sentence naming the strategies that are not drawn, or ``""``."""
    missing = [n for n, ok in zip(names(df), rows, strict=True) if not ok]
    if not missing:
        return ""
    return f" Strategies without a feasible configuration are not drawn: {', '.join(missing)}."


WIDE_RATIO = 10.0
"""Positive data spanning more than this factor is drawn on a log axis [-]."""

OUTLIER_RATIO = 6.0
"""A bar longer than this many times the median bar is cut at the axis, its value written [-]."""


def is_wide(values: np.ndarray) -> bool:
    """True when the finite positive ``values`` span more than :data:`WIDE_RATIO`."""
    finite = values[np.isfinite(values)]
    return bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > WIDE_RATIO)


def log_axis(ax: Axes, which: str) -> None:
    """A log ``which`` axis ("x" or "y") with labelled decades only: minor ticks stay
    unlabelled, so their labels never pile up."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_minor_formatter(NullFormatter())


def log_if_wide(ax: Axes, x: np.ndarray, y: np.ndarray) -> None:
    """Use log axes for positive data spanning more than :data:`WIDE_RATIO`."""
    for values, which in ((x, "x"), (y, "y")):
        if is_wide(values):
            log_axis(ax, which)


def clip_outliers(ax: Axes, totals: np.ndarray, vertical: bool, unit: str) -> str:
    """Cut the value axis above the bars that are more than :data:`OUTLIER_RATIO` times the
    median, so one outlier does not flatten the others; write each cut bar's value at the
    edge. Returns the caption sentence saying so (``""`` when nothing is cut)."""
    finite = totals[np.isfinite(totals) & (totals > 0)]
    if finite.size < 3:
        return ""
    limit = OUTLIER_RATIO * float(np.median(finite))
    kept = finite[finite <= limit]
    if kept.size == finite.size or kept.size == 0:
        return ""
    edge = float(kept.max()) * 1.35
    (ax.set_ylim if vertical else ax.set_xlim)(0, edge)
    for i, v in enumerate(totals):
        if np.isfinite(v) and v > edge:
            text = f"{fmt(v)} {unit} ▶" if not vertical else f"▲ {fmt(v)} {unit}"
            xy = (i, edge) if vertical else (edge, i)
            ax.annotate(text, xy, xytext=(0, -2) if vertical else (-2, 0),
                        textcoords="offset points", ha="center" if vertical else "right",
                        va="top" if vertical else "center", fontsize=6.5, fontweight="bold",
                        bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                              "edgecolor": "none"})
    return (f" The axis is cut at {fmt(edge)} {unit} so that the other bars stay readable; a "
            "cut bar carries its value at the edge.")
