"""Memory headroom of a recommendation, and the nearest layout with a safety margin.

The model already keeps ``memory_reserve_fraction`` of the GPU free for the allocator. A
layout that fits with less than :data:`HEADROOM_MARGIN_FRACTION` of the usable memory to
spare is still fragile: a framework version with larger workspaces (cuBLAS, NCCL buffers,
FP8 scale tensors), a longer sequence in the data or more fragmentation than the reserve
covers makes it run out. The report says so and names the fastest kept layout of the same
scenario that keeps the margin.
"""

from __future__ import annotations

import polars as pl

from trainplan.analysis.summary import GIB, summary_of

HEADROOM_MARGIN_FRACTION = 0.05
"""Headroom under which a recommendation is flagged, as a share of the usable memory."""


def headroom(rows: pl.DataFrame, top: dict) -> dict | None:
    """The headroom warning for ``top`` (the scenario's best layout), or None if it keeps
    the margin.

    Parameters
    ----------
    rows : polars.DataFrame
        The scenario's kept candidates (``feasible``, ``step_time_s``,
        ``memory_total_bytes``, ``memory_usable_bytes``).
    top : dict
        Its fastest feasible row.

    Returns
    -------
    dict or None
        ``headroom_gib``, ``margin_gib`` [GiB], ``safe`` (:func:`summary_of` of the fastest
        feasible row with at least the margin, or None) and ``slower_pct`` [%].
    """
    usable = float(top["memory_usable_bytes"])
    spare = usable - float(top["memory_total_bytes"])
    margin = HEADROOM_MARGIN_FRACTION * usable
    if spare >= margin:
        return None
    safe_rows = (rows.filter(pl.col("feasible")
                             & (pl.col("memory_usable_bytes") - pl.col("memory_total_bytes")
                                >= margin))
                 .sort("step_time_s", "config_id"))
    safe = safe_rows.row(0, named=True) if safe_rows.height else None
    return {"headroom_gib": spare / GIB, "margin_gib": margin / GIB,
            "safe": summary_of(safe) if safe else None,
            "slower_pct": (100.0 * (float(safe["step_time_s"]) / float(top["step_time_s"]) - 1)
                           if safe else None)}
