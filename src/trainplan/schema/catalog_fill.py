"""Filling blank architecture and hardware inputs from the model and GPU catalogs.

A frame holds the columns that live on one axis of a grid (for a table: every column, on
its one axis). Catalog values fill the cells the user left blank, per cell: a user-given
value always wins. Look-ups run once per distinct name, then join: a million rows naming
three models cost three look-ups.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import polars as pl

from trainplan import catalog, units
from trainplan.schema.inputs import ARCH_COLUMNS, INPUT_BY_NAME, InputError

HIDDEN_HARDWARE = ("peak_bf16_flop_s", "peak_fp16_flop_s", "peak_fp8_flop_s", "hbm_byte_s",
                   "tdp_w", "scaleup_mesh", "scaleup_peer_fraction",
                   "attention_efficiency_portable")
"""Accelerator properties the model needs that are not user inputs."""


def catalog_model_values(entry: dict) -> dict:
    """Architecture inputs (and the default sequence length) of a model catalog entry."""
    values = {column: entry.get(column) for column in ARCH_COLUMNS}
    for column, value in values.items():     # the catalog reads a bare 0 or 1 as a boolean
        if isinstance(value, bool) and INPUT_BY_NAME[column].kind in ("int", "float"):
            values[column] = int(value)
    values["seq_len"] = entry["default_seq_len"]
    return values


def gpu_defaults(entry: dict) -> dict:
    """Hardware input values the GPU catalog supplies."""
    return {
        "memory_gib": float(entry["memory_gib"]),
        "scaleup_gbyte_s": float(entry["scaleup_gbyte_s"]),
        "scaleup_domain_gpus": int(entry["scaleup_domain_gpus"]),
        "gpus_per_node": int(entry["gpus_per_node"]),
        "scaleout_gbit_s_per_node": float(entry["nics_per_node"]) * float(entry["nic_gbit_s"]),
        "host_link_gbyte_s": float(entry["host_link_gbyte_s"]),
        "gemm_efficiency_16bit": float(entry["gemm_efficiency_16bit"]),
        "gemm_efficiency_fp8": float(entry["gemm_efficiency_fp8"] or "nan"),
        "attention_efficiency": float(entry["attention_efficiency"]),
        "sm_count": float(entry["sm_count"]),
        "price_per_gpu_hour_usd": float(entry["price_per_gpu_hour_usd"]),
    }


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
        "attention_efficiency_portable": float(entry["attention_efficiency_portable"]),
        "scaleup_mesh": entry["scaleup_topology"] == "mesh",
        "scaleup_peer_fraction": float(entry["scaleup_peer_gbyte_s"])
        / float(entry["scaleup_gbyte_s"]),
    }


def _first_row(series: pl.Series, value: Any) -> int:
    """First row of ``series`` equal to ``value``."""
    return int(np.flatnonzero((series == value).fill_null(False).to_numpy())[0])


def _coalesce_join(df: pl.DataFrame, lookup: pl.DataFrame, on: str) -> pl.DataFrame:
    """Left-join ``lookup`` on ``on``; user-given cells win over catalog values.

    Where the user column and the catalog column differ in type, both become text; the
    checks of :func:`trainplan.schema.resolve.check_column` then convert and validate them.
    """
    catalog_cols = [c for c in lookup.columns if c != on]
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


def _needs_catalog(df: pl.DataFrame, columns: Collection[str]) -> pl.Series:
    """Rows with at least one of ``columns`` blank (or absent)."""
    if any(c not in df.columns for c in columns):
        return pl.Series([True] * df.height)
    return df.select(pl.any_horizontal(pl.col(list(columns)).is_null())).to_series()


def fill_models(df: pl.DataFrame, where: str, item: str = "row",
                given_elsewhere: Collection[str] = ()) -> pl.DataFrame:
    """Fill blank architecture columns (and ``seq_len``) of ``df`` from the model catalog.

    A model name is looked up when it is a catalog entry, or when a row naming it leaves an
    architecture column blank (an unknown name is then an error). Names become the
    catalog's canonical names. Columns in ``given_elsewhere`` (set on another axis of a
    grid) are not filled.
    """
    if "model" not in df.columns or df["model"].dtype == pl.Null:
        return df
    names = df["model"].cast(pl.Utf8)
    df = df.with_columns(names.alias("model"))
    needs = _needs_catalog(df, ARCH_COLUMNS)
    records = []
    for name in names.drop_nulls().unique().sort().to_list():
        if name == "":
            continue
        entry = catalog.find_model(name)
        if entry is None:
            rows = (names == name).fill_null(False) & needs
            if not rows.any():
                continue
            row = int(np.flatnonzero(rows.to_numpy())[0])
            try:
                catalog.model(name)
            except catalog.UnknownNameError as err:
                raise InputError(f"{where}{item} {row}: column 'model': {err}") from None
        values = {k: v for k, v in catalog_model_values(entry).items()
                  if k not in given_elsewhere}
        records.append({"model": name, "__canonical": entry["name"], **values})
    if not records:
        return df
    df = _coalesce_join(df, pl.DataFrame(records, infer_schema_length=None), "model")
    return df.with_columns(pl.coalesce("__canonical", "model").alias("model")).drop(
        "__canonical")


def fill_gpus(df: pl.DataFrame, where: str, item: str = "row",
              given_elsewhere: Collection[str] = ()) -> pl.DataFrame:
    """Fill blank hardware columns of ``df`` from the GPU catalog and add the accelerator
    constants of :data:`HIDDEN_HARDWARE`; names become canonical. Columns in
    ``given_elsewhere`` are not filled."""
    gpus = df["gpu"].cast(pl.Utf8)
    if gpus.null_count():
        row = int(np.flatnonzero(gpus.is_null().to_numpy())[0])
        raise InputError(f"{where}{item} {row}: column 'gpu' has value None; allowed: "
                         f"{', '.join(catalog.gpu_names())}")
    records = []
    for name in gpus.unique().sort().to_list():
        try:
            entry = catalog.gpu(name)
        except catalog.UnknownNameError as err:
            raise InputError(f"{where}{item} {_first_row(gpus, name)}: column 'gpu': {err}") \
                from None
        defaults = {k: v for k, v in gpu_defaults(entry).items() if k not in given_elsewhere}
        records.append({"gpu": name, "__canonical": entry["name"], **defaults,
                        **gpu_constants(entry)})
    df = _coalesce_join(df.with_columns(gpus.alias("gpu")),
                        pl.DataFrame(records, infer_schema_length=None), "gpu")
    return df.with_columns(pl.col("__canonical").alias("gpu")).drop("__canonical")


FRAMEWORK_FLAGS = ("flash_attention", "overlap_grad_reduce", "overlap_param_gather",
                   "tp_comm_overlap", "tp_async_backward", "sharded_pipeline", "portable_attention",
                   "zero3_keep_gathered_with_pipeline", "fp8_param_gather",
                   "zero3_recompute_regather", "pipeline_split_by_cost", "selective_op_sac",
                   "fp32_sharded_params", "zero3_overlap")
"""Inputs a framework profile sets from what its software does (fused attention, overlaps)."""

FRAMEWORK_BYTES = ("grad_bytes_per_param", "grad_reduce_bytes_per_param",
                   "optimizer_bytes_per_param", "zero3_collectives_per_layer")
"""Inputs a framework profile sets from how it keeps and reduces gradients and optimizer
states; a value a run states itself (e.g. fp32 gradient accumulation) wins."""

FRAMEWORK_OPTIONAL = ("memory_reserve_fraction", "zero3_call_host_s")
"""Numbers a framework profile may set (a blank cell keeps the input's default): the
allocator reserve its launch scripts imply, the host time of its ZeRO-3 gather calls."""


FP8_RECIPE_OF_PROFILE = {"delayed tensorwise": "delayed", "current tensorwise": "current",
                         "rowwise": "rowwise", "mxfp8": "mxfp8"}
"""The ``fp8_recipe`` input of a framework profile's recipe ("none": the input default)."""


def framework_defaults(entry: dict) -> dict:
    """Input values of a framework catalog profile (:data:`FRAMEWORK_FLAGS`,
    :data:`FRAMEWORK_BYTES`, the :data:`FRAMEWORK_OPTIONAL` it fills, its FP8 recipe)."""
    values: dict[str, Any] = {key: bool(entry[key]) for key in FRAMEWORK_FLAGS}
    values.update({key: float(entry[key]) for key in FRAMEWORK_BYTES})
    values.update({key: float(entry[key]) for key in FRAMEWORK_OPTIONAL
                   if entry.get(key) is not None})
    recipe = FP8_RECIPE_OF_PROFILE.get(str(entry.get("fp8_recipe") or "").lower())
    if recipe is not None:
        values["fp8_recipe"] = recipe
    return values


def fill_frameworks(df: pl.DataFrame, where: str, item: str = "row",
                    given_elsewhere: Collection[str] = ()) -> pl.DataFrame:
    """Fill blank framework-profile columns (:data:`FRAMEWORK_FLAGS`, :data:`FRAMEWORK_BYTES`,
    :data:`FRAMEWORK_OPTIONAL`) of rows naming a framework; names become canonical, a blank
    name fills nothing. Columns in ``given_elsewhere`` are not filled; a value the
    configuration gives wins."""
    if "framework" not in df.columns or df["framework"].dtype == pl.Null:
        return df
    names = df["framework"].cast(pl.Utf8).fill_null("")
    records = []
    for name in names.unique().sort().to_list():
        if name == "":
            continue
        try:
            entry = catalog.framework(name)
        except catalog.UnknownNameError as err:
            raise InputError(f"{where}{item} {_first_row(names, name)}: column 'framework': "
                             f"{err}") from None
        values = {k: v for k, v in framework_defaults(entry).items() if k not in given_elsewhere}
        records.append({"framework": name, "__canonical": entry["name"], **values})
    if not records:
        return df.with_columns(names.alias("framework"))
    df = _coalesce_join(df.with_columns(names.alias("framework")),
                        pl.DataFrame(records, infer_schema_length=None), "framework")
    return df.with_columns(pl.coalesce("__canonical", "framework").alias("framework")).drop(
        "__canonical")
