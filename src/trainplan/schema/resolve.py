"""The one resolver: a table of configurations (or a grid's axes) -> checked model arrays.

:func:`resolve` turns a table of configurations (catalog names, user units, categorical
settings) into the numeric arrays :func:`trainplan.model.step.evaluate_arrays` takes, and
raises :class:`~trainplan.schema.inputs.InputError` naming the column, the row, the bad value
and what is allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from trainplan import catalog, units
from trainplan.model.collectives import ALGORITHM_NAMES
from trainplan.model.pipeline import SCHEDULE_NAMES
from trainplan.schema.inputs import INPUTS, RECOMPUTE_NAMES, Input, InputError


def catalog_model_values(entry: dict) -> dict:
    return {
        "n_layers": entry["n_layers"], "hidden": entry["hidden"], "n_heads": entry["n_heads"],
        "n_kv_heads": entry["n_kv_heads"], "ffn_hidden": entry["ffn_hidden"],
        "gated_mlp": entry["gated_mlp"], "vocab": entry["vocab"],
        "tied_embeddings": entry["tied_embeddings"], "linear_bias": entry["linear_bias"],
        "position_embedding": entry["position_embedding"], "norm": entry["norm"],
        "dropout": entry["dropout"], "seq_len": entry["default_seq_len"],
    }


def gpu_defaults(entry: dict) -> dict:
    """Hardware input values the GPU catalog supplies."""
    return {
        "memory_gib": float(entry["memory_gib"]),
        "scaleup_gbyte_s": float(entry["scaleup_gbyte_s"]),
        "scaleup_domain_gpus": int(entry["scaleup_domain_gpus"]),
        "gpus_per_node": int(entry["gpus_per_node"]),
        "scaleout_gbit_s_per_node": float(entry["nics_per_node"]) * float(entry["nic_gbit_s"]),
        "gemm_efficiency_16bit": float(entry["gemm_efficiency_16bit"]),
        "gemm_efficiency_fp8": float(entry["gemm_efficiency_fp8"] or "nan"),
        "attention_efficiency": float(entry["attention_efficiency"]),
        "sm_count": float(entry["sm_count"]),
        "price_per_gpu_hour_usd": float(entry["price_per_gpu_hour_usd"]),
    }


HIDDEN_HARDWARE = ("peak_bf16_flop_s", "peak_fp16_flop_s", "peak_fp8_flop_s", "hbm_byte_s",
                   "tdp_w", "scaleup_mesh", "scaleup_peer_fraction")


def gpu_constants(entry: dict) -> dict:
    """Accelerator properties that are not user inputs (peaks, HBM, power, fabric shape)."""
    def peak(key):
        value = entry[key]
        return float(value) * units.TERA if value is not None else float("nan")

    return {
        "peak_bf16_flop_s": peak("bf16_tflop_s"),
        "peak_fp16_flop_s": peak("fp16_tflop_s"),
        "peak_fp8_flop_s": peak("fp8_tflop_s"),
        "hbm_byte_s": float(entry["hbm_gbyte_s"]) * units.GIGA,
        "tdp_w": float(entry["tdp_w"]),
        "scaleup_mesh": entry["scaleup_topology"] == "mesh",
        "scaleup_peer_fraction": float(entry["scaleup_peer_gbyte_s"])
        / float(entry["scaleup_gbyte_s"]),
    }


def _raise(col: str, row: int | None, value: Any, allowed: str, where: str = "") -> None:
    loc = f"row {row}: " if row is not None else ""
    raise InputError(f"{where}{loc}column {col!r} has value {value!r}; allowed: {allowed}")


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _first_row(series: pl.Series, value: Any) -> int:
    return int(np.flatnonzero((series == value).fill_null(False).to_numpy())[0])


def _coalesce_join(df: pl.DataFrame, lookup: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """Left-join ``lookup`` on ``on``; user-given cells win over catalog values.

    Where the user column and the catalog column differ in type, both become
    text; the checks of :func:`_column` then convert and validate them.
    """
    catalog_cols = [c for c in lookup.columns if c not in on]
    renamed = lookup.rename({c: f"__cat_{c}" for c in catalog_cols})
    joined = df.with_row_index("__row").join(renamed, on=on, how="left").sort("__row")
    exprs = []
    for c in catalog_cols:
        cat = pl.col(f"__cat_{c}")
        if c in df.columns and df[c].dtype != pl.Null:
            if df[c].dtype == lookup[c].dtype:
                exprs.append(pl.coalesce(pl.col(c), cat).alias(c))
            else:
                exprs.append(pl.coalesce(pl.col(c).cast(pl.Utf8), cat.cast(pl.Utf8)).alias(c))
        else:
            exprs.append(cat.alias(c))
    out = joined.with_columns(exprs)
    return out.drop(["__row", *[f"__cat_{c}" for c in catalog_cols]])


def _fill_from_catalog(df: pl.DataFrame, where: str) -> pl.DataFrame:
    """Fill blank architecture and hardware columns from the model and GPU catalogs.

    Catalog look-ups run once per distinct name, then join: a million rows
    naming three models cost three look-ups.
    """
    if "model" in df.columns and df["model"].dtype != pl.Null:
        names = df["model"].cast(pl.Utf8)
        df = df.with_columns(names.alias("model"))
        records = []
        for name in names.drop_nulls().unique().sort().to_list():
            if name == "":
                continue
            try:
                entry = catalog.model(name)
            except catalog.UnknownNameError as err:
                raise InputError(f"{where}row {_first_row(names, name)}: column 'model': "
                                 f"{err}") from None
            records.append({"model": name, "__canonical": entry["name"],
                            **catalog_model_values(entry)})
        if records:
            df = _coalesce_join(df, pl.DataFrame(records, infer_schema_length=None), ["model"])
            df = df.with_columns(pl.coalesce("__canonical", "model").alias("model")).drop(
                "__canonical")
    if "gpu" not in df.columns:
        raise InputError(f"{where}column 'gpu' is required; known GPUs: "
                         f"{', '.join(catalog.gpu_names())}")
    gpus = df["gpu"].cast(pl.Utf8)
    if gpus.null_count():
        _raise("gpu", int(np.flatnonzero(gpus.is_null().to_numpy())[0]), None,
               ", ".join(catalog.gpu_names()), where)
    records = []
    for name in gpus.unique().sort().to_list():
        try:
            entry = catalog.gpu(name)
        except catalog.UnknownNameError as err:
            raise InputError(f"{where}row {_first_row(gpus, name)}: column 'gpu': {err}") \
                from None
        records.append({"gpu": name, "__canonical": entry["name"], **gpu_defaults(entry),
                        **gpu_constants(entry)})
    df = _coalesce_join(df.with_columns(gpus.alias("gpu")),
                        pl.DataFrame(records, infer_schema_length=None), ["gpu"])
    return df.with_columns(pl.col("__canonical").alias("gpu")).drop("__canonical")


_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False,
               "on": True, "off": False, "1.0": True, "0.0": False}


def _column(df: pl.DataFrame, spec: Input, where: str) -> np.ndarray:
    n = df.height
    if spec.name not in df.columns or df[spec.name].null_count() == n:
        if spec.default is None:
            raise InputError(f"{where}column {spec.name!r} is required ({spec.description})")
        series = pl.Series(spec.name, [spec.default] * n)
    else:
        series = df[spec.name]
        if series.null_count():
            if spec.default is None:
                row = _first_bad(series.is_null().to_numpy())
                _raise(spec.name, row, None, f"a value ({spec.description})", where)
            series = series.fill_null(pl.lit(spec.default))
    if spec.kind == "choice":
        words = series.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
        bad = ~words.is_in(list(spec.choices)).to_numpy()
        if bad.any():
            row = _first_bad(bad)
            _raise(spec.name, row, series[row], ", ".join(spec.choices), where)
        return words.to_numpy().astype(object)
    if spec.kind == "bool":
        if series.dtype == pl.Boolean:
            return series.to_numpy().astype(bool)
        words = series.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
        mapped = words.replace_strict(_BOOL_WORDS, default=None, return_dtype=pl.Boolean)
        if mapped.null_count():
            row = _first_bad(mapped.is_null().to_numpy())
            _raise(spec.name, row, series[row], "true or false", where)
        return mapped.to_numpy().astype(bool)
    if series.dtype == pl.Boolean:
        _raise(spec.name, 0, series[0], f"a number ({spec.unit})", where)
    converted = series.cast(pl.Float64, strict=False)
    unconvertible = (converted.is_null() & series.is_not_null()).to_numpy()
    if unconvertible.any():
        row = _first_bad(unconvertible)
        _raise(spec.name, row, series[row], f"a number ({spec.unit})", where)
    arr = converted.to_numpy().astype(np.float64)
    finite = np.isfinite(arr)
    optional_nan = isinstance(spec.default, float) and np.isnan(spec.default)
    bad = ~finite & ~(optional_nan & np.isnan(arr))
    if spec.kind == "int":
        bad = bad | (finite & (np.floor(arr) != arr))
    if bad.any():
        row = _first_bad(bad)
        _raise(spec.name, row, series[row], "a whole number" if spec.kind == "int"
               else f"a finite number ({spec.unit})", where)
    low = spec.minimum if spec.minimum is not None else -np.inf
    high = spec.maximum if spec.maximum is not None else np.inf
    bad = finite & ((arr < low) | (arr > high))
    if bad.any():
        row = _first_bad(bad)
        rng = " and ".join(part for part in (
            f">= {spec.minimum:g}" if spec.minimum is not None else "",
            f"<= {spec.maximum:g}" if spec.maximum is not None else "") if part)
        _raise(spec.name, row, series[row], f"a number {rng} ({spec.unit})", where)
    return arr


def _codes(words: np.ndarray, mapping: dict[str, int]) -> np.ndarray:
    """Integer codes of validated category words."""
    uniques, inverse = np.unique(words.astype(str), return_inverse=True)
    return np.array([mapping[u] for u in uniques], dtype=np.int64)[inverse].reshape(words.shape)


def normalize_table(df: pl.DataFrame, where: str = "") -> dict[str, np.ndarray]:
    """Check every input column of ``df`` (catalog names expanded, defaults filled) and return
    1-D arrays in the user's units: numbers as float64, booleans as bool, categories as
    lower-case strings, plus the accelerator constants. ``dp`` and ``n_gpus`` may be NaN
    where not given."""
    if df.height == 0:
        raise InputError(f"{where}no configurations to evaluate (the table is empty)")
    df = _fill_from_catalog(df, where)
    values: dict[str, np.ndarray] = {}
    for spec in INPUTS:
        if spec.kind == "name":
            if spec.name in df.columns:
                values[spec.name] = df[spec.name].cast(pl.Utf8).fill_null("").to_numpy(
                ).astype(object)
            else:
                values[spec.name] = np.full(df.height, "", dtype=object)
            continue
        if spec.name in ("dp", "n_gpus"):
            continue
        values[spec.name] = _column(df, spec, where)
    has_dp = "dp" in df.columns and df["dp"].null_count() < df.height
    has_n = "n_gpus" in df.columns and df["n_gpus"].null_count() < df.height
    if not has_dp and not has_n:
        raise InputError(f"{where}give column 'n_gpus' or 'dp' (data-parallel degree)")
    for name, present in (("n_gpus", has_n), ("dp", has_dp)):
        if not present:
            values[name] = np.full(df.height, np.nan)
            continue
        series = df[name]
        arr = series.cast(pl.Float64, strict=False).to_numpy().astype(np.float64)
        bad = (series.is_not_null().to_numpy() & ~np.isfinite(arr)) | (
            np.isfinite(arr) & ((arr < 1) | (np.floor(arr) != arr)))
        if bad.any():
            row = _first_bad(bad)
            _raise(name, row, series[row], "a whole number >= 1", where)
        values[name] = arr
    missing = np.isnan(values["dp"]) & np.isnan(values["n_gpus"])
    if missing.any():
        row = _first_bad(missing)
        raise InputError(f"{where}row {row}: give 'n_gpus' or 'dp' (data-parallel degree)")
    for key in HIDDEN_HARDWARE:
        values[key] = df[key].to_numpy()
    return values


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
    skip = {"precision", "recompute", "schedule", "dp_algorithm", "tp_algorithm",
            "position_embedding", "norm", "memory_gib", "scaleup_gbyte_s",
            "scaleout_gbit_s_per_node", "gpus_per_node", "model", "gpu", "dp", "n_gpus",
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
    for key in ("dp_algorithm", "tp_algorithm"):
        arrays[key] = _codes(np.asarray(values[key], dtype=object), ALGORITHM_NAMES)
    position = np.asarray(values["position_embedding"], dtype=object)
    arrays["learned_positions"] = position == "learned"
    arrays["rotary"] = position == "rope"
    arrays["layernorm"] = np.asarray(values["norm"], dtype=object) == "layernorm"
    arrays["memory_capacity_bytes"] = units.gib_to_bytes(values["memory_gib"])
    arrays["scaleup_byte_s"] = units.gbyte_s_to_byte_s(values["scaleup_gbyte_s"])
    arrays["nic_byte_s_per_gpu"] = units.gbit_s_to_byte_s(
        values["scaleout_gbit_s_per_node"]) / np.asarray(values["gpus_per_node"], dtype=f)
    arrays["scaleup_mesh"] = np.asarray(values["scaleup_mesh"]).astype(bool)
    arrays["scaleup_peer_byte_s"] = arrays["scaleup_byte_s"] * np.asarray(
        values["scaleup_peer_fraction"], dtype=f)
    return arrays


def input_table(values: dict[str, np.ndarray], arrays: dict[str, np.ndarray]) -> pl.DataFrame:
    """The input columns as the output tables carry them (defaults and catalog values filled,
    ``dp``, ``n_gpus`` and ``schedule`` resolved); 1-D ``values`` only."""
    table = {}
    for spec in INPUTS:
        if spec.name == "schedule":
            codes = arrays["schedule"]
            names = np.array(list(SCHEDULE_NAMES), dtype=object)[codes]
            table[spec.name] = pl.Series(spec.name, names.astype(str), dtype=pl.Utf8)
            continue
        v = arrays[spec.name] if spec.name in ("dp", "n_gpus") else values[spec.name]
        if spec.kind in ("choice", "name"):
            table[spec.name] = pl.Series(spec.name, np.asarray(v).astype(str), dtype=pl.Utf8)
        elif spec.kind == "bool":
            table[spec.name] = pl.Series(spec.name, np.asarray(v).astype(bool))
        else:
            table[spec.name] = pl.Series(spec.name, np.asarray(v, dtype=np.float64))
    return pl.DataFrame(table)


def resolve(df: pl.DataFrame, where: str = "") -> tuple[dict[str, np.ndarray], pl.DataFrame]:
    """Check ``df`` and turn it into model arrays.

    Returns ``(arrays, inputs)``: the numeric arrays for
    :func:`~trainplan.model.step.evaluate_arrays` and the input table with
    every default and catalog value filled in (what the output tables carry).
    ``where`` prefixes error messages (e.g. the file name).
    """
    values = normalize_table(df, where)
    arrays = derive(values)
    return arrays, input_table(values, arrays)
