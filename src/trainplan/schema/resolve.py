"""The one resolver: configurations given on the axes of a grid -> checked model arrays.

A sweep's grid and a table of configurations are resolved the same way: a table is a grid
with one axis (its rows). The inputs arrive as *frames*, each holding the columns that vary
along one axis (``None``: the constants); :func:`resolve_frames` fills blank catalog
columns, checks every input against :data:`~trainplan.schema.inputs.INPUTS` (raising
:class:`~trainplan.schema.inputs.InputError` naming the file, the row or value, the column,
the bad value and what is allowed) and places each column on its axis, so that the arrays
broadcast to the grid's shape. :func:`derive` then converts them to the arrays
:func:`trainplan.model.step.evaluate_arrays` takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from trainplan import units
from trainplan.model.collectives import ALGORITHM_NAMES
from trainplan.model.kernels import FP8_RECIPES
from trainplan.model.pipeline import SCHEDULE_NAMES
from trainplan.schema.catalog_fill import (
    HIDDEN_HARDWARE,
    fill_frameworks,
    fill_gpus,
    fill_models,
)
from trainplan.schema.inputs import INPUTS, RECOMPUTE_NAMES, Input, InputError

Frame = tuple[pl.DataFrame, "int | None"]
"""Columns that vary along one grid axis (``None``: constants, a frame of one row)."""


def _raise(col: str, item: str, row: int | None, value: Any, allowed: str,
           where: str = "") -> None:
    """Raise the one-line InputError for a bad cell."""
    loc = f"{item} {row}: " if row is not None else ""
    raise InputError(f"{where}{loc}column {col!r} has value {value!r}; allowed: {allowed}")


def _first_bad(mask: np.ndarray) -> int:
    """Index of the first True."""
    return int(np.flatnonzero(mask)[0])


_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False,
               "on": True, "off": False, "1.0": True, "0.0": False}


def _filled(df: pl.DataFrame, spec: Input, where: str, item: str) -> pl.Series:
    """The column with blank cells set to the default (an error where there is none)."""
    n = df.height
    if spec.name not in df.columns or df[spec.name].null_count() == n:
        if spec.default is None:
            raise InputError(f"{where}column {spec.name!r} is required ({spec.description})")
        return pl.Series(spec.name, [spec.default] * n)
    series = df[spec.name]
    if series.null_count():
        if spec.default is None:
            row = _first_bad(series.is_null().to_numpy())
            _raise(spec.name, item, row, None, f"a value ({spec.description})", where)
        series = series.fill_null(pl.lit(spec.default))
    return series


def _check_choice(series: pl.Series, spec: Input, where: str, item: str) -> np.ndarray:
    """Lower-case words, each one of the allowed choices."""
    words = series.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
    bad = ~words.is_in(list(spec.choices)).to_numpy()
    if bad.any():
        row = _first_bad(bad)
        _raise(spec.name, item, row, series[row], ", ".join(spec.choices), where)
    return words.to_numpy().astype(object)


def _check_bool(series: pl.Series, spec: Input, where: str, item: str) -> np.ndarray:
    """Booleans, or words that mean true or false."""
    if series.dtype == pl.Boolean:
        return series.to_numpy().astype(bool)
    words = series.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
    mapped = words.replace_strict(_BOOL_WORDS, default=None, return_dtype=pl.Boolean)
    if mapped.null_count():
        row = _first_bad(mapped.is_null().to_numpy())
        _raise(spec.name, item, row, series[row], "true or false", where)
    return mapped.to_numpy().astype(bool)


def _check_number(series: pl.Series, spec: Input, where: str, item: str) -> np.ndarray:
    """Finite numbers (whole for integer inputs) within the input's bounds, as float64."""
    if series.dtype == pl.Boolean:
        _raise(spec.name, item, 0, series[0], f"a number ({spec.unit})", where)
    converted = series.cast(pl.Float64, strict=False)
    unconvertible = (converted.is_null() & series.is_not_null()).to_numpy()
    if unconvertible.any():
        row = _first_bad(unconvertible)
        _raise(spec.name, item, row, series[row], f"a number ({spec.unit})", where)
    arr = converted.to_numpy().astype(np.float64)
    finite = np.isfinite(arr)
    optional_nan = isinstance(spec.default, float) and np.isnan(spec.default)
    bad = ~finite & ~(optional_nan & np.isnan(arr))
    if spec.kind == "int":
        bad = bad | (finite & (np.floor(arr) != arr))
    if bad.any():
        row = _first_bad(bad)
        _raise(spec.name, item, row, series[row], "a whole number" if spec.kind == "int"
               else f"a finite number ({spec.unit})", where)
    low = spec.minimum if spec.minimum is not None else -np.inf
    high = spec.maximum if spec.maximum is not None else np.inf
    bad = finite & ((arr < low) | (arr > high))
    if bad.any():
        row = _first_bad(bad)
        rng = " and ".join(part for part in (
            f">= {spec.minimum:g}" if spec.minimum is not None else "",
            f"<= {spec.maximum:g}" if spec.maximum is not None else "") if part)
        _raise(spec.name, item, row, series[row], f"a number {rng} ({spec.unit})", where)
    return arr


def check_column(df: pl.DataFrame, spec: Input, where: str = "",
                 item: str = "row") -> np.ndarray:
    """Column ``spec.name`` of ``df`` checked against its input rule and converted: numbers
    as float64, booleans as bool, categories as lower-case strings; blank cells take the
    default. Raises :class:`InputError` naming the ``item`` (row or value), the column,
    the bad value and what is allowed."""
    series = _filled(df, spec, where, item)
    check = {"choice": _check_choice, "bool": _check_bool}.get(spec.kind, _check_number)
    return check(series, spec, where, item)


def _codes(words: np.ndarray, mapping: dict[str, int]) -> np.ndarray:
    """Integer codes of validated category words."""
    uniques, inverse = np.unique(words.astype(str), return_inverse=True)
    return np.array([mapping[u] for u in uniques], dtype=np.int64)[inverse].reshape(words.shape)


@dataclass
class Resolved:
    """Checked inputs in the user's units, each placed on its axis of a grid of ``ndim``
    axes (shape ``(1, .., n_k, .., 1)``; constants 0-d)."""

    ndim: int
    values: dict[str, np.ndarray] = field(default_factory=dict)
    axis_of: dict[str, int | None] = field(default_factory=dict)

    def place(self, column: str, array: Any, axis: int | None) -> None:
        """Store ``array`` as column ``column`` along ``axis``."""
        if axis is None:
            self.values[column] = np.asarray(array).reshape(())
        else:
            shape = [1] * self.ndim
            shape[axis] = -1
            self.values[column] = np.asarray(array).reshape(shape)
        self.axis_of[column] = axis


def _holding(frames: list[Frame], column: str) -> Frame | None:
    """The frame that gives ``column`` (not entirely blank), if any."""
    for df, axis in frames:
        if column in df.columns and df[column].null_count() < df.height:
            return df, axis
    return None


def _fill_catalogs(frames: list[Frame], where: str, item: str) -> list[Frame]:
    """Catalog values for the frames naming a model or a GPU."""
    out = []
    for df, axis in frames:
        elsewhere = {c for other, _ in frames if other is not df for c in other.columns}
        if "model" in df.columns:
            df = fill_models(df, where, item, elsewhere)
        if "gpu" in df.columns:
            df = fill_gpus(df, where, item, elsewhere)
        if "framework" in df.columns:
            df = fill_frameworks(df, where, item, elsewhere)
        out.append((df, axis))
    if _holding(out, "gpu") is None:
        from trainplan import catalog
        raise InputError(f"{where}column 'gpu' is required; known GPUs: "
                         f"{', '.join(catalog.gpu_names())}")
    return out


def _degrees(resolved: Resolved, frames: list[Frame], where: str, item: str) -> None:
    """``n_gpus`` and ``dp``: whole numbers >= 1 where given, NaN where left to derive."""
    present = {}
    for name in ("n_gpus", "dp"):
        given = _holding(frames, name)
        present[name] = given is not None
        if given is None:
            resolved.place(name, np.nan, None)
            continue
        df, axis = given
        series = df[name]
        arr = series.cast(pl.Float64, strict=False).to_numpy().astype(np.float64)
        bad = (series.is_not_null().to_numpy() & ~np.isfinite(arr)) | (
            np.isfinite(arr) & ((arr < 1) | (np.floor(arr) != arr)))
        if bad.any():
            row = _first_bad(bad)
            _raise(name, item, row, series[row], "a whole number >= 1", where)
        resolved.place(name, arr, axis)
    if not any(present.values()):
        raise InputError(f"{where}give column 'n_gpus' or 'dp' (data-parallel degree)")
    missing = np.isnan(resolved.values["dp"]) & np.isnan(resolved.values["n_gpus"])
    if missing.any():
        row = _first_bad(np.ravel(missing))
        raise InputError(f"{where}{item} {row}: give 'n_gpus' or 'dp' (data-parallel degree)")


def _global_batch_from_tokens(resolved: Resolved, frames: list[Frame], where: str,
                              item: str) -> bool:
    """``global_batch`` from ``global_batch_tokens`` and ``seq_len`` when given that way."""
    given = _holding(frames, "global_batch_tokens")
    if given is None or _holding(frames, "global_batch") is not None:
        return False
    df, axis = given
    tokens = df["global_batch_tokens"].cast(pl.Float64, strict=False).to_numpy()
    bad = ~np.isfinite(tokens) | (tokens <= 0)
    if bad.any():
        row = _first_bad(bad)
        _raise("global_batch_tokens", item, row, df["global_batch_tokens"][row],
               "a finite number > 0 (tokens)", where)
    shape = [1] * resolved.ndim
    if axis is not None:
        shape[axis] = -1
    resolved.values["global_batch"] = tokens.reshape(shape) / resolved.values["seq_len"]
    resolved.axis_of["global_batch"] = None     # derived: carries the axes it depends on
    return True


def resolve_frames(frames: list[Frame], ndim: int, where: str = "",
                   item: str = "row") -> Resolved:
    """Check every input given by ``frames`` (catalog values filled, defaults applied) and
    place it on its axis; see the module docstring. ``where`` prefixes error messages
    (e.g. the file name) and ``item`` names what an index counts (``row`` or ``value``)."""
    frames = _fill_catalogs(frames, where, item)
    resolved = Resolved(ndim)
    for spec in INPUTS:
        given = _holding(frames, spec.name)
        if spec.kind == "name":
            if given is None:
                resolved.place(spec.name, "", None)
            else:
                df, axis = given
                names = df[spec.name].cast(pl.Utf8).fill_null("").to_numpy().astype(object)
                resolved.place(spec.name, names, axis)
            continue
        if spec.name in ("dp", "n_gpus"):
            continue
        if spec.name == "global_batch" and _global_batch_from_tokens(resolved, frames, where,
                                                                     item):
            continue
        df, axis = given if given is not None else (pl.DataFrame({spec.name: [None]}), None)
        resolved.place(spec.name, check_column(df, spec, where, item), axis)
    _degrees(resolved, frames, where, item)
    df, axis = _holding(frames, "gpu")
    for key in HIDDEN_HARDWARE:
        resolved.place(key, df[key].to_numpy(), axis)
    return resolved


def derive(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Model arrays from normalized input values; broadcasting (works on grid axes too).

    Fills ``dp`` (``n_gpus / (tp pp cp)``) and ``n_gpus`` (``tp pp cp dp``), resolves
    ``schedule: auto``, turns categories into codes and converts units.
    """
    f = np.float64
    tp, pp, cp = (np.asarray(values[k], dtype=f) for k in ("tp", "pp", "cp"))
    dp_in = np.asarray(values.get("dp", np.nan), dtype=f)
    n_in = np.asarray(values.get("n_gpus", np.nan), dtype=f)
    dp = np.where(np.isnan(dp_in), n_in / (tp * pp * cp), dp_in)
    n_gpus = np.where(np.isnan(n_in), tp * pp * cp * dp, n_in)
    vpp = np.asarray(values["vpp"], dtype=f)
    schedule = np.asarray(values["schedule"], dtype=object)
    schedule = np.where(schedule == "auto", np.where(vpp > 1, "interleaved", "1f1b"), schedule)
    skip = {"precision", "recompute", "schedule", "dp_algorithm", "tp_algorithm", "fp8_recipe",
            "position_embedding", "norm", "moe_dispatcher", "memory_gib", "scaleup_gbyte_s",
            "host_link_gbyte_s",
            "scaleout_gbit_s_per_node", "gpus_per_node", "model", "gpu", "framework", "dp",
            "n_gpus",
            "peak_bf16_flop_s", "peak_fp16_flop_s", "scaleup_peer_fraction"}
    arrays = {k: np.asarray(v) for k, v in values.items() if k not in skip}
    precision = np.asarray(values["precision"], dtype=object)
    arrays["dp"], arrays["n_gpus"] = dp, n_gpus
    arrays["fp8"] = precision == "fp8"
    arrays["peak_16bit_flop_s"] = np.where(precision == "fp16",
                                           np.asarray(values["peak_fp16_flop_s"], dtype=f),
                                           np.asarray(values["peak_bf16_flop_s"], dtype=f))
    arrays["recompute"] = _codes(np.asarray(values["recompute"], dtype=object), RECOMPUTE_NAMES)
    arrays["schedule"] = _codes(schedule, SCHEDULE_NAMES)
    arrays["fp8_recipe"] = _codes(np.asarray(values["fp8_recipe"], dtype=object),
                                  {name: i for i, name in enumerate(FP8_RECIPES)})
    arrays["moe_deepep"] = np.asarray(values.get("moe_dispatcher", "alltoall"),
                                      dtype=object) == "deepep"
    for key in ("dp_algorithm", "tp_algorithm"):
        arrays[key] = _codes(np.asarray(values[key], dtype=object), ALGORITHM_NAMES)
    position = np.asarray(values["position_embedding"], dtype=object)
    arrays["learned_positions"] = position == "learned"
    arrays["rotary"] = position == "rope"
    arrays["layernorm"] = np.asarray(values["norm"], dtype=object) == "layernorm"
    arrays["memory_capacity_bytes"] = units.gib_to_bytes(values["memory_gib"])
    arrays["scaleup_byte_s"] = units.gbyte_s_to_byte_s(values["scaleup_gbyte_s"])
    arrays["host_link_byte_s"] = units.gbyte_s_to_byte_s(values["host_link_gbyte_s"])
    arrays["nic_byte_s_per_gpu"] = units.gbit_s_to_byte_s(
        values["scaleout_gbit_s_per_node"]) / np.asarray(values["gpus_per_node"], dtype=f)
    arrays["scaleout_gbit_s_per_gpu"] = np.asarray(values["scaleout_gbit_s_per_node"], dtype=f) \
        / np.asarray(values["gpus_per_node"], dtype=f)
    arrays["scaleup_mesh"] = np.asarray(values["scaleup_mesh"]).astype(bool)
    arrays["scaleup_peer_byte_s"] = arrays["scaleup_byte_s"] * np.asarray(
        values["scaleup_peer_fraction"], dtype=f)
    return arrays
