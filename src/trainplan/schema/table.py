"""Evaluate a table of configurations: one row in, the same row with every output out."""

from __future__ import annotations

import numpy as np
import polars as pl

from trainplan.model import feasibility as fe
from trainplan.model.step import BOTTLENECKS, bottleneck_code, evaluate_arrays
from trainplan.schema.outputs import OUTPUT_COLUMNS
from trainplan.schema.resolve import resolve

__all__ = ["evaluate", "evaluate_resolved"]

CHUNK_ROWS = 65_536
"""Rows evaluated at once by :func:`evaluate` (results do not depend on it)."""


def evaluate_numeric(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Model outputs and the feasibility flags, without the text labels (cheap on grids)."""
    with np.errstate(divide="ignore", invalid="ignore"):   # zero bandwidths: flagged rows
        out = evaluate_arrays(arrays).as_dict()
    out["feasible"] = out["infeasible_flags"] == 0
    return out


def add_labels(out: dict[str, np.ndarray], dp, tp, pp, cp) -> dict[str, np.ndarray]:
    """Add ``strategy``, ``reason`` and ``bottleneck`` to (a selection of) outputs; ``dp``,
    ``tp``, ``pp``, ``cp`` must broadcast against them."""
    flags = out["infeasible_flags"]
    shape = np.shape(flags)
    out["strategy"] = np.broadcast_to(fe.strategy_label(dp, tp, pp, cp), shape)
    out["reason"] = fe.reason_text(flags)
    out["bottleneck"] = np.array(BOTTLENECKS, dtype=object)[bottleneck_code(out)]
    return out


def evaluate_resolved(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Model outputs plus the derived labels (strategy, feasibility, reason, bottleneck)."""
    out = evaluate_numeric(arrays)
    return add_labels(out, arrays["dp"], arrays["tp"], arrays["pp"], arrays["cp"])


def evaluate(configs: pl.DataFrame, where: str = "") -> pl.DataFrame:
    """Evaluate every row of ``configs`` and return the inputs (defaults filled in) with all
    output columns appended (units in their names; see :mod:`trainplan.outputs`).

    Columns of ``configs`` that are not inputs are carried through unchanged
    at the front. Raises :class:`trainplan.inputs.InputError` on bad input.
    """
    arrays, inputs = resolve(configs, where)
    n = inputs.height
    if n <= CHUNK_ROWS:
        out = evaluate_resolved(arrays)
    else:  # bounded memory and cache-sized arrays for big tables
        parts = []
        for start in range(0, n, CHUNK_ROWS):
            chunk = {k: (v[start:start + CHUNK_ROWS] if np.ndim(v) == 1 and len(v) == n else v)
                     for k, v in arrays.items()}
            parts.append(evaluate_resolved(chunk))
        out = {k: np.concatenate([np.ravel(p[k]) for p in parts]) for k in parts[0]}
    passthrough = [c for c in configs.columns if c not in inputs.columns]
    columns = [configs[c] for c in passthrough]
    columns += [inputs[c] for c in inputs.columns]
    for name in OUTPUT_COLUMNS:
        values = out[name]
        if values.dtype == object:
            columns.append(pl.Series(name, values.astype(str), dtype=pl.Utf8))
        else:
            columns.append(pl.Series(name, np.ascontiguousarray(values)))
    return pl.DataFrame(columns)
