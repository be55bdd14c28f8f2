"""Combine the shards of a sweep: final best, TP x PP and Pareto tables, and the counts.

Each shard's counts JSON also records what the shard wrote (:func:`shard_record`): the row
count and SHA-256 of its summary and the row count of each of its ``points/`` parts.
:func:`combine` checks every shard against that record before using it; a shard that does
not match (truncated, replaced, half-copied) stops the combine with a one-line
:class:`ShardError` naming it, and its files are removed so that a plain rerun re-makes it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl

from trainplan import atomic
from trainplan.model import feasibility as fe
from trainplan.sweep import summaries
from trainplan.sweep.file import SweepError

TABLES = ("best", "tp_pp", "pareto")
"""The combined tables, each written as ``<name>.parquet``; every one carries ``scenario_id``."""


class ShardError(SweepError):
    """A shard whose files do not match its counts record (truncated, replaced or missing)."""


def _sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _parquet_rows(path: Path) -> int:
    """A Parquet file's row count, from its footer."""
    return pl.scan_parquet(path).select(pl.len()).collect().item()


def shard_record(summary: str | Path, points_dir: str | Path | None = None,
                 written_dir: str | Path | None = None) -> dict:
    """What a shard wrote, for its counts JSON: the summary's rows and SHA-256 and, for a
    shard that keeps rows, its ``points_dir`` and the rows of each ``part-*.parquet``, read
    from ``written_dir`` (the temporary directory renamed to ``points_dir`` once done)."""
    summary = Path(summary)
    record = {"summary": {"rows": _parquet_rows(summary), "sha256": _sha256(summary)}}
    if points_dir is not None:
        parts = sorted(Path(written_dir or points_dir).glob("part-*.parquet"))
        record["points_dir"] = str(points_dir)
        record["points"] = {p.name: _parquet_rows(p) for p in parts}
    return record


def _points_problem(points_dir: Path, expected: dict[str, int]) -> str | None:
    """What is wrong with a shard's ``points/`` part (None if it matches its record)."""
    found = {p.name: p for p in points_dir.glob("part-*.parquet")} if points_dir.is_dir() \
        else {}
    if sorted(found) != sorted(expected):
        return f"{points_dir} holds {sorted(found)}, its counts record {sorted(expected)}"
    for name, rows in expected.items():
        try:
            got = _parquet_rows(found[name])
        except (pl.exceptions.PolarsError, OSError):
            return f"{found[name]} is not a readable Parquet file"
        if got != rows:
            return f"{found[name]} has {got} rows, its counts record {rows}"
    return None


def _shard_problem(summary: Path, counts: dict, points_dir: Path | None) -> str | None:
    """What is wrong with one shard's files (None if they match its counts record)."""
    record = counts.get("summary")
    if record is None:
        return f"{summary}: its counts JSON has no record of the summary (written by an " \
               "older trainplan?)"
    if _sha256(summary) != record["sha256"]:
        return f"{summary}: SHA-256 differs from its counts record (truncated or replaced)"
    points_dir = points_dir or counts.get("points_dir")
    if points_dir is not None and "points" in counts:
        return _points_problem(Path(points_dir), counts["points"])
    return None


def verify_shards(summary_files: list[str | Path], counts_files: list[str | Path],
                  points_dirs: list[str | Path] | None = None) -> list[dict]:
    """The counts of every shard, once each shard's summary and ``points/`` part (at
    ``points_dirs``, default: where its record says) match its record; otherwise remove
    that shard's files and raise :class:`ShardError` naming it (a rerun re-makes it)."""
    if len(summary_files) != len(counts_files):
        raise ShardError(f"{len(summary_files)} shard summaries but {len(counts_files)} "
                         "counts files: give one counts file per summary, in the same order")
    dirs = list(points_dirs) if points_dirs else [None] * len(summary_files)
    records, bad = [], []
    for summary, counts_file, points in zip(summary_files, counts_files, dirs, strict=True):
        summary, counts_file = Path(summary), Path(counts_file)
        try:
            counts = json.loads(counts_file.read_text(encoding="utf-8"))
            problem = _shard_problem(summary, counts, None if points is None else Path(points))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            problem = f"{counts_file}: unreadable ({type(err).__name__}: {err})"
        if problem:
            summary.unlink(missing_ok=True)     # every bad shard goes: one rerun re-makes all
            counts_file.unlink(missing_ok=True)
            bad.append(f"shard {summary.stem}: {problem}")
        else:
            records.append(counts)
    if bad:
        more = f" (and {len(bad) - 1} more shard(s))" if len(bad) > 1 else ""
        raise ShardError(f"{bad[0]}{more}; the files of every bad shard were removed, run "
                         "the workflow again to re-make them")
    return records


def _counts(records: list[dict]) -> dict:
    """Configurations, feasible ones and how many fail for each reason, over every shard."""
    counts = {"configurations": 0, "feasible": 0, "reasons": {}}
    for data in records:
        counts["configurations"] += data["configurations"]
        counts["feasible"] += data["feasible"]
        for flag, n in data["flags"].items():
            for bit, text in fe.REASONS.items():
                if int(flag) & bit:
                    counts["reasons"][text] = counts["reasons"].get(text, 0) + n
    counts["reasons"] = dict(sorted(counts["reasons"].items(), key=lambda kv: (-kv[1], kv[0])))
    return counts


def combine(summary_files: list[str | Path], counts_files: list[str | Path],
            outputs: dict[str, str | Path],
            points_dirs: list[str | Path] | None = None) -> dict[str, Path]:
    """Reduce the shard summaries and counts into the tables of :data:`TABLES` and the
    counts, written to ``outputs[name]`` (keys: the table names and ``counts``). Every shard
    is first checked against its counts record (:func:`verify_shards`; ``points_dirs``, one
    per shard, adds its ``points/`` part to the check)."""
    records = verify_shards(summary_files, counts_files, points_dirs)
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
    atomic.write_text(paths["counts"], json.dumps(_counts(records), indent=1) + "\n")
    return paths


def combine_dir(summary_files: list[str | Path], out_dir: str | Path) -> dict[str, Path]:
    """:func:`combine` with the counts next to each summary (``<summary>.json``) and the
    outputs in ``out_dir`` under their usual names."""
    out_dir = Path(out_dir)
    outputs = {name: out_dir / f"{name}.parquet" for name in TABLES}
    outputs["counts"] = out_dir / "counts.json"
    return combine(summary_files, [Path(f).with_suffix(".json") for f in summary_files], outputs)
