"""Evaluate configurations and assemble the output table: the one column assembler.

:func:`evaluate` takes a table, one configuration per row (a grid with one axis), and
returns the same rows with every input filled in and every output appended.
:func:`assemble` builds the input and output columns of any selection of a broadcast
grid; the sweep engine uses it for its blocks, so every table trainplan writes has the
same columns, order and types (:data:`trainplan.schema.inputs.INPUTS` order, then
:data:`trainplan.schema.outputs.OUTPUT_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from trainplan.model import feasibility as fe
from trainplan.model.pipeline import SCHEDULE_NAMES
from trainplan.model.step import BOTTLENECKS, bottleneck_code, evaluate_arrays
from trainplan.schema.inputs import INPUTS, InputError
from trainplan.schema.outputs import OUTPUT_COLUMNS, STRING_OUTPUTS
from trainplan.schema.resolve import Resolved, derive, resolve_frames

__all__ = ["assemble", "evaluate", "evaluate_numeric", "resolve"]

CHUNK_ROWS = 65_536
"""Rows evaluated at once by :func:`evaluate` (results do not depend on it)."""


def resolve(configs: pl.DataFrame, where: str = "") -> Resolved:
    """Check a table of configurations: a grid with one axis, its rows."""
    if configs.height == 0:
        raise InputError(f"{where}no configurations to evaluate (the table is empty)")
    return resolve_frames([(configs, 0)], 1, where, "row")


def evaluate_numeric(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Model outputs and the feasibility flags, without the text labels (cheap on grids)."""
    with np.errstate(divide="ignore", invalid="ignore"):   # zero bandwidths: flagged rows
        out = evaluate_arrays(arrays).as_dict()
    out["feasible"] = out["infeasible_flags"] == 0
    return out


def model_values(values: Mapping[str, np.ndarray],
                 arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The input values the tables carry: the user's values with ``dp``, ``n_gpus`` and the
    schedule resolved by :func:`~trainplan.schema.resolve.derive`."""
    return {**values, "dp": arrays["dp"], "n_gpus": arrays["n_gpus"],
            "schedule_code": arrays["schedule"]}


def _strings(name: str, labels, codes: np.ndarray) -> pl.Series:
    """A string column from a few labels and an index per row (gathered in Rust)."""
    return pl.Series(name, [str(x) for x in labels], dtype=pl.String).gather(
        np.asarray(codes, dtype=np.int64))


def _integers(name: str, values: np.ndarray) -> pl.Series:
    """An Int64 column; null where the value is not a whole number (e.g. dp = n_gpus/(tp pp
    cp) when that does not divide)."""
    whole = np.isfinite(values) & (np.floor(values) == values)
    return pl.Series(name, np.where(whole, values, np.nan)).cast(pl.Int64, strict=False)


def _input_columns(values: Mapping[str, np.ndarray], pick) -> list[pl.Series]:
    """The input columns in INPUTS order, typed as declared."""
    columns = []
    for spec in INPUTS:
        name = spec.name
        if name == "schedule":
            columns.append(_strings(name, list(SCHEDULE_NAMES), pick(values["schedule_code"])))
            continue
        array = values[name]
        if spec.kind in ("choice", "name"):
            labels, codes = np.unique(np.asarray(array, dtype=object).astype(str),
                                      return_inverse=True)
            columns.append(_strings(name, labels, pick(codes.reshape(np.shape(array)))))
        elif spec.kind == "bool":
            columns.append(pl.Series(name, pick(np.asarray(array, dtype=bool))))
        elif spec.kind == "int":
            columns.append(_integers(name, pick(np.asarray(array, dtype=np.float64))))
        else:
            columns.append(pl.Series(name, pick(np.asarray(array, dtype=np.float64))))
    return columns


def _output_columns(values: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray],
                    pick) -> list[pl.Series]:
    """The output columns in OUTPUT_COLUMNS order, with the text labels."""
    flags = pick(outputs["infeasible_flags"])
    strategy = pick(fe.strategy_index(values["dp"], values["tp"], values["pp"], values["cp"],
                                     values.get("ep", 1)))
    picked = {name: pick(outputs[name]) for name in OUTPUT_COLUMNS if name not in STRING_OUTPUTS}
    bottleneck = bottleneck_code(picked)
    flag_values, flag_codes = np.unique(flags, return_inverse=True)
    columns = []
    for name in OUTPUT_COLUMNS:
        if name == "strategy":
            columns.append(_strings(name, fe.STRATEGY_LABELS, strategy))
        elif name == "reason":
            columns.append(_strings(name, fe.reason_text(flag_values), flag_codes))
        elif name == "bottleneck":
            columns.append(_strings(name, BOTTLENECKS, bottleneck))
        else:
            columns.append(pl.Series(name, picked[name]))
    return columns


def assemble(values: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray],
             shape: tuple[int, ...], rows: np.ndarray | None = None) -> list[pl.Series]:
    """Input and output columns of a broadcast grid of ``shape`` (or of its flat positions
    ``rows``): ``values`` from :func:`model_values`, ``outputs`` from
    :func:`evaluate_numeric`, both broadcastable to ``shape``."""
    def pick(array):
        flat = np.ascontiguousarray(np.broadcast_to(array, shape)).ravel()
        return flat if rows is None else flat[rows]

    return _input_columns(values, pick) + _output_columns(values, outputs, pick)


def _evaluate_chunked(arrays: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """:func:`evaluate_numeric` over ``n`` rows, CHUNK_ROWS at a time (bounded memory)."""
    if n <= CHUNK_ROWS:
        return evaluate_numeric(arrays)
    parts = []
    for start in range(0, n, CHUNK_ROWS):
        chunk = {k: (v[start:start + CHUNK_ROWS] if np.ndim(v) == 1 and len(v) == n else v)
                 for k, v in arrays.items()}
        parts.append(evaluate_numeric(chunk))
    return {k: np.concatenate([np.ravel(np.broadcast_to(p[k], (len(p["feasible"]),)))
                               for p in parts]) for k in parts[0]}


def evaluate(configs: pl.DataFrame, where: str = "") -> pl.DataFrame:
    """Evaluate every row of ``configs`` and return the inputs (defaults filled in) with all
    output columns appended (units in their names; see :mod:`trainplan.schema.outputs`).

    Columns of ``configs`` that are not inputs are carried through unchanged at the front.
    Raises :class:`trainplan.schema.inputs.InputError` on bad input.
    """
    resolved = resolve(configs, where)
    arrays = derive(resolved.values)
    n = configs.height
    outputs = _evaluate_chunked(arrays, n)
    columns = assemble(model_values(resolved.values, arrays), outputs, (n,))
    names = {c.name for c in columns}
    passthrough = [configs[c] for c in configs.columns if c not in names]
    return pl.DataFrame(passthrough + columns)
