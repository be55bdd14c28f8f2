r"""The pruned search: decide feasibility on a small sub-product, run the model on the rest.

A sweep that keeps only its summaries (``keep: best``) needs, of each shard, the counts
of every flag value, the feasible configurations (for the best, TP x PP and Pareto
rows) and, for each (scenario, strategy) with no feasible configuration, the one
closest to fitting. :func:`shard_candidates` gets all three without evaluating the full
model on the infeasible configurations, and gives exactly what the exhaustive
evaluation gives: the same shard summary, hence the same ``best``, ``tp_pp``,
``pareto`` and ``counts.json`` (``TRAINPLAN_PRUNE=0`` or ``run_shard(..., prune=False)``
runs the exhaustive path; sweeps that keep rows always take it).

**Decided early.** :func:`trainplan.model.feasibility.early_flags` runs on the arrays of
a *span* (a run of consecutive blocks, :func:`spans`). They broadcast only over the axes
each quantity reads, so a span of :math:`10^7` configurations is screened on a few
thousand values:

* every structural bit (DEGREES, LAYERS, HEADS, BATCH, SCHEDULE, CONTEXT,
  ZERO_PIPELINE): whole-number rules on the degrees, the model and the batch;
* MEMORY: the memory of the busiest stage by the very calls the full model makes,
  :math:`M = M_w + M_g + M_{opt} + A_l\,\frac{L}{p}\,n + A_w + M_{logits} + M_{z3}`
  against :math:`U = C (1 - r) - C_{ctx}`. No bound is needed: memory reads the
  layout, the model and the GPU memory, not the network, the collective algorithms or
  the prices, so the exact value is cheap on the sub-product (and equal, bit for bit,
  to the full evaluation's: the same element-wise operations on the same values);
* PRECISION: the GPU has no peak for the precision.

**NO_TIME** (no finite step time) is the one bit that needs the step time. Every
denominator of the step model is a positive product of degrees and counts (positive
even where a degree does not divide: ``dp = n_gpus / (tp pp cp) > 0``), a peak, a
bandwidth or an efficiency, and every logarithm takes :math:`\max(g, 1)`; so with every
numeric input finite and every rate positive (:func:`guaranteed_finite`) the step time
is finite and NO_TIME is never set. A span that fails this test, or whose survivors
come out of the full model with any flag, is evaluated exhaustively, block by block.

**Evaluated.** The full model runs on the configurations whose early flags are 0, as
flat rows gathered from the span's arrays (EVAL_ROWS at a time). The closest-row
candidates come from the sub-product itself: configurations that share an element and
a scenario share their flags and memory, and the first of them (lowest ``config_id``)
is the one the exhaustive arg-min picks. The key rows are reduced as they accumulate
(:data:`BUFFER_ROWS`), and the shard's picks are evaluated once more as full rows
(inputs and outputs) and reduced by :func:`trainplan.sweep.summaries.reduce`, as the
exhaustive path reduces its rows.
"""

from __future__ import annotations

import math
import os

import numpy as np
import polars as pl

from trainplan.model import feasibility as fe
from trainplan.schema.inputs import INPUTS
from trainplan.schema.resolve import derive
from trainplan.schema.table import assemble, evaluate_numeric, model_values
from trainplan.sweep import summaries
from trainplan.sweep.grid import Block, Grid, key_frame

EVAL_ROWS = 131_072
"""Rows evaluated at once by the full model (results do not depend on it)."""

SPAN_LIMIT = 8_000_000
"""Configurations screened at once (a run of blocks; the model then runs on the survivors
EVAL_ROWS at a time, and at most BUFFER_ROWS key rows are held)."""

BUFFER_ROWS = 1_000_000
"""Key rows held before they are reduced to candidates (bounds a shard's memory)."""

_RATES = ("efficiency", "byte_s", "flop_s", "sm_count", "gemm_half", "gemm_tile", "domain_gpus")
"""Inputs whose zero would make a time infinite (name fragments)."""

_AFTER_STEP = ("tokens_budget", "price_per_gpu_hour_usd", "tdp_w",
               *(spec.name for spec in INPUTS if spec.group == "budget"))
"""Inputs read only after the step time (time to train, cost, energy, the budget model of
failures and ownership): NaN allowed."""

_NAN_MEANS_NOT_SET = tuple(spec.name for spec in INPUTS
                           if isinstance(spec.default, float) and math.isnan(spec.default))
"""Inputs whose default is NaN: "not set" (a power limit, an FP8 efficiency), never a
bandwidth or an efficiency of zero."""


def enabled() -> bool:
    """Pruning is on unless ``TRAINPLAN_PRUNE`` is ``0``."""
    return os.environ.get("TRAINPLAN_PRUNE", "1") != "0"


def guaranteed_finite(arrays: dict[str, np.ndarray]) -> bool:
    """True when every numeric input is finite and every rate positive (see the module
    docstring). Peaks and FP8 constants may be NaN: a GPU without the precision is the
    PRECISION bit, and NO_TIME is only set where the precision is supported; an input whose
    default is NaN is NaN when not set (:data:`_NAN_MEANS_NOT_SET`)."""
    for name, array in arrays.items():
        a = np.asarray(array)
        if a.dtype.kind not in "fiu" or name in _AFTER_STEP:
            continue
        if "peak" in name or "fp8" in name or name in _NAN_MEANS_NOT_SET:
            a = a[~np.isnan(a)]
        if not np.isfinite(a).all():
            return False
        if any(part in name for part in _RATES) and not (a > 0).all():
            return False
    return True


def _gather(array, index: tuple[np.ndarray, ...]):
    """The values of a broadcasting array at the block positions ``index`` (one index
    array per axis); 0-d arrays stay scalars."""
    a = np.asarray(array)
    if a.ndim == 0:
        return a
    return a[tuple(ix if n > 1 else 0 for ix, n in zip(index, a.shape, strict=True))]


def _flat_outputs(arrays, rows: np.ndarray, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Full model outputs at the flat block positions ``rows``, EVAL_ROWS at a time."""
    parts = []
    for start in range(0, max(len(rows), 1), EVAL_ROWS):
        index = np.unravel_index(rows[start:start + EVAL_ROWS], shape)
        out = evaluate_numeric({k: _gather(v, index) for k, v in arrays.items()})
        n = len(index[0]) if index else 0
        parts.append({k: np.broadcast_to(v, (n,)) for k, v in out.items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _keys(grid: Grid, block: Block, values, rows, index, outputs) -> pl.DataFrame:
    """The key columns of :func:`trainplan.sweep.grid.key_frame` for the rows ``rows``."""
    scenario = _gather(grid.axis_code(block, grid.sweep.scenario), index)
    model = _gather(grid.axis_code(block, ["model"] if "model" in grid.names else []), index)
    strategy = fe.strategy_index(*(_gather(values[k], index)
                                   for k in ("dp", "tp", "pp", "cp", "ep")))
    n = len(rows)

    def flat(a, dtype):
        return np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=dtype), (n,)))

    step, cost = flat(outputs["step_time_s"], np.float64), flat(outputs["cost_usd"], np.float64)
    return pl.DataFrame({
        "row": rows, "config_id": block.start + rows, "scenario_id": flat(scenario, np.int64),
        "strategy": flat(strategy, np.int64), "tp": flat(_gather(values["tp"], index), np.float64),
        "pp": flat(_gather(values["pp"], index), np.float64),
        "feasible": flat(outputs["feasible"], bool),
        "infeasible_flags": flat(outputs["infeasible_flags"], np.int64),
        "step_time_s": step, "memory_total_bytes": flat(outputs["memory_total_bytes"], np.float64),
        "cost_usd": cost, "model": flat(model, np.int64),
        "cost_rate": np.nan_to_num(cost / step, nan=0.0),
    })


def _flag_counts(flags: np.ndarray, size: int) -> dict[int, int]:
    """Counts of each flag value over a block of ``size``, from its sub-product."""
    each = size // max(flags.size, 1)
    values, counts = np.unique(flags, return_counts=True)
    return {int(v): int(c) * each for v, c in zip(values, counts, strict=True)}


def _flat_sub(arrays: list, shape: tuple[int, ...]) -> tuple[list[np.ndarray], np.ndarray]:
    """``arrays`` broadcast to their common sub-product of a block of ``shape``, flat, and
    the block position of each element (the lowest config_id it stands for)."""
    sub = np.broadcast_shapes(*(np.shape(a) for a in arrays), (1,) * len(shape))
    strides = np.cumprod((1, *shape[:0:-1]))[::-1]
    rows = sum(np.arange(n, dtype=np.int64).reshape([n if j == k else 1 for j in range(len(sub))])
               * int(strides[k]) for k, n in enumerate(sub) if n > 1)
    flat = [np.broadcast_to(a, sub).ravel() for a in arrays]
    return flat, np.broadcast_to(np.asarray(rows, dtype=np.int64), sub).ravel()


def _representatives(grid, block, values, flags, memory) -> pl.DataFrame:
    """Key rows of the closest-row candidates: per (scenario, strategy), the infeasible
    element of the sub-product that sorts first by (not memory-only, memory, config_id),
    the order of :func:`trainplan.sweep.summaries.reduce` (NaN memory sorts last in both).
    Configurations sharing an element and a scenario share their flags and memory; the
    first of them is the one the exhaustive arg-min picks."""
    strategy = fe.strategy_index(*(values[k] for k in ("dp", "tp", "pp", "cp", "ep")))
    scenario = grid.axis_code(block, grid.sweep.scenario)
    (flag, mem, strat, scen), rows = _flat_sub([flags, memory, strategy, scenario],
                                               grid.block_shape(block))
    group = scen.astype(np.int64) * (int(strat.max(initial=0)) + 1) + strat
    keep = (flag != 0) & ~np.isin(group, group[flag == 0])     # groups with none feasible
    flag, mem, rows, group = flag[keep], mem[keep], rows[keep], group[keep]
    order = np.lexsort((rows, mem, flag != int(fe.MEMORY), group))
    first = order[np.unique(group[order], return_index=True)[1]]
    index = np.unravel_index(rows[first], grid.block_shape(block))
    n = len(first)
    nan = np.full(n, np.nan)
    outputs = {"step_time_s": nan, "cost_usd": nan, "feasible": np.zeros(n, bool),
               "infeasible_flags": flag[first], "memory_total_bytes": mem[first]}
    return _keys(grid, block, values, rows[first], index, outputs)


def prune_block(grid: Grid, block: Block) -> tuple[pl.DataFrame, dict[int, int]] | None:
    """``(keys, flag_counts)`` of a block, or None when it must be evaluated exhaustively.

    ``keys`` holds the feasible configurations and the closest-row candidates in the
    columns of :func:`trainplan.sweep.grid.key_frame`."""
    values = grid.block_values(block)
    arrays = derive(values)
    if not grid.shape or not guaranteed_finite(arrays):
        return None
    values = model_values(values, arrays)
    with np.errstate(divide="ignore", invalid="ignore"):
        flags, memory = fe.early_flags(arrays)
    shape = grid.block_shape(block)
    survivors = np.flatnonzero(np.broadcast_to(flags == 0, shape)).astype(np.int64)
    keys = _Reducer()
    for start in range(0, len(survivors), EVAL_ROWS):
        rows = survivors[start:start + EVAL_ROWS]
        outputs = _flat_outputs(arrays, rows, shape)
        if outputs["infeasible_flags"].any():
            return None
        keys.add(_keys(grid, block, values, rows, np.unravel_index(rows, shape), outputs))
    keys.add(_representatives(grid, block, values, flags, memory))
    return keys.result(), _flag_counts(flags, block.size)


def picked_table(grid: Grid, block: Block, rows: np.ndarray) -> pl.DataFrame:
    """Full rows (keys, inputs, outputs) and the cost rate of the block positions ``rows``,
    evaluated as flat rows (``Block((), 0, grid.size)``: config ids of the whole grid)."""
    values = grid.block_values(block)
    arrays = derive(values)
    values = model_values(values, arrays)
    index = np.unravel_index(rows, grid.block_shape(block))
    outputs = _flat_outputs(arrays, rows, grid.block_shape(block))
    picked = {k: _gather(v, index) for k, v in values.items()}
    n = len(rows)
    scenario = _gather(grid.axis_code(block, grid.sweep.scenario), index)
    keys = [pl.Series("config_id", block.start + rows),
            pl.Series("scenario_id", np.broadcast_to(scenario, (n,)).astype(np.int64))]
    table = pl.DataFrame(keys + assemble(picked, outputs, (n,)))
    rate = np.nan_to_num(outputs["cost_usd"] / outputs["step_time_s"], nan=0.0)
    return table.with_columns(pl.Series("cost_rate", rate))


def _candidates(keys: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``keys`` some reduction picks, once each (the reductions are arg-mins
    and a Pareto filter, so reducing these gives what reducing all of ``keys`` gives)."""
    picked = summaries.reduce(keys).drop("kind")
    return picked.unique(subset=["config_id"], keep="first", maintain_order=True)


class _Reducer:
    """Key rows reduced to candidates whenever more than BUFFER_ROWS are held."""

    def __init__(self):
        self.frames: list[pl.DataFrame] = []
        self.held = 0

    def add(self, frame: pl.DataFrame) -> None:
        """Hold ``frame``; reduce what is held when it grows past BUFFER_ROWS."""
        self.frames.append(frame)
        self.held += frame.height
        if self.held > BUFFER_ROWS:
            self.frames = [self.result()]
            self.held = self.frames[0].height

    def result(self) -> pl.DataFrame:
        """The candidates of everything added."""
        return _candidates(pl.concat(self.frames))


def _exhaustive_keys(grid: Grid, blocks: list[Block]) -> tuple[pl.DataFrame, dict[int, int]]:
    """Keys and flag counts of blocks from the full evaluation of every configuration."""
    keys, counts = [], {}
    for block in blocks:
        values, outputs = grid.evaluate_block(block)
        frame = key_frame(grid, block, values, outputs)
        keys.append(_candidates(frame))
        _add(counts, _flag_counts(frame["infeasible_flags"].to_numpy(), block.size))
    return pl.concat(keys), counts


def _add(counts: dict[int, int], more: dict[int, int]) -> None:
    """Add ``more`` to the counts of each flag value."""
    for value, count in more.items():
        counts[value] = counts.get(value, 0) + count


def spans(blocks: list[Block], limit: int = SPAN_LIMIT) -> list[tuple[Block, list[Block]]]:
    """Consecutive blocks that differ only in their last fixed axis, merged into spans of at
    most ``limit`` configurations (screening is per call, so fewer calls cost less; the
    full model still runs on flat rows, EVAL_ROWS at a time). Each span with its blocks."""
    groups: list[list[Block]] = []
    for block in blocks:
        last = groups[-1][-1] if groups else None
        if (last is not None and block.prefix and block.prefix[:-1] == last.prefix[:-1]
                and block.prefix[-1] == last.prefix[-1] + 1
                and (len(groups[-1]) + 1) * block.size <= limit):
            groups[-1].append(block)
        else:
            groups.append([block])
    return [(Block(g[0].prefix, g[0].start, sum(b.size for b in g),
                   g[-1].prefix[-1] + 1 if len(g) > 1 else None), g) for g in groups]


def shard_candidates(grid: Grid, blocks: list[Block]) -> tuple[pl.DataFrame, dict[int, int]]:
    """The reduced candidate rows of a shard (what :func:`trainplan.sweep.summaries.reduce`
    gives on all of its configurations) and the counts of each flag value."""
    keys = _Reducer()
    counts: dict[int, int] = {}
    for span, members in spans(blocks):
        found = prune_block(grid, span) or _exhaustive_keys(grid, members)
        _add(counts, found[1])
        keys.add(found[0])
    # the last reduction runs on the full rows, as the exhaustive evaluation's does (it sorts
    # by the tables' labels, not by the keys' codes)
    ids = np.unique(keys.result()["config_id"].to_numpy())
    whole = Block((), 0, grid.size)
    return summaries.reduce(picked_table(grid, whole, ids)), counts
