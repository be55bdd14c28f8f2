"""Combine the shards of a sweep: final best, TP x PP and Pareto tables, and the counts."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from trainplan import atomic
from trainplan.model import feasibility as fe
from trainplan.sweep import summaries

TABLES = ("best", "tp_pp", "pareto")
"""The combined tables, each written as ``<name>.parquet``; every one carries ``scenario_id``."""


def _counts(counts_files: list[str | Path]) -> dict:
    """Configurations, feasible ones and how many fail for each reason, over every shard."""
    counts = {"configurations": 0, "feasible": 0, "reasons": {}}
    for f in counts_files:
        data = json.loads(Path(f).read_text())
        counts["configurations"] += data["configurations"]
        counts["feasible"] += data["feasible"]
        for flag, n in data["flags"].items():
            for bit, text in fe.REASONS.items():
                if int(flag) & bit:
                    counts["reasons"][text] = counts["reasons"].get(text, 0) + n
    counts["reasons"] = dict(sorted(counts["reasons"].items(), key=lambda kv: (-kv[1], kv[0])))
    return counts


def combine(summary_files: list[str | Path], counts_files: list[str | Path],
            outputs: dict[str, str | Path]) -> dict[str, Path]:
    """Reduce the shard summaries and counts into the tables of :data:`TABLES` and the
    counts, written to ``outputs[name]`` (keys: the table names and ``counts``)."""
    frames = [pl.read_parquet(f) for f in summary_files]
    frames = [f for f in frames if f.height]
    candidates = pl.concat(frames, how="vertical") if frames else pl.DataFrame()
    if candidates.height:
        tables = summaries.finish(candidates)
    else:
        tables = {k: pl.DataFrame() for k in TABLES}
    paths = {name: Path(outputs[name]) for name in (*TABLES, "counts")}
    for name in TABLES:
        table = tables[name]
        if name != "best":     # best keeps the cost rate its rows were grouped by
            table = table.drop([c for c in ("cost_rate",) if c in table.columns])
        atomic.write_parquet(table, paths[name])
    atomic.write_text(paths["counts"], json.dumps(_counts(counts_files), indent=1) + "\n")
    return paths


def combine_dir(summary_files: list[str | Path], out_dir: str | Path) -> dict[str, Path]:
    """:func:`combine` with the counts next to each summary (``<summary>.json``) and the
    outputs in ``out_dir`` under their usual names."""
    out_dir = Path(out_dir)
    outputs = {name: out_dir / f"{name}.parquet" for name in TABLES}
    outputs["counts"] = out_dir / "counts.json"
    return combine(summary_files, [Path(f).with_suffix(".json") for f in summary_files], outputs)
