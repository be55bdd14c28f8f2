"""Figures of a sweep report, written as PNG files.

:func:`render_figures` draws the figures a report shows from the final tables
of a sweep (``best``, ``tp_pp`` and ``pareto``, see :mod:`trainplan.sweep.summaries`):
the answer along the sweep's scenario axes (:mod:`.answer`), the strategy comparisons of
one reference scenario (:mod:`.strategies`: memory,
communication, efficiency, throughput, memory reduction, ranking, step-time
breakdown) and the figures across scenarios (:mod:`.scenarios`: scaling with the
GPU count, the TP x PP heatmap and the time-cost frontier). Rows belong to a
scenario by their ``scenario_id``.

The figures are meant to survive greyscale printing: series differ by hatch
pattern, marker and line style as well as by colour. They are byte-for-byte
reproducible: fixed sizes and category order, no timestamps or software tag in
the PNG metadata, the Agg canvas created explicitly (no pyplot state). Every
file is written atomically (:mod:`trainplan.atomic`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

import matplotlib
import polars as pl

from trainplan import atomic
from trainplan.render.figures import answer, scenarios, strategies
from trainplan.render.figures._draw import Drawn, png_bytes, short_reason
from trainplan.render.figures._style import (
    CP_SUFFIX,
    DPI,
    FIGSIZE,
    RC,
    STRATEGY_ORDER,
    strategy_key,
    strategy_order,
)
from trainplan.render.figures._tables import Context, reference
from trainplan.render.figures.strategies import COMM_PARTS, MEMORY_PARTS, STEP_PARTS

__all__ = ["COMM_PARTS", "CP_SUFFIX", "DPI", "FIGSIZE", "FIGURES", "MEMORY_PARTS", "STEP_PARTS",
           "STRATEGY_ORDER", "render_figures", "short_reason", "strategy_key", "strategy_order"]

FIGURES: tuple[tuple[str, Callable[[Context], Drawn | None]], ...] = (
    ("answer", answer.answer),
    ("memory_breakdown", strategies.memory_breakdown),
    ("communication_volume", strategies.communication_volume),
    ("compute_efficiency", strategies.compute_efficiency),
    ("throughput", strategies.throughput),
    ("memory_reduction", strategies.memory_reduction),
    ("overall_ranking", strategies.overall_ranking),
    ("scaling", scenarios.scaling),
    ("tp_pp_heatmap", scenarios.tp_pp_heatmap),
    ("step_breakdown", strategies.step_breakdown),
    ("cost_frontier", scenarios.cost_frontier),
)
"""Name and drawing function of every figure, in report order."""


def render_figures(best: pl.DataFrame, tp_pp: pl.DataFrame, pareto: pl.DataFrame,
                   out_dir: Path, scenario_id: int, scenario_label: str, *,
                   names: Collection[str] | None = None,
                   axes: Collection[str] = (),
                   replicated_memory_bytes: float | None = None) -> list[dict]:
    """Draw the report's figures as PNG files in ``out_dir``.

    Parameters
    ----------
    best : polars.DataFrame
        The ``best`` table: per (scenario, strategy) the fastest feasible configuration,
        or the infeasible one closest to fitting.
    tp_pp : polars.DataFrame
        The ``tp_pp`` table: the fastest feasible configuration per (scenario, tp, pp).
        The heatmap draws its rows whose ``scenario_id`` is ``scenario_id``.
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
    axes : collection of str, optional
        The sweep's scenario axes, for the ``answer`` figure along them (none: no such
        figure).
    replicated_memory_bytes : float, optional
        Memory per GPU of plain data parallelism for the reference scenario [bytes]
        (``analysis.json``'s ``reference.replicated_memory_bytes``), the baseline of the
        memory-reduction figure (none: no such figure).

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
    ctx = Context(best=best, tp_pp=tp_pp, pareto=pareto, ref=reference(best, scenario_id),
                  scenario_id=scenario_id, label=scenario_label, axes=tuple(axes),
                  replicated_memory_bytes=replicated_memory_bytes)
    written = []
    with matplotlib.rc_context(RC):
        for name, draw in FIGURES:
            if names is None or name in names:
                entry = _render_one(name, draw, ctx, out_dir)
                written += [entry] if entry else []
    return written


def _render_one(name: str, draw: Callable[[Context], Drawn | None], ctx: Context,
                out_dir: Path) -> dict | None:
    """Draw one figure and write it, or remove a stale file when there is nothing to draw."""
    path = out_dir / f"{name}.png"
    drawn = draw(ctx)
    if drawn is None:
        path.unlink(missing_ok=True)
        return None
    atomic.write_bytes(path, png_bytes(drawn.fig))
    return {"name": name, "file": path.name, "title": drawn.title, "caption": drawn.caption}
