"""The command line's files: inputs checked and read, outputs checked before any work.

Every problem is a :class:`UsageError` whose message starts with the path and says, on one
line, what is wrong with it; :func:`trainplan.cli.main` prints it as
``trainplan: error: <path>: <what is wrong>`` and exits with status 2.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import polars as pl


class UsageError(Exception):
    """A problem with the command line or a file it names (reported without a traceback)."""


def _reason(err: BaseException) -> str:
    """A library error as one line (its first line, without the path it may repeat)."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def input_file(path: str | Path) -> Path:
    """``path`` if it is an existing, readable regular file; else :class:`UsageError`."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as err:
        raise UsageError(f"{path}: cannot be read: {_reason(err)}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{path}: is a directory; expected a file")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{path}: is not a regular file (a device, FIFO or socket)")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{path}: cannot be read: permission denied")
    return path


def read_parquet(path: str | Path) -> pl.DataFrame:
    """The Parquet table at ``path``; :class:`UsageError` if it is not one (or truncated)."""
    path = input_file(path)
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise UsageError(f"{path}: not a readable Parquet file ({_reason(err)})") from None


def check_parquet(path: str | Path) -> Path:
    """``path`` if its Parquet footer and schema can be read (catches truncated files)."""
    path = input_file(path)
    try:
        pl.read_parquet_schema(path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise UsageError(f"{path}: not a readable Parquet file ({_reason(err)})") from None
    return path


def read_csv_text(path: str | Path) -> pl.DataFrame:
    """The CSV table at ``path`` with every column as text (blank cells null)."""
    path = input_file(path)
    try:
        return pl.read_csv(path, infer_schema_length=0)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not a readable CSV file ({_reason(err)})") from None


def read_table(path: str | Path) -> pl.DataFrame:
    """A ``.csv`` (types inferred) or ``.parquet`` table of configurations."""
    path = input_file(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise UsageError(f"{path}: unsupported file type {suffix!r}; allowed: .csv, .parquet")
    if suffix != ".csv":
        return read_parquet(path)
    try:
        return pl.read_csv(path, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not a readable CSV file ({_reason(err)})") from None


def read_json(path: str | Path, keys: tuple[str, ...] = ()) -> Any:
    """The JSON document at ``path``; with ``keys``, an object that has each of them."""
    path = input_file(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise UsageError(f"{path}: invalid JSON: {err.msg} at line {err.lineno} column "
                         f"{err.colno}") from None
    except (OSError, RecursionError) as err:
        raise UsageError(f"{path}: cannot be read: {_reason(err)}") from None
    if keys:
        if not isinstance(data, dict):
            raise UsageError(f"{path}: expected a JSON object with keys {', '.join(keys)}; "
                             f"found a {type(data).__name__}")
        missing = [k for k in keys if k not in data]
        if missing:
            raise UsageError(f"{path}: missing key(s) {', '.join(missing)}; expected the "
                             "output of the stage that writes this file")
    return data


def _writable_dir(folder: Path, what: str) -> None:
    """Raise :class:`UsageError` unless ``folder`` is an existing, writable directory."""
    if not folder.exists():
        raise UsageError(f"{what}: directory {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise UsageError(f"{what}: {str(folder)!r} is not a directory")
    try:   # a real probe: root passes os.access on read-only folders
        fd, probe = tempfile.mkstemp(prefix=".trainplan-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UsageError(f"{what}: directory {str(folder)!r} is not writable "
                         f"({_reason(err)})") from None


def output_file(path: str | Path) -> Path:
    """``path`` if a file can be written there (its folder exists and is writable, and it is
    not a directory); checked before any work so that nothing is half-written."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; expected a file name to write")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{path}: cannot be written: permission denied")
    _writable_dir(path.parent, str(path))
    return path


def output_dir(path: str | Path) -> Path:
    """``path`` if it is a writable directory or can be made in an existing one."""
    path = Path(path)
    if path.exists():
        _writable_dir(path, str(path))
    else:
        _writable_dir(path.parent, str(path))
    return path


def distinct_outputs(*paths: str | Path | None) -> None:
    """Raise :class:`UsageError` when two outputs are the same file."""
    seen: dict[Path, str] = {}
    for p in paths:
        if p is None:
            continue
        key = Path(os.path.abspath(p))
        if key in seen:
            raise UsageError(f"{p}: named twice as an output; give each output its own file")
        seen[key] = str(p)
