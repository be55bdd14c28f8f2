"""Where a report's numbers come from: the trainplan version and commit, the sweep file's hash
and the date of each GPU price.

Everything here is a deterministic function of the inputs and the code: the same sweep file
evaluated by the same checkout gives the same ``provenance`` entry of ``analysis.json``,
whichever folder, machine or day it runs in. The report's generation date is *not* part of it
(the renderer takes it from ``SOURCE_DATE_EPOCH``, see
:func:`trainplan.render.report.generation_date`).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import Any

from trainplan import __version__, catalog
from trainplan.sweep.file import Sweep

UNKNOWN = "unknown"
"""The commit of a trainplan that does not run from a git checkout (an installed wheel)."""

CHECKOUT = Path(__file__).resolve().parents[3]
"""The folder holding ``src/trainplan`` when trainplan runs from its source checkout."""

_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
           "December")
_DATE = re.compile(rf"\b(\d{{4}}-\d{{2}}-\d{{2}}|(?:{_MONTHS}) \d{{4}})\b")


def sha256_of(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def git_commit(root: Path = CHECKOUT) -> str:
    """The commit checked out in ``root`` (``git rev-parse HEAD``), or ``"unknown"`` where
    ``root`` is not trainplan's git checkout or git is not available. Uncommitted edits are
    not recorded."""
    if not ((root / ".git").exists() and (root / "pyproject.toml").is_file()):
        return UNKNOWN
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) \
        else UNKNOWN


def price_date(source: str | None) -> str | None:
    """The first date in a catalog price source (``2026-04-06`` or ``May 2026``), or None."""
    match = _DATE.search(source or "")
    return match.group(1) if match else None


def _sweep_values(sweep: Sweep, name: str) -> list:
    """The values the sweep sets for input ``name`` (an axis or a constant), or []."""
    axis = sweep.axis(name)
    if axis is not None:
        return list(axis.values)
    return [sweep.constants[name]] if name in sweep.constants else []


def prices(sweep: Sweep) -> list[dict[str, Any]]:
    """For each GPU of the sweep: the price per GPU-hour it is costed at, whether the sweep
    or the GPU catalog sets it, and the catalog's price source and date."""
    given = _sweep_values(sweep, "price_per_gpu_hour_usd")
    out = []
    for name in dict.fromkeys(str(g) for g in _sweep_values(sweep, "gpu")):
        entry = catalog.find_gpu(name) or {}
        if given:
            out.append({"gpu": entry.get("name", name), "origin": "sweep",
                        "usd_per_gpu_hour": given, "source": None, "date": None})
            continue
        source = entry.get("price_source")
        out.append({"gpu": entry.get("name", name), "origin": "catalog",
                    "usd_per_gpu_hour": [entry.get("price_per_gpu_hour_usd")],
                    "source": source, "date": price_date(source)})
    return out


def provenance(sweep: Sweep) -> dict[str, Any]:
    """What the cover of a report states about its origin.

    Returns
    -------
    dict
        ``trainplan_version``, ``commit`` (of the checkout trainplan runs from, or
        ``"unknown"``), ``sweep_file`` (the file name), ``sweep_sha256`` (of its bytes) and
        ``prices`` (per GPU: price, origin ``sweep`` or ``catalog``, the catalog's source and
        its date).
    """
    return {"trainplan_version": __version__, "commit": git_commit(),
            "sweep_file": sweep.path.name, "sweep_sha256": sha256_of(sweep.path),
            "prices": prices(sweep)}
