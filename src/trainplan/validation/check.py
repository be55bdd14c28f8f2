"""Checking a user's run table before it is predicted.

A run table has the columns of ``published_runs.csv``. :func:`check_runs` rejects a table
that cannot be read as one (required columns missing, no rows, a number column holding
something else) with one :class:`RunTableError` naming the row, the column, the value and what
is allowed, and returns a warning naming columns it does not know (they are ignored). Free-text
cells are never an error here: a row whose setting, activation or measured_oom cell cannot
be read is listed as not represented, with the column, the value and the reason
(:func:`trainplan.validation.spec.read_settings`).
:func:`require_scored` rejects results in which no row could be scored. Neither changes how a
valid table is predicted.
"""

from __future__ import annotations

import difflib
import math

import polars as pl

from trainplan.validation.spec import SETTINGS

INTEGER_COLUMNS = ("n_layers", "hidden", "n_heads", "n_kv_heads", "ffn_hidden", "vocab",
                   "seq_len", "n_gpus", "gpus_per_node", "tp", "pp", "dp", "cp", "vpp",
                   "micro_batch", "global_batch", "n_experts", "top_k", "moe_ffn_hidden", "ep",
                   "etp", "shared_ffn_hidden")
"""Columns holding a whole number >= 1 (or blank)."""

COUNT_COLUMNS = ("n_shared_experts", "moe_router_group_topk", "mtp_layers",
                 "cpu_offloading_num_layers")
"""Columns holding a whole number >= 0 (or blank)."""

NUMBER_COLUMNS = ("measured_tflops_per_gpu", "measured_mfu", "measured_hfu",
                  "measured_step_time_s", "measured_tokens_per_s_per_gpu", "measured_memory_gb",
                  "peak_tflops_used_by_source", "derived_step_time_s",
                  "derived_model_tflops_per_gpu", "derived_mfu", "derived_hfu")
"""Columns holding a finite number > 0 (or blank)."""

SETTING_COLUMNS = tuple(SETTINGS)
"""Free-text setting columns (read per row: one that cannot be read leaves its row not
represented)."""

TEXT_COLUMNS = ("row_id", "source", "source_locator", "table_row", "model_name", "activation",
                "gpu", "interconnect", "framework", "tflops_convention", "measured_oom",
                "notes")
"""Columns of free text (``activation`` and ``measured_oom`` are read per row)."""

REQUIRED_COLUMNS = ("row_id", "gpu", "n_layers", "hidden", "n_heads", "seq_len", "global_batch",
                    "tp", "pp")
"""Columns every run table has (a row may leave a cell blank; it is then not represented)."""

ONE_OF_COLUMNS = (("n_gpus", "dp"), ("measured_step_time_s", "derived_step_time_s"))
"""Groups of columns of which a run table has at least one (cluster size; step time)."""

KNOWN_COLUMNS = frozenset(TEXT_COLUMNS + INTEGER_COLUMNS + COUNT_COLUMNS + NUMBER_COLUMNS
                          + SETTING_COLUMNS)

EXPERT_COLUMNS = frozenset(("n_experts", "top_k", "moe_ffn_hidden", "n_shared_experts",
                            "shared_ffn_hidden", "ep", "etp", "moe_dispatcher",
                            "moe_a2a_overlap", "moe_router_group_topk", "mtp_layers"))
"""Optional columns of mixture-of-experts runs (a dense run table need not have them)."""

OPTIONAL_COLUMNS = EXPERT_COLUMNS | {"cpu_offloading_num_layers", "recompute_modules",
                                     "offload_modules"}
"""Columns a run table need not have: the expert columns, Megatron-Core's activation
offloading (layers of each stage whose activations go to host memory) and its
``--recompute-modules`` and ``--offload-modules`` lists."""


class RunTableError(ValueError):
    """A run table that cannot be predicted (one line: where, what, what is allowed)."""


def _missing_columns(columns: list[str]) -> list[str]:
    """Required columns (and ``a or b`` groups) that ``columns`` lacks."""
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    missing += [" or ".join(group) for group in ONE_OF_COLUMNS
                if not any(c in columns for c in group)]
    return missing


def unknown_columns_warning(columns: list[str], known, what: str) -> str | None:
    """A one-line warning naming ``columns`` not in ``known`` (with close matches), or None."""
    unknown = [c for c in columns if c not in known]
    if not unknown:
        return None
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"unknown column(s) {', '.join(parts)}: {what}"


def _is_count(text: str) -> bool:
    """Whether ``text`` is a whole number >= 1 (``24`` or ``24.0``)."""
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and value == int(value) and value >= 1


def _is_positive(text: str) -> bool:
    """Whether ``text`` is a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and value > 0


def _allowed(column: str, text: str) -> str | None:
    """What number ``column`` allows when the non-blank cell ``text`` is not that; None if
    fine."""
    if column in INTEGER_COLUMNS:
        return None if _is_count(text) else "a whole number >= 1"
    if column in COUNT_COLUMNS:
        return None if text.strip() in ("0", "0.0") or _is_count(text) else \
            "a whole number >= 0"
    return None if _is_positive(text) else "a finite number > 0"


def check_runs(runs: pl.DataFrame, where: str = "") -> list[str]:
    """Check a run table read as text (:func:`~trainplan.validation.runs.read_runs`).

    Parameters
    ----------
    runs : polars.DataFrame
        The table, every column as text (null for blank cells).
    where : str
        Prefix of every message (the file, e.g. ``"runs.csv: "``).

    Returns
    -------
    list of str
        Warnings (unknown columns, which are ignored), each one line.

    Raises
    ------
    RunTableError
        Required columns missing, no rows, or a number cell that is not a number its
        column allows (the first such cell, by row then column).
    """
    missing = _missing_columns(runs.columns)
    if missing:
        raise RunTableError(f"{where}not a run table: missing column(s) {', '.join(missing)}; "
                            f"required: {', '.join(REQUIRED_COLUMNS)}, n_gpus or dp, "
                            "measured_step_time_s or derived_step_time_s")
    if runs.height == 0:
        raise RunTableError(f"{where}no runs: the table has a header but no rows")
    checked = [c for c in runs.columns
               if c in INTEGER_COLUMNS or c in COUNT_COLUMNS or c in NUMBER_COLUMNS]
    for i, row in enumerate(runs.select(checked).iter_rows(named=True)):
        for column, value in row.items():
            if value is None or not str(value).strip():
                continue
            allowed = _allowed(column, str(value))
            if allowed:
                raise RunTableError(f"{where}row {i + 1}{_row_id(runs, i)}: column {column!r}: "
                                    f"value {value!r} is not allowed; allowed: {allowed}, "
                                    "or a blank cell")
    warning = unknown_columns_warning(runs.columns, KNOWN_COLUMNS,
                                      "ignored (a run table has the columns of "
                                      "published_runs.csv)")
    return [f"{where}{warning}"] if warning else []


def _row_id(runs: pl.DataFrame, i: int) -> str:
    """`` (row_id X)`` for row ``i`` where the table names it, else ''."""
    value = runs["row_id"][i] if "row_id" in runs.columns else None
    return f" (row_id {value})" if value else ""


def require_scored(results: pl.DataFrame, where: str = "") -> None:
    """Raise :class:`RunTableError` when no row of ``results`` has a step-time error."""
    if "abs_err_pct" in results.columns and results["abs_err_pct"].is_not_null().any():
        return
    reasons = [f"{r['row_id']}: " + (r["reason_not_represented"] or r.get("reason_not_scored")
                                     or "no measured or derived step time")
               for r in results.head(3).iter_rows(named=True)]
    more = f" (and {results.height - 3} more)" if results.height > 3 else ""
    raise RunTableError(f"{where}no run could be scored (n = 0): " + "; ".join(reasons) + more)
