"""The inputs of the model: names, units, allowed values, defaults and their sources.

This table is the single place where a default lives. :func:`resolve` turns a
table of configurations (catalog names, user units, categorical settings)
into the numeric arrays :func:`trainplan.model.step.evaluate_arrays` takes,
and raises :class:`InputError` naming the column, the row, the bad value and
what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from . import catalog, units
from .model.collectives import ALGORITHM_NAMES
from .model.pipeline import SCHEDULE_NAMES

RECOMPUTE_NAMES = {"none": 0, "selective": 1, "full": 2}
PRECISION_NAMES = ("bf16", "fp16", "fp8")


class InputError(ValueError):
    """A configuration value that is missing, of the wrong type or not allowed."""


@dataclass(frozen=True)
class Input:
    """One input column: its unit, what is allowed, its default and where the default comes from."""

    name: str
    kind: str                       # "int", "float", "bool", "choice", "name"
    description: str
    unit: str = "-"
    default: Any = None             # None: required (or filled from a catalog)
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    source: str = ""
    group: str = "parallel"
    from_catalog: bool = False


_ARCH = "model"
_HW = "hardware"
_JOB = "job"
_PAR = "parallel"
_EFF = "efficiency"

INPUTS: tuple[Input, ...] = (
    # --- model architecture (from the model catalog when `model` names an entry) ---
    Input("model", "name", "Model catalog entry (fills every architecture column left blank)",
          group=_ARCH, default=""),
    Input("n_layers", "int", "Transformer layers L", minimum=1, group=_ARCH, from_catalog=True),
    Input("hidden", "int", "Hidden size h", minimum=1, group=_ARCH, from_catalog=True),
    Input("n_heads", "int", "Attention (query) heads a", minimum=1, group=_ARCH,
          from_catalog=True),
    Input("n_kv_heads", "int", "Key/value heads (GQA/MQA); = n_heads for multi-head attention",
          minimum=1, group=_ARCH, from_catalog=True),
    Input("ffn_hidden", "int", "MLP inner width f", minimum=1, group=_ARCH, from_catalog=True),
    Input("gated_mlp", "bool", "Gated MLP (SwiGLU: three weight matrices)", group=_ARCH,
          from_catalog=True),
    Input("vocab", "int", "Vocabulary size V (as padded by the framework)", minimum=1,
          group=_ARCH, from_catalog=True),
    Input("tied_embeddings", "bool", "Output layer shares the input embedding", group=_ARCH,
          from_catalog=True),
    Input("linear_bias", "bool", "Linear layers have biases (GPT: yes; Llama: no)",
          group=_ARCH, from_catalog=True),
    Input("position_embedding", "choice", "learned (absolute, s*h parameters), rope (rotary) "
          "or alibi (no parameters)", choices=("learned", "rope", "alibi"), group=_ARCH,
          from_catalog=True),
    Input("norm", "choice", "layernorm (2h parameters) or rmsnorm (h)",
          choices=("layernorm", "rmsnorm"), group=_ARCH, from_catalog=True),
    Input("dropout", "bool", "Dropout layers present (their masks are stored)", group=_ARCH,
          from_catalog=True),
    # --- training job ---
    Input("seq_len", "int", "Sequence length s", unit="tokens", minimum=1, group=_JOB,
          from_catalog=True),
    Input("global_batch", "int", "Global batch per optimizer step", unit="sequences",
          minimum=1, group=_JOB),
    Input("precision", "choice", "Training precision of the linear layers (fp8: linear layers "
          "in FP8, attention and element-wise work in 16 bits)", choices=PRECISION_NAMES,
          default="bf16", group=_JOB),
    Input("tokens_budget", "float", "Tokens to train on (for time, GPU-hours, cost, energy)",
          unit="tokens", minimum=0, default=float("nan"), group=_JOB),
    Input("price_per_gpu_hour_usd", "float", "Price of one GPU-hour (default: the GPU "
          "catalog's indicative 2026 on-demand cloud price)", unit="USD/GPU-hour", minimum=0,
          group=_JOB, from_catalog=True),
    # --- hardware ---
    Input("gpu", "name", "Accelerator catalog entry", group=_HW),
    Input("n_gpus", "int", "GPUs in the job (tp*pp*cp*dp)", minimum=1, group=_HW),
    Input("memory_gib", "float", "GPU memory capacity as the driver reports it", unit="GiB",
          minimum=0, group=_HW, from_catalog=True),
    Input("scaleup_gbyte_s", "float", "Scale-up (NVLink/Infinity Fabric) bandwidth per GPU, "
          "one direction", unit="GB/s", minimum=0, group=_HW, from_catalog=True),
    Input("scaleup_domain_gpus", "int", "GPUs sharing one scale-up domain (8 for HGX/DGX, "
          "72 for NVL72)", minimum=1, group=_HW, from_catalog=True),
    Input("scaleout_gbit_s_per_node", "float", "Scale-out (InfiniBand/RoCE) bandwidth of one "
          "node, all its NICs, one direction", unit="Gb/s", minimum=0, group=_HW,
          from_catalog=True),
    Input("gpus_per_node", "int", "GPUs per node (they share the node's NICs)", minimum=1,
          group=_HW, from_catalog=True),
    Input("scaleup_latency_s", "float", "Latency of one collective step inside the scale-up "
          "domain", unit="s", minimum=0, default=3e-6, group=_HW,
          source="Azure AI-benchmarking-guide ND A100 v4: 8-GPU NCCL all-reduce of 1 KiB takes "
          "about 45 us, i.e. about 3 us per step of a 14-step ring"),
    Input("scaleout_latency_s", "float", "Latency of one collective step across nodes",
          unit="s", minimum=0, default=6e-6, group=_HW,
          source="NVIDIA/nccl issue #1244: 2-node NDR small all-reduce 46-48 us over about "
          "8 tree steps"),
    # --- parallel layout ---
    Input("tp", "int", "Tensor-parallel degree", minimum=1, default=1),
    Input("pp", "int", "Pipeline-parallel degree", minimum=1, default=1),
    Input("dp", "int", "Data-parallel degree (blank: n_gpus/(tp*pp*cp))", minimum=1),
    Input("cp", "int", "Context-parallel degree (ring attention)", minimum=1, default=1),
    Input("vpp", "int", "Virtual pipeline stages (model chunks) per GPU", minimum=1, default=1),
    Input("micro_batch", "int", "Micro-batch size", unit="sequences", minimum=1, default=1),
    Input("zero_stage", "int", "ZeRO stage (1 = Megatron distributed optimizer)", minimum=0,
          maximum=3, default=1),
    Input("recompute", "choice", "Activation recomputation", choices=tuple(RECOMPUTE_NAMES),
          default="none"),
    Input("seq_parallel", "bool", "Sequence parallelism (splits norms/dropout over tp)",
          default=True),
    Input("flash_attention", "bool", "Fused attention kernel (FlashAttention): no s*s scores "
          "stored", default=True),
    Input("schedule", "choice", "Pipeline schedule (auto: interleaved when vpp>1, else 1f1b)",
          choices=("auto", *SCHEDULE_NAMES), default="auto"),
    Input("dp_algorithm", "choice", "Collective algorithm of the data-parallel group",
          choices=tuple(ALGORITHM_NAMES), default="ring"),
    Input("tp_algorithm", "choice", "Collective algorithm of the tensor-parallel group",
          choices=tuple(ALGORITHM_NAMES), default="ring"),
    Input("overlap_grad_reduce", "bool", "Gradient reduction overlaps the last backward",
          default=True, source="Megatron-Core --overlap-grad-reduce; PyTorch DDP buckets"),
    Input("overlap_param_gather", "bool", "Distributed-optimizer parameter all-gather "
          "overlaps the next forward", default=True,
          source="Megatron-Core --overlap-param-gather"),
    Input("tp_async_backward", "bool", "Tensor-parallel all-reduce of input gradients runs "
          "while the weight-gradient GEMM computes", default=True,
          source="Megatron-LM --async-tensor-model-parallel-allreduce (default since 2021-08); "
          "Korthikanti et al. 2022 Sec. 5"),
    Input("tp_comm_overlap", "bool", "Tensor-parallel communication overlapped with the "
          "adjacent GEMMs (userbuffers)", default=False,
          source="Megatron-Core --tp-comm-overlap (Transformer Engine)"),
    # --- efficiencies and byte counts (named, documented, sweepable) ---
    Input("sm_count", "int", "Streaming multiprocessors (compute units)", minimum=1,
          group=_HW, from_catalog=True),
    Input("gemm_efficiency_16bit", "float", "Largest achievable fraction of the 16-bit dense "
          "peak for big GEMMs", minimum=0, maximum=1, group=_EFF, from_catalog=True),
    Input("gemm_efficiency_fp8", "float", "Largest achievable fraction of the FP8 dense peak "
          "(blank for GPUs without FP8)", minimum=0, maximum=1, default=float("nan"),
          group=_EFF, from_catalog=True),
    Input("attention_efficiency", "float", "Fraction of the 16-bit peak fused attention reaches",
          minimum=0, maximum=1, group=_EFF, from_catalog=True),
    Input("gemm_half_dim_per_sm_tflop_s", "float", "GEMM output dimension at which one "
          "saturation factor halves the efficiency, per TFLOP/s of 16-bit peak per SM",
          unit="elements per TFLOP/s", minimum=0, default=170.0, group=_EFF,
          source="fitted once to the published runs, one value for every GPU (A100: 491 "
          "elements, H100: 1274, B200: 2585)"),
    Input("gemm_half_k", "float", "GEMM inner dimension at which the main-loop factor halves "
          "the efficiency", unit="elements", minimum=0, default=64.0, group=_EFF,
          source="two 32-wide tensor-core k-steps of prologue and epilogue per tile; the fit "
          "to the published runs is flat between 48 and 96"),
    Input("hbm_efficiency", "float", "Achievable fraction of HBM bandwidth for element-wise "
          "kernels", minimum=0, maximum=1, default=0.85, group=_EFF,
          source="Azure AI-benchmarking-guide BabelStream Triad: A100 83 %, H100 89 %, H200 86 %"),
    Input("scaleup_efficiency", "float", "Achievable fraction of scale-up bandwidth for NCCL "
          "collectives", minimum=0, maximum=1, default=0.78, group=_EFF,
          source="nccl-tests all-reduce busbw: 8x A100 231.6 GB/s of 300 (Azure ND A100 v4); "
          "8x H100 ring about 365 GB/s of 450 (NVIDIA/nccl #1455)"),
    Input("scaleout_efficiency", "float", "Achievable fraction of NIC line rate", minimum=0,
          maximum=1, default=0.96, group=_EFF,
          source="NVIDIA/nccl #1576: 192 GB/s all-reduce busbw on DGX A100 with 8x HDR "
          "(200 GB/s); #267: 48-49 GB/s per NDR NIC"),
    Input("overlap_efficiency", "float", "Share of the shorter of an overlapping "
          "communication and its compute window that is hidden", minimum=0, maximum=1, default=0.7,
          group=_EFF, source="fitted once to the published runs (0.6-0.8 give the same "
          "accuracy)"),
    Input("grad_bytes_per_param", "float", "Gradient bytes per parameter (2: 16-bit; 4: fp32 "
          "main_grad; 6: 16-bit grad plus fp32 accumulation buffer)", unit="bytes",
          minimum=0, default=2.0, group=_EFF, source="ZeRO paper (arXiv:1910.02054) Sec. 3.1"),
    Input("grad_reduce_bytes_per_param", "float", "Bytes per parameter of the gradient "
          "reduction", unit="bytes", minimum=0, default=2.0, group=_EFF,
          source="16-bit gradient all-reduce (ZeRO paper Sec. 7)"),
    Input("optimizer_bytes_per_param", "float", "Optimizer-state bytes per parameter (K)",
          unit="bytes", minimum=0, default=12.0, group=_EFF,
          source="ZeRO paper Sec. 3.1: mixed-precision Adam K = 12 (fp32 weights, momentum, "
          "variance)"),
    Input("adam_step_bytes_per_param", "float", "HBM traffic of the Adam update per parameter",
          unit="bytes", minimum=0, default=30.0, group=_EFF,
          source="read fp32 weight, gradient, momentum, variance (16); write weight, momentum, "
          "variance (12) and the 16-bit copy (2)"),
    Input("logits_bytes_per_element", "float", "Bytes per logit kept on the last stage",
          unit="bytes", minimum=0, default=6.0, group=_EFF,
          source="16-bit logits plus the fp32 copy the cross-entropy keeps for its backward"),
    Input("cuda_context_bytes", "float", "Memory taken by the CUDA context and kernels",
          unit="bytes", minimum=0, default=float(units.GIB_BYTES), group=_EFF,
          source="S. Bekman, ml-engineering, training/performance 'Preloaded CUDA kernels "
          "memory usage': 0.47-0.92 GiB on A100 with torch 2.1"),
    Input("memory_reserve_fraction", "float", "Share of GPU memory kept free for allocator "
          "fragmentation and transient buffers", minimum=0, maximum=1, default=0.10,
          group=_EFF, source="GMLake (arXiv:2401.08156): PyTorch caching-allocator "
          "fragmentation in LLM training averages about 15 % (up to 33 %)"),
    Input("zero3_max_live_params", "float", "Gathered parameters ZeRO-3 keeps live at once",
          unit="parameters", minimum=0, default=1e9, group=_EFF,
          source="DeepSpeed configuration 'stage3_max_live_parameters' (default 1e9)"),
    Input("step_overhead_s", "float", "Fixed per-step overhead (data loading, logging)",
          unit="s", minimum=0, default=0.0, group=_EFF),
)

INPUT_BY_NAME = {i.name: i for i in INPUTS}

ARCH_COLUMNS = [i.name for i in INPUTS if i.group == _ARCH and i.name != "model"]


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
