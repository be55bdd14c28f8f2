"""What a sweep file may ask for: finite numbers, consistent models, and a bounded job plan.

The job plan is bounded when the sweep loads, before Snakemake builds its DAG: at most
:data:`MAX_JOBS` shard jobs, and an estimated run time of at most :data:`MAX_CORE_HOURS`
core-hours. The estimate divides the grid size by a measured evaluation rate
(:data:`CONFIGS_PER_S_PER_CORE`, ``python benchmarks/throughput.py``; rows written to
``points/`` cost more, :data:`ROWS_WRITTEN_PER_S_PER_CORE`).
"""

from __future__ import annotations

import math
from typing import Any

from trainplan.schema.inputs import INPUT_BY_NAME
from trainplan.sweep.reader import SweepError, path_text, show

MAX_JOBS = 500
"""Most shard jobs a sweep may plan (raise ``shard_size`` to need fewer)."""
MAX_CORE_HOURS = 4.0
"""Longest estimated evaluation of a sweep, in hours of one core (two hours on two cores)."""
CONFIGS_PER_S_PER_CORE = 5.0e6
"""Configurations one core evaluates and reduces per second in a ``keep: best`` shard job.
Measured: ``python benchmarks/throughput.py`` gives 15 million per second for the model
alone; a whole shard of ``sweeps/exhaustive_search_best.yaml`` (8 million configurations,
summaries included) takes 1.4 s, 5.8 million per second."""
ROWS_WRITTEN_PER_S_PER_CORE = 5.0e5
"""Configurations per second and core when every row is written to ``points/`` (``keep:
all`` or ``feasible``). Measured: a shard of ``sweeps/exhaustive_search_all.yaml`` (one
million rows, 18 MB of Parquet) takes 1.4 s, 0.73 million per second."""


def check_numbers(value: Any, where: str, path: tuple = ()) -> None:
    """Every number of the document is finite (no ``.inf``, ``.nan`` or ``1e400``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_numbers(item, where, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_numbers(item, where, (*path, i))
    elif isinstance(value, float) and not math.isfinite(value):
        raise SweepError(f"{where}: {path_text(path)}: value {value!r} is not allowed; "
                         "allowed: a finite number")


def check_range_values(items: list[Any], name: str, key: str) -> None:
    """The values a range expands to are allowed values of input ``name``."""
    spec = INPUT_BY_NAME.get(name)
    if spec is None or spec.kind not in ("int", "float"):
        return
    for value in items:
        problem = (spec.kind == "int" and not float(value).is_integer()) or \
            (spec.minimum is not None and value < spec.minimum) or \
            (spec.maximum is not None and value > spec.maximum)
        if problem:
            bounds = "".join(f" {op} {b:g}" for op, b in ((">=", spec.minimum),
                                                           ("<=", spec.maximum)) if b is not None)
            kind = "an integer" if spec.kind == "int" else "a number"
            raise SweepError(f"{key}: the range gives {show(value)}, which is not allowed; "
                             f"allowed: {kind}{bounds}")


def check_repeats(items: list[Any], key: str) -> None:
    """No value twice in a list (``1`` and ``1.0`` are the same value)."""
    seen: dict[tuple[bool, Any], Any] = {}
    for value in items:
        tag = (isinstance(value, bool), value)
        if tag in seen:
            raise SweepError(f"{key}: values repeat: {show(value)} equals the earlier "
                             f"{show(seen[tag])}; each value may appear once")
        seen[tag] = value


def check_model(record: dict[str, Any], key: str) -> None:
    """An inline model's heads divide its hidden size and its KV heads divide its heads."""
    hidden, heads, kv = record.get("hidden"), record.get("n_heads"), record.get("n_kv_heads")
    name = show(record.get("model"))
    if isinstance(hidden, int) and isinstance(heads, int) and hidden % heads:
        raise SweepError(f"{key}: inline model {name}: hidden {hidden} is not divisible by "
                         f"n_heads {heads}; allowed: n_heads dividing hidden")
    if isinstance(heads, int) and isinstance(kv, int) and (kv > heads or heads % kv):
        raise SweepError(f"{key}: inline model {name}: n_kv_heads {kv} does not divide "
                         f"n_heads {heads}; allowed: a divisor of n_heads (at most n_heads)")


def estimated_core_hours(size: int, keep: str) -> float:
    """Estimated evaluation time of a grid of ``size`` configurations [core-hours]."""
    rate = CONFIGS_PER_S_PER_CORE if keep == "best" else ROWS_WRITTEN_PER_S_PER_CORE
    return size / rate / 3600.0


def check_plan(where: str, size: int, shard_size: int, keep: str, n_jobs: int) -> None:
    """At most MAX_JOBS shard jobs and MAX_CORE_HOURS of estimated evaluation."""
    if n_jobs > MAX_JOBS:
        need = math.ceil(size / MAX_JOBS)
        raise SweepError(f"{where}: shard_size: {shard_size:,} configurations per job "
                         f"cut the grid of {size:,} into {n_jobs:,} jobs, more than the "
                         f"limit of {MAX_JOBS}; raise shard_size (to at least about {need:,}) "
                         "or narrow the lists")
    hours = estimated_core_hours(size, keep)
    if hours > MAX_CORE_HOURS:
        raise SweepError(f"{where}: the grid of {size:,} configurations with keep: "
                         f"{keep} needs an estimated {hours:,.1f} core-hours, more than "
                         f"the limit of {MAX_CORE_HOURS:g}; narrow the lists, use keep: best, "
                         "or lower max_grid_size")
