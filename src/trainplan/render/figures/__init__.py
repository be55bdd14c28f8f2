"""Figures of a sweep report, written as PNG files.

:func:`render_figures` draws the figures a report shows from the final tables
of a sweep (``best``, ``tp_pp`` and ``pareto``, see :mod:`trainplan.summaries`):
the strategy comparisons of one reference scenario (memory, communication,
efficiency, throughput, memory reduction, ranking, step-time breakdown), the
scaling with the GPU count, the TP x PP heatmap and the time-cost frontier.

The figures are meant to survive greyscale printing: series differ by hatch
pattern, marker and line style as well as by colour. They are byte-for-byte
reproducible: fixed sizes and category order, no timestamps or software tag in
the PNG metadata, the Agg canvas created explicitly (no pyplot state). Every
file is written under a temporary name in the output directory and renamed.
"""

from __future__ import annotations

import io
import math
import os
import uuid
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import EngFormatter

from trainplan.model.feasibility import MEMORY, REASONS, STRATEGIES
from trainplan.schema.inputs import LAYOUT_AXES
from trainplan.schema.outputs import OUTPUT_COLUMNS
from trainplan.units import GIB_BYTES, GIGA

FIGSIZE = (7.0, 4.0)
DPI = 150
CP_SUFFIX = " + CP"
#: Every strategy label in display order: each base strategy, then its context-parallel variant.
STRATEGY_ORDER: tuple[str, ...] = tuple(s for base in STRATEGIES for s in (base, base + CP_SUFFIX))

_RC = {
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "hatch.linewidth": 0.6,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False,
    "image.cmap": "viridis",
}
_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "h", "p", "<", ">", "d", "H", "8", "x")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 2)),
               (0, (6, 2, 1, 2, 1, 2)))
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#17becf")
_HATCHES = ("", "///", "\\\\\\", "xxx", "...", "ooo", "---", "+++")
_BAR_COLOUR = "#5b8db8"
_INFEASIBLE_COLOUR = "#b0b0b0"
_BOOKKEEPING = frozenset({"config_id", "scenario_id", "cost_rate", "rank_in_scenario"})
_MEMORY_REASON = REASONS[MEMORY]

MEMORY_PARTS = (("weights", "memory_weights_bytes"), ("gradients", "memory_gradients_bytes"),
                ("optimizer states", "memory_optimizer_bytes"),
                ("activations", "memory_activations_bytes"), ("other", "memory_other_bytes"))
COMM_PARTS = (("TP", "comm_tp_bytes_per_step"), ("CP", "comm_cp_bytes_per_step"),
              ("DP", "comm_dp_bytes_per_step"), ("PP", "comm_pp_bytes_per_step"))
STEP_PARTS = (("compute", "compute_time_s"), ("TP exposed", "tp_exposed_s"),
              ("CP exposed", "cp_exposed_s"), ("DP exposed", "dp_exposed_s"),
              ("PP exposed", "pp_exposed_s"), ("pipeline bubble", "bubble_time_s"),
              ("optimizer", "optimizer_time_s"))


@dataclass(frozen=True)
class _Context:
    """What the figure functions draw from."""

    best: pl.DataFrame
    tp_pp: pl.DataFrame
    pareto: pl.DataFrame
    ref: pl.DataFrame
    scenario_id: int
    label: str


@dataclass
class _Drawn:
    """A drawn figure with its title and caption."""

    fig: Figure
    title: str
    caption: str


# ----------------------------------------------------------------------------- helpers


def strategy_key(name: str) -> tuple[int, int, str]:
    """Sort key putting strategies in the fixed display order.

    Parameters
    ----------
    name : str
        A strategy label such as ``"2D (DP x TP)"`` or ``"DP + CP"``.

    Returns
    -------
    tuple of (int, int, str)
        Position of the base strategy in :data:`~trainplan.model.feasibility.STRATEGIES`
        (unknown labels last), 1 for a context-parallel variant, then the label itself.
    """
    cp = name.endswith(CP_SUFFIX)
    base = name[: -len(CP_SUFFIX)] if cp else name
    index = STRATEGIES.index(base) if base in STRATEGIES else len(STRATEGIES)
    return index, int(cp), name


def strategy_order(names: Sequence[str]) -> list[str]:
    """Distinct strategy labels of ``names`` in the fixed display order.

    Parameters
    ----------
    names : sequence of str
        Strategy labels, possibly repeated.

    Returns
    -------
    list of str
        The distinct labels sorted with :func:`strategy_key`.
    """
    return sorted(set(names), key=strategy_key)


def _strategy_style(name: str) -> dict:
    """Colour, line style, marker and marker fill of a strategy's series.

    Colour and line style follow the base strategy; a context-parallel variant gets
    another marker and an open one, so every strategy differs without colour.
    """
    index, cp, _ = strategy_key(name)
    if index >= len(STRATEGIES):
        index += zlib.crc32(name.encode()) % 8
    return {"color": _COLOURS[index % len(_COLOURS)],
            "linestyle": _LINESTYLES[index % len(_LINESTYLES)],
            "marker": _MARKERS[(index + 8 * cp) % len(_MARKERS)],
            "markerfacecolor": "white" if cp else _COLOURS[index % len(_COLOURS)]}


def _part_styles(n: int) -> list[dict]:
    """Face colour and hatch of each of ``n`` stacked parts (light viridis, distinct hatches)."""
    cmap = matplotlib.colormaps["viridis"]
    shades = np.linspace(0.35, 0.95, n) if n > 1 else np.array([0.6])
    return [{"facecolor": cmap(float(s)), "hatch": _HATCHES[i % len(_HATCHES)],
             "edgecolor": "black", "linewidth": 0.4} for i, s in enumerate(shades)]


def _col(df: pl.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as float64 with nulls (and a missing column) as NaN."""
    if name not in df.columns:
        return np.full(df.height, np.nan)
    return df[name].cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)


def _feasible(df: pl.DataFrame) -> np.ndarray:
    """Boolean mask of the feasible rows (a missing column means none)."""
    if "feasible" not in df.columns:
        return np.zeros(df.height, dtype=bool)
    return df["feasible"].fill_null(False).to_numpy().astype(bool)


def _feasible_rows(df: pl.DataFrame) -> pl.DataFrame:
    """The feasible rows of ``df``."""
    return df.filter(pl.Series(_feasible(df))) if df.height else df


def _names(df: pl.DataFrame) -> list[str]:
    """Strategy labels of the rows of ``df``."""
    return [str(s) for s in df["strategy"].to_list()] if "strategy" in df.columns else []


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


def _tick_labels(df: pl.DataFrame, newline: bool = True) -> list[str]:
    """Strategy labels, with the shortened reason appended for infeasible rows."""
    sep = "\n" if newline else " "
    reasons = df["reason"].to_list() if "reason" in df.columns else [None] * df.height
    return [name if ok else f"{name}{sep}({short_reason(r, 20)})"
            for name, ok, r in zip(_names(df), _feasible(df), reasons, strict=True)]


def _sort_strategies(df: pl.DataFrame) -> pl.DataFrame:
    """One row per strategy (feasible and fastest first) in the fixed display order."""
    if df.height == 0 or "strategy" not in df.columns:
        return df
    order = {name: i for i, name in enumerate(strategy_order(_names(df)))}
    keyed = df.with_columns(
        pl.Series("_order", [order[n] for n in _names(df)], dtype=pl.Int64),
        pl.Series("_infeasible", ~_feasible(df)),
        pl.Series("_step", _col(df, "step_time_s")).fill_nan(None))
    keyed = keyed.sort(["_order", "_infeasible", "_step"], nulls_last=True)
    return keyed.unique("_order", keep="first", maintain_order=True).drop(
        "_order", "_infeasible", "_step")


def _scenario_values(ref: pl.DataFrame) -> dict:
    """Input columns that are not layout choices and are constant within ``ref``."""
    values = {}
    for name in ref.columns:
        if name in OUTPUT_COLUMNS or name in _BOOKKEEPING or name in LAYOUT_AXES:
            continue
        if ref[name].n_unique() == 1:
            values[name] = ref[name][0]
    return values


def _matching(df: pl.DataFrame, values: dict) -> pl.DataFrame:
    """Rows of ``df`` equal to ``values`` in every column of ``values`` that ``df`` has."""
    exprs = []
    for name, value in values.items():
        if name not in df.columns:
            continue
        if value is None:
            exprs.append(pl.col(name).is_null())
        elif isinstance(value, float) and math.isnan(value):
            exprs.append(pl.col(name).is_nan())
        else:
            exprs.append(pl.col(name) == value)
    return df.filter(*exprs) if exprs and df.height else df


def _new_figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    """A figure of the fixed size with ``ncols`` axes side by side on an Agg canvas."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes without software or time metadata."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _legend_right(ax: Axes, **kwargs) -> None:
    """A legend outside the axes, to the right."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, **kwargs)


def _category_axis(ax: Axes, labels: list[str], infeasible: np.ndarray, vertical: bool) -> None:
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


def _stacked_bars(ax: Axes, parts: list[tuple[str, np.ndarray]], vertical: bool) -> np.ndarray:
    """Stacked bars of ``parts`` (label, values per category); returns the totals."""
    n = len(parts[0][1]) if parts else 0
    positions = np.arange(n)
    bottom = np.zeros(n)
    for (label, values), style in zip(parts, _part_styles(len(parts)), strict=True):
        heights = np.nan_to_num(values, nan=0.0)
        if vertical:
            ax.bar(positions, heights, 0.7, bottom=bottom, label=label, **style)
        else:
            ax.barh(positions, heights, 0.7, left=bottom, label=label, **style)
        bottom = bottom + heights
    return bottom


def _nonzero_parts(df: pl.DataFrame, parts: Sequence[tuple[str, str]], scale: float,
                   rows: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(label, column / scale) of the parts that are non-zero in some selected row.

    Values of rows outside ``rows`` are NaN (not drawn). At least the first part is kept.
    """
    out = []
    for label, name in parts:
        values = np.where(rows, _col(df, name) / scale, np.nan)
        if np.nanmax(np.abs(values), initial=0.0) > 0:
            out.append((label, values))
    return out or [(parts[0][0], np.where(rows, _col(df, parts[0][1]) / scale, np.nan))]


def _mark_missing(ax: Axes, rows: np.ndarray, vertical: bool, text: str = "infeasible") -> None:
    """Write ``text`` at the base of the categories that are not drawn."""
    for i in np.flatnonzero(~rows):
        if vertical:
            ax.annotate(text, (i, 0), xytext=(0, 3), textcoords="offset points", rotation=90,
                        ha="center", va="bottom", fontsize=6, color="#505050")
        else:
            ax.annotate(text, (0, i), xytext=(3, 0), textcoords="offset points", ha="left",
                        va="center", fontsize=6, color="#505050")


def _annotate_bars(ax: Axes, values: np.ndarray, texts: list[str], vertical: bool,
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


def _fmt(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits and thousands separators."""
    if not np.isfinite(value):
        return "n/a"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _excluded_note(df: pl.DataFrame, rows: np.ndarray) -> str:
    """Caption sentence naming the strategies that are not drawn, or ``""``."""
    missing = [n for n, ok in zip(_names(df), rows, strict=True) if not ok]
    if not missing:
        return ""
    return f" Strategies without a feasible configuration are not drawn: {', '.join(missing)}."


# ----------------------------------------------------------------------------- figures


def _memory_breakdown(ctx: _Context) -> _Drawn | None:
    """Stacked memory per GPU of each strategy against the usable GPU memory."""
    ref = ctx.ref
    if ref.height == 0:
        return None
    fig, (ax,) = _new_figure()
    everything = np.ones(ref.height, dtype=bool)
    parts = [(label, np.nan_to_num(values, nan=0.0))
             for label, values in _nonzero_parts(ref, MEMORY_PARTS, GIB_BYTES, everything)]
    totals = _stacked_bars(ax, parts, vertical=True)
    infeasible = ~_feasible(ref)
    for i in np.flatnonzero(infeasible):
        ax.bar(i, totals[i], 0.78, facecolor="none", edgecolor="#c00000", linewidth=1.5,
               linestyle="--", label="no feasible configuration" if i == infeasible.argmax()
               else None)
    usable = _col(ref, "memory_usable_bytes") / GIB_BYTES
    if np.all(np.isfinite(usable)) and np.ptp(usable) == 0:
        ax.axhline(usable[0], color="black", linestyle="--", linewidth=1.0,
                   label=f"usable GPU memory ({usable[0]:.1f} GiB)")
    else:
        ax.hlines(usable, np.arange(ref.height) - 0.45, np.arange(ref.height) + 0.45,
                  color="black", linestyle="--", linewidth=1.0, label="usable GPU memory")
    top = np.nanmax(np.concatenate([totals, usable, [1.0]]))
    ax.set_ylim(0, top * 1.08)
    _category_axis(ax, _tick_labels(ref), infeasible, vertical=True)
    ax.set_ylabel("memory per GPU (GiB = 2$^{30}$ bytes)")
    title = f"Memory per GPU by strategy: {ctx.label}"
    ax.set_title(title)
    _legend_right(ax)
    caption = ("Memory per GPU in GiB (2^30 bytes) of the best configuration of each strategy, "
               "stacked by weights, gradients, optimizer states, activations and other buffers; "
               "the dashed line is the usable GPU memory.")
    if infeasible.any():
        caption += (" Red dashed outlines mark strategies with no feasible configuration "
                    "(the configuration closest to fitting is shown, with the reason under its "
                    "name).")
    return _Drawn(fig, title, caption)


def _communication_volume(ctx: _Context) -> _Drawn | None:
    """Bytes sent per GPU per step, stacked by parallel dimension."""
    ref = ctx.ref
    rows = _feasible(ref)
    if not rows.any():
        return None
    fig, (ax,) = _new_figure()
    parts = _nonzero_parts(ref, COMM_PARTS, GIGA, rows)
    _stacked_bars(ax, parts, vertical=True)
    _mark_missing(ax, rows, vertical=True)
    _category_axis(ax, _tick_labels(ref), ~rows, vertical=True)
    ax.set_ylabel("bytes sent per GPU per step (GB = 10$^9$ bytes)")
    title = f"Communication volume per GPU and step: {ctx.label}"
    ax.set_title(title)
    _legend_right(ax, title="dimension")
    caption = ("Bytes sent per GPU per training step in GB (10^9 bytes) by the best configuration "
               "of each strategy, stacked by parallel dimension (dimensions that send nothing "
               "are omitted)." + _excluded_note(ref, rows))
    return _Drawn(fig, title, caption)


def _compute_efficiency(ctx: _Context) -> _Drawn | None:
    """MFU bars with HFU markers per strategy."""
    ref = ctx.ref
    rows = _feasible(ref)
    if not rows.any():
        return None
    fig, (ax,) = _new_figure()
    positions = np.arange(ref.height)
    mfu = np.where(rows, _col(ref, "mfu") * 100, np.nan)
    hfu = np.where(rows, _col(ref, "hfu") * 100, np.nan)
    ax.bar(positions, np.nan_to_num(mfu), 0.7, color=_BAR_COLOUR, edgecolor="black",
           linewidth=0.4, hatch="///", label="MFU (model FLOPs)")
    ax.plot(positions, hfu, linestyle="none", marker="D", markerfacecolor="white",
            markeredgecolor="black", markersize=5, label="HFU (with recomputation)")
    _annotate_bars(ax, np.fmax(mfu, hfu), [f"{v:.1f}" for v in mfu], vertical=True, offset=5)
    _mark_missing(ax, rows, vertical=True)
    _category_axis(ax, _tick_labels(ref), ~rows, vertical=True)
    ax.set_ylim(0, max(np.nanmax(np.concatenate([mfu, hfu, [0.0]])) * 1.15, 1.0))
    ax.set_ylabel("FLOPs utilisation (% of dense peak)")
    title = f"Compute efficiency: {ctx.label}"
    ax.set_title(title)
    _legend_right(ax)
    caption = ("Model FLOPs utilisation (MFU, bars, value on top) and hardware FLOPs utilisation "
               "(HFU, counting recomputation, diamonds) in percent of the GPU's dense peak for the "
               "best configuration of each strategy." + _excluded_note(ref, rows))
    return _Drawn(fig, title, caption)


def _throughput(ctx: _Context) -> _Drawn | None:
    """Training throughput per strategy."""
    ref = ctx.ref
    rows = _feasible(ref)
    if not rows.any():
        return None
    fig, (ax,) = _new_figure()
    tokens = np.where(rows, _col(ref, "tokens_per_s"), np.nan)
    ax.bar(np.arange(ref.height), np.nan_to_num(tokens), 0.7, color=_BAR_COLOUR,
           edgecolor="black", linewidth=0.4, hatch="\\\\\\")
    short = EngFormatter(places=1, sep="")
    _annotate_bars(ax, tokens, [short.format_eng(v) if np.isfinite(v) else "" for v in tokens],
                   vertical=True)
    _mark_missing(ax, rows, vertical=True)
    _category_axis(ax, _tick_labels(ref), ~rows, vertical=True)
    ax.yaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_ylim(0, max(np.nanmax(np.append(tokens, 0.0)) * 1.12, 1.0))
    ax.set_ylabel("throughput of the whole job (tokens/s)")
    title = f"Training throughput: {ctx.label}"
    ax.set_title(title)
    caption = ("Training throughput of the whole job in tokens per second (k = 10^3, M = 10^6) "
               "for the best configuration of each strategy." + _excluded_note(ref, rows))
    return _Drawn(fig, title, caption)


def _memory_reduction(ctx: _Context) -> _Drawn | None:
    """Percent reduction of memory per GPU against DP (or the largest strategy)."""
    ref = ctx.ref
    if ref.height == 0:
        return None
    memory = _col(ref, "memory_total_bytes")
    names = _names(ref)
    if "DP" in names and np.isfinite(memory[names.index("DP")]):
        base_name, base = "DP", memory[names.index("DP")]
        how = f"the DP row of the same scenario ({base / GIB_BYTES:.1f} GiB)"
    elif np.isfinite(memory).any():
        i = int(np.nanargmax(memory))
        base_name, base = names[i], memory[i]
        how = (f"{base_name} ({base / GIB_BYTES:.1f} GiB), the strategy needing the most "
               "memory, because this scenario has no DP row")
    else:
        return None
    if not base > 0:
        return None
    reduction = 100.0 * (1.0 - memory / base)
    fig, (ax,) = _new_figure()
    infeasible = ~_feasible(ref)
    bars = ax.bar(np.arange(ref.height), np.nan_to_num(reduction), 0.7, color=_BAR_COLOUR,
                  edgecolor="black", linewidth=0.4, hatch="...")
    for i in np.flatnonzero(infeasible):
        bars[i].set_facecolor(_INFEASIBLE_COLOUR)
        bars[i].set_hatch("xxx")
    _annotate_bars(ax, reduction, [f"{v:+.0f}%" for v in reduction], vertical=True)
    ax.axhline(0, color="black", linewidth=0.8)
    _category_axis(ax, _tick_labels(ref), infeasible, vertical=True)
    low, high = np.nanmin(np.append(reduction, 0.0)), np.nanmax(np.append(reduction, 0.0))
    pad = max(high - low, 1.0) * 0.12
    ax.set_ylim(low - (pad if low < 0 else 0), high + pad)
    ax.set_ylabel(f"memory per GPU reduction vs {base_name} (%)")
    title = f"Memory reduction against {base_name}: {ctx.label}"
    ax.set_title(title)
    if infeasible.any():
        ax.legend(handles=[Patch(facecolor=_INFEASIBLE_COLOUR, edgecolor="black", hatch="xxx",
                                 label="infeasible")], loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), frameon=False)
    caption = (f"Reduction of memory per GPU in percent, 100 x (1 - M / M_ref), relative to "
               f"{how}; negative values need more memory.")
    if infeasible.any():
        caption += " Grey cross-hatched bars are strategies with no feasible configuration."
    return _Drawn(fig, title, caption)


def _ranking_order(ref: pl.DataFrame) -> pl.DataFrame:
    """Feasible rows by step time (fastest first), then infeasible rows in display order."""
    feasible = _feasible(ref)
    step = _col(ref, "step_time_s")
    keys = [(0, step[i], strategy_key(n)) if feasible[i] and np.isfinite(step[i])
            else (1, 0.0, strategy_key(n)) for i, n in enumerate(_names(ref))]
    order = sorted(range(ref.height), key=lambda i: keys[i])
    return ref[order]


def _overall_ranking(ctx: _Context) -> _Drawn | None:
    """Strategies ranked by step time, infeasible ones listed greyed below."""
    if ctx.ref.height == 0:
        return None
    ref = _ranking_order(ctx.ref)
    rows = _feasible(ref) & np.isfinite(_col(ref, "step_time_s"))
    step = np.where(rows, _col(ref, "step_time_s"), np.nan)
    days = _col(ref, "time_to_train_days")
    fig, (ax,) = _new_figure()
    ax.barh(np.arange(ref.height), np.nan_to_num(step), 0.7, color=_BAR_COLOUR,
            edgecolor="black", linewidth=0.4, hatch="///")
    texts = [f"{_fmt(s)} s" + (f" ({_fmt(d)} days to train)" if np.isfinite(d) else "")
             for s, d in zip(step, days, strict=True)]
    _annotate_bars(ax, step, texts, vertical=False)
    reasons = ref["reason"].to_list() if "reason" in ref.columns else [None] * ref.height
    for i in np.flatnonzero(~rows):
        ax.text(0, i, f" infeasible: {short_reason(reasons[i], 60)}", ha="left", va="center",
                fontsize=7, color="#505050", style="italic")
    if rows.any() and not rows.all():
        ax.axhline(rows.sum() - 0.5, color="#909090", linewidth=0.8, linestyle=":")
    _category_axis(ax, _names(ref), ~rows, vertical=False)
    ax.set_xlim(0, max(np.nanmax(np.append(step, 0.0)), 1e-9) * 1.45)
    ax.set_xlabel("step time (s)")
    title = f"Strategies ranked by step time: {ctx.label}"
    ax.set_title(title)
    caption = ("Step time in seconds of the best configuration of each strategy, fastest at the "
               "top, with the wall-clock time to train in days; strategies with no feasible "
               "configuration are listed greyed below the dotted line with the reason.")
    return _Drawn(fig, title, caption)


def _scaling_rows(ctx: _Context) -> pl.DataFrame:
    """Feasible rows of the scenarios that differ from the reference only in n_gpus.

    Per (n_gpus, strategy) the fastest row is kept.
    """
    values = {k: v for k, v in _scenario_values(ctx.ref).items() if k != "n_gpus"}
    rows = _feasible_rows(_matching(ctx.best, values))
    if rows.height == 0 or "n_gpus" not in rows.columns:
        return rows.clear() if rows.width else rows
    return (rows.filter(pl.col("step_time_s").is_not_nan() & pl.col("n_gpus").is_not_null())
            .sort(["n_gpus", "strategy", "step_time_s"])
            .unique(["n_gpus", "strategy"], keep="first", maintain_order=True))


def _scaling(ctx: _Context) -> _Drawn | None:
    """Throughput and MFU against the GPU count, one line per strategy."""
    if ctx.ref.height == 0:
        return None
    rows = _scaling_rows(ctx)
    gpus = sorted(set(_col(rows, "n_gpus").tolist())) if rows.height else []
    if len(gpus) < 2:
        return None
    fig, (left, right) = _new_figure(ncols=2)
    for name in strategy_order(_names(rows)):
        sub = rows.filter(pl.col("strategy") == name).sort("n_gpus")
        style = _strategy_style(name)
        kwargs = {"label": name, "markersize": 4, "linewidth": 1.2, "markeredgecolor": "black",
                  "markeredgewidth": 0.5, **style}
        left.plot(_col(sub, "n_gpus"), _col(sub, "tokens_per_s"), **kwargs)
        right.plot(_col(sub, "n_gpus"), _col(sub, "mfu") * 100, **kwargs)
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
    _legend_right(right, title="strategy")
    title = f"Scaling with the number of GPUs (reference: {ctx.label})"
    fig.suptitle(title, fontsize=9)
    caption = ("Throughput of the whole job in tokens/s (left, log scale) and MFU in percent of "
               "the dense peak (right) of the fastest feasible configuration of each strategy "
               f"against the number of GPUs ({', '.join(f'{g:g}' for g in gpus)}; log2 axis), "
               "over the scenarios that differ from the reference only in the GPU count.")
    return _Drawn(fig, title, caption)


def _reference_tp_pp(ctx: _Context) -> pl.DataFrame:
    """Feasible rows of ``tp_pp`` that belong to the reference scenario."""
    tp_pp = ctx.tp_pp
    if tp_pp.height == 0 or not {"tp", "pp", "step_time_s"} <= set(tp_pp.columns):
        return tp_pp.clear() if tp_pp.width else tp_pp
    if "scenario_id" in tp_pp.columns:
        rows = tp_pp.filter(pl.col("scenario_id") == ctx.scenario_id)
    elif ctx.ref.height:
        rows = _matching(tp_pp, _scenario_values(ctx.ref))
    else:
        rows = tp_pp.clear()
    return _feasible_rows(rows) if "feasible" in rows.columns else rows


def _tp_pp_grid(ctx: _Context, rows: pl.DataFrame) -> tuple[list[float], list[float], np.ndarray]:
    """tp values, pp values and the best step time per (pp, tp) cell (NaN: none)."""
    tps = sorted(set(_col(ctx.tp_pp, "tp").tolist()) | set(_col(ctx.ref, "tp").tolist()))
    pps = sorted(set(_col(ctx.tp_pp, "pp").tolist()) | set(_col(ctx.ref, "pp").tolist()))
    tps = [t for t in tps if np.isfinite(t)]
    pps = [p for p in pps if np.isfinite(p)]
    grid = np.full((len(pps), len(tps)), np.nan)
    for tp, pp, step in zip(_col(rows, "tp"), _col(rows, "pp"), _col(rows, "step_time_s"),
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
        ax.text(x, y, _fmt(value), ha="center", va="center", fontsize=7,
                color="black" if light else "white")


def _tp_pp_heatmap(ctx: _Context) -> _Drawn | None:
    """Best step time over (tp, pp) for the reference scenario."""
    rows = _reference_tp_pp(ctx)
    if rows.height == 0:
        return None
    tps, pps, grid = _tp_pp_grid(ctx, rows)
    if not np.isfinite(grid).any():
        return None
    fig, (ax,) = _new_figure()
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
    ax.set_title(title)
    caption = ("Step time in seconds of the fastest feasible configuration for each "
               "tensor-parallel (x) and pipeline-parallel (y) degree, darker is faster; blank "
               "cells have no feasible configuration and the red outline marks the fastest.")
    return _Drawn(fig, title, caption)


def _step_breakdown(ctx: _Context) -> _Drawn | None:
    """Stacked parts of the step time per strategy."""
    ref = ctx.ref
    rows = _feasible(ref)
    if not rows.any():
        return None
    parts = _nonzero_parts(ref, STEP_PARTS, 1.0, rows)
    rest = np.where(rows, _col(ref, "step_time_s") - sum(_col(ref, c) for _, c in STEP_PARTS),
                    np.nan)
    if np.nanmax(rest, initial=0.0) > 1e-9 * np.nanmax(_col(ref, "step_time_s"), initial=1.0):
        parts.append(("other (step overhead)", np.clip(rest, 0.0, None)))
    fig, (ax,) = _new_figure()
    _stacked_bars(ax, parts, vertical=False)
    _mark_missing(ax, rows, vertical=False)
    _category_axis(ax, _tick_labels(ref, newline=False), ~rows, vertical=False)
    ax.set_xlabel("time per training step (s)")
    title = f"Step time breakdown: {ctx.label}"
    ax.set_title(title)
    _legend_right(ax)
    caption = ("Time per training step in seconds of the best configuration of each strategy, "
               "split into compute, communication not hidden by compute (exposed), pipeline "
               "bubble and optimizer update (parts that are zero everywhere are omitted)."
               + _excluded_note(ref, rows))
    return _Drawn(fig, title, caption)


def _frontier_2d(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of (x, y) not dominated when minimising both, sorted by x."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    best = np.minimum.accumulate(y) if y.size else y
    front = np.concatenate([[True], y[1:] < best[:-1]]) if y.size else np.zeros(0, bool)
    return x[front], y[front]


def _cost_frontier(ctx: _Context) -> _Drawn | None:
    """Time to train against cost for every scenario, with the Pareto frontier per model."""
    rows = _feasible_rows(ctx.best)
    days = _col(rows, "time_to_train_days")
    if rows.height == 0 or not np.isfinite(days).any():
        return None
    use_cost = np.isfinite(_col(rows, "cost_usd")).any()
    column, unit = ("cost_usd", "cost (USD)") if use_cost else ("gpu_hours", "GPU-hours")
    fig, (ax,) = _new_figure()
    for name in strategy_order(_names(rows)):
        sub = rows.filter(pl.col("strategy") == name)
        style = _strategy_style(name)
        ax.scatter(_col(sub, "time_to_train_days"), _col(sub, column), s=22, label=name,
                   marker=style["marker"], facecolors=style["markerfacecolor"],
                   edgecolors="black", linewidths=0.6, zorder=3)
    pareto = _feasible_rows(ctx.pareto) if "feasible" in ctx.pareto.columns else ctx.pareto
    models = sorted({str(m) for m in pareto["model"].to_list()}) if "model" in pareto.columns \
        else []
    for i, model in enumerate(models):
        sub = pareto.filter(pl.col("model") == model)
        x, y = _frontier_2d(_col(sub, "time_to_train_days"), _col(sub, column))
        if x.size:
            ax.step(x, y, where="post", color="black", linewidth=1.0, zorder=2,
                    linestyle=_LINESTYLES[i % len(_LINESTYLES)], label=f"Pareto frontier: {model}")
    _log_if_wide(ax, days, _col(rows, column))
    ax.set_xlabel("time to train (days)")
    ax.set_ylabel(unit)
    title = "Time to train against " + ("cost" if use_cost else "GPU-hours") + " (all scenarios)"
    ax.set_title(title)
    _legend_right(ax)
    what = "cost in USD" if use_cost else "GPU-hours (no price given, so cost is not known)"
    caption = (f"Wall-clock time to train in days against {what} of the fastest feasible "
               "configuration of each strategy in every scenario (one marker per strategy); "
               "step lines are the time-cost Pareto frontier of each model over all evaluated "
               "configurations.")
    return _Drawn(fig, title, caption)


def _log_if_wide(ax: Axes, x: np.ndarray, y: np.ndarray) -> None:
    """Use log axes for positive data spanning more than a factor of 20."""
    for values, setter in ((x, ax.set_xscale), (y, ax.set_yscale)):
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 20:
            setter("log")


FIGURES: tuple[tuple[str, Callable[[_Context], _Drawn | None]], ...] = (
    ("memory_breakdown", _memory_breakdown),
    ("communication_volume", _communication_volume),
    ("compute_efficiency", _compute_efficiency),
    ("throughput", _throughput),
    ("memory_reduction", _memory_reduction),
    ("overall_ranking", _overall_ranking),
    ("scaling", _scaling),
    ("tp_pp_heatmap", _tp_pp_heatmap),
    ("step_breakdown", _step_breakdown),
    ("cost_frontier", _cost_frontier),
)
"""Name and drawing function of every figure, in report order."""


def _reference(best: pl.DataFrame, scenario_id: int) -> pl.DataFrame:
    """Rows of ``best`` of the reference scenario, one per strategy, in display order."""
    if best.height == 0 or "scenario_id" not in best.columns or "strategy" not in best.columns:
        return best.clear() if best.width else best
    return _sort_strategies(best.filter(pl.col("scenario_id") == scenario_id))


def render_figures(best: pl.DataFrame, tp_pp: pl.DataFrame, pareto: pl.DataFrame,
                   out_dir: Path, scenario_id: int, scenario_label: str, *,
                   names: Collection[str] | None = None) -> list[dict]:
    """Draw the report's figures as PNG files in ``out_dir``.

    Parameters
    ----------
    best : polars.DataFrame
        The ``best`` table: per (scenario, strategy) the fastest feasible configuration,
        or the infeasible one closest to fitting.
    tp_pp : polars.DataFrame
        The ``tp_pp`` table: the fastest feasible configuration per (scenario, tp, pp).
        Without a ``scenario_id`` column its rows are matched to the reference scenario
        on the non-layout input columns that are constant within the reference scenario.
    pareto : polars.DataFrame
        The ``pareto`` table: the frontier of (step time, memory, cost) per model.
    out_dir : pathlib.Path
        Directory of the PNG files (created if missing).
    scenario_id : int
        The reference scenario: the strategy comparisons use the rows of ``best`` with
        this ``scenario_id``.
    scenario_label : str
        Human-readable name of the reference scenario, used in titles.
    names : collection of str, optional
        Draw only these figures (names of :data:`FIGURES`); default: all of them.

    Returns
    -------
    list of dict
        For each figure written, in report order: ``name``, ``file`` (file name in
        ``out_dir``), ``title`` and ``caption``. Figures without data to draw (for
        example ``scaling`` with fewer than two GPU counts, ``tp_pp_heatmap`` with
        an empty ``tp_pp``, the efficiency figures when no strategy is feasible) are
        skipped, and a file of theirs left by an earlier run is removed.
    """
    unknown = set(names or ()) - {name for name, _ in FIGURES}
    if unknown:
        raise ValueError(f"unknown figure names: {', '.join(sorted(unknown))}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = _Context(best=best, tp_pp=tp_pp, pareto=pareto,
                   ref=_reference(best, scenario_id), scenario_id=scenario_id,
                   label=scenario_label)
    written = []
    with matplotlib.rc_context(_RC):
        for name, draw in FIGURES:
            if names is not None and name not in names:
                continue
            path = out_dir / f"{name}.png"
            drawn = draw(ctx)
            if drawn is None:
                path.unlink(missing_ok=True)
                continue
            _write_atomic(path, _png_bytes(drawn.fig))
            written.append({"name": name, "file": path.name, "title": drawn.title,
                            "caption": drawn.caption})
    return written
