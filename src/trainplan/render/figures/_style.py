"""The look of the figures: sizes, rc settings, colours, hatches and strategy styles.

Series differ by hatch pattern, marker and line style as well as by colour, so the
figures survive greyscale printing.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import matplotlib
import numpy as np

from trainplan.model.feasibility import STRATEGIES

FIGSIZE = (7.0, 4.0)
DPI = 300
CP_SUFFIX = " + CP"
EP_SUFFIX = " + EP"
SUFFIXES = ("", CP_SUFFIX, EP_SUFFIX, CP_SUFFIX + EP_SUFFIX)
#: Every strategy label in display order: each base strategy, then its context- and
#: expert-parallel variants.
STRATEGY_ORDER: tuple[str, ...] = tuple(base + suffix for base in STRATEGIES
                                        for suffix in SUFFIXES)

RC = {
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "hatch.linewidth": 0.6,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False,
    "image.cmap": "viridis",
}
"""Matplotlib rc settings every figure is drawn with."""

MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "h", "p", "<", ">", "d", "H", "8", "x")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 2)),
              (0, (6, 2, 1, 2, 1, 2)))
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf")
HATCHES = ("", "///", "\\\\\\", "xxx", "...", "ooo", "---", "+++")
BAR_COLOUR = "#5b8db8"
INFEASIBLE_COLOUR = "#b0b0b0"


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
        (unknown labels last), the position of its suffix (none, + CP, + EP, + CP + EP),
        then the label itself.
    """
    variant = max((i for i, suffix in enumerate(SUFFIXES) if suffix and name.endswith(suffix)),
                  default=0)
    base = name[: len(name) - len(SUFFIXES[variant])]
    index = STRATEGIES.index(base) if base in STRATEGIES else len(STRATEGIES)
    return index, variant, name


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


def strategy_style(name: str) -> dict:
    """Colour, line style and marker of a strategy (CP variants: another, open marker; EP
    variants: another line style)."""
    index, variant, _ = strategy_key(name)
    cp, ep = variant in (1, 3), variant >= 2
    if index >= len(STRATEGIES):
        index += zlib.crc32(name.encode()) % 8
    return {"color": COLOURS[index % len(COLOURS)],
            "linestyle": LINESTYLES[(index + 4 * ep) % len(LINESTYLES)],
            "marker": MARKERS[(index + 8 * cp) % len(MARKERS)],
            "markerfacecolor": "white" if cp else COLOURS[index % len(COLOURS)]}


def part_styles(n: int) -> list[dict]:
    """Face colour and hatch of each of ``n`` stacked parts (light viridis, distinct hatches)."""
    cmap = matplotlib.colormaps["viridis"]
    shades = np.linspace(0.35, 0.95, n) if n > 1 else np.array([0.6])
    return [{"facecolor": cmap(float(s)), "hatch": HATCHES[i % len(HATCHES)],
             "edgecolor": "black", "linewidth": 0.4} for i, s in enumerate(shades)]
