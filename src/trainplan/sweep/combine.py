"""Combine the shards of a sweep: final best, TP x PP and Pareto tables, and the counts."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from trainplan import atomic
from trainplan.model import feasibility as fe
from trainplan.sweep import summaries


def combine(summary_files: list[str | Path], out_dir: str | Path) -> dict[str, Path]:
    """Reduce the shard summaries into ``best.parquet``, ``tp_pp.parquet``,
    ``pareto.parquet`` and ``counts.json`` in ``out_dir``."""
    out_dir = Path(out_dir)
    frames = [pl.read_parquet(f) for f in summary_files]
    frames = [f for f in frames if f.height]
    candidates = pl.concat(frames, how="vertical") if frames else pl.DataFrame()
    counts = {"configurations": 0, "feasible": 0, "reasons": {}}
    for f in summary_files:
        data = json.loads(Path(f).with_suffix(".json").read_text())
        counts["configurations"] += data["configurations"]
        counts["feasible"] += data["feasible"]
        for flag, n in data["flags"].items():
            for bit, text in fe.REASONS.items():
                if int(flag) & bit:
                    counts["reasons"][text] = counts["reasons"].get(text, 0) + n
    counts["reasons"] = dict(sorted(counts["reasons"].items(), key=lambda kv: (-kv[1], kv[0])))
    paths = {}
    if candidates.height:
        tables = summaries.finish(candidates)
    else:
        tables = {k: pl.DataFrame() for k in ("best", "tp_pp", "pareto")}
    for name, table in tables.items():
        table = table.drop([c for c in ("scenario_id", "cost_rate") if c in table.columns and
                            name != "best"])
        paths[name] = out_dir / f"{name}.parquet"
        atomic.write_parquet(table, paths[name])
    paths["counts"] = out_dir / "counts.json"
    atomic.write_text(paths["counts"], json.dumps(counts, indent=1) + "\n")
    return paths
