"""Writing output files whole or not at all: write under a temporary name, then rename.

A job that fails half-way leaves no file that looks finished (the rename is atomic on one
filesystem), which is what lets Snakemake trust what it finds.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl


def _temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(path.name + ".tmp")


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    path = Path(path)
    tmp = _temporary(path)
    tmp.write_text(text)
    tmp.replace(path)


def write_parquet(df: pl.DataFrame, path: str | Path) -> None:
    """Write ``df`` to ``path`` as Parquet (with column statistics) atomically."""
    path = Path(path)
    tmp = _temporary(path)
    df.write_parquet(tmp, statistics=True)
    tmp.replace(path)


def write_csv(df: pl.DataFrame, path: str | Path) -> None:
    """Write ``df`` to ``path`` as CSV atomically."""
    path = Path(path)
    tmp = _temporary(path)
    df.write_csv(tmp)
    tmp.replace(path)
