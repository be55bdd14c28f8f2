"""Writing output files whole or not at all: write under a temporary name, then rename.

A job that fails half-way leaves no file that looks finished (the rename is atomic on one
filesystem), which is what lets Snakemake trust what it finds. This is the one writer every
output of trainplan goes through (tables, JSON, figures, HTML and PDF).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl


def _temporary(path: Path) -> tuple[int, Path]:
    """An open, new temporary file next to ``path`` (same filesystem), with the mode a
    plain ``open`` would give."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, Path(tmp)


def write_many(outputs: Iterable[tuple[str | Path, bytes]]) -> None:
    """Write every ``(path, data)`` to a temporary file next to it, then rename them all.

    On failure nothing is left behind and existing files are untouched; the renames run
    only once every file is complete.
    """
    temps: list[tuple[Path, Path]] = []
    try:
        for path, data in outputs:
            path = Path(path)
            fd, tmp = _temporary(path)
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        for tmp, path in temps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    write_many([(path, data)])


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_many([(path, text.encode("utf-8"))])


def _write_frame(path: str | Path, write) -> None:
    path = Path(path)
    fd, tmp = _temporary(path)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(df: pl.DataFrame, path: str | Path) -> None:
    """Write ``df`` to ``path`` as Parquet (with column statistics) atomically."""
    _write_frame(path, lambda tmp: df.write_parquet(tmp, statistics=True))


def write_csv(df: pl.DataFrame, path: str | Path) -> None:
    """Write ``df`` to ``path`` as CSV atomically."""
    _write_frame(path, df.write_csv)
