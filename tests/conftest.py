"""Shared fixtures: the published tables copied into tests/data (tests never read ../shared)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def zero_tables() -> pl.DataFrame:
    return pl.read_csv(DATA / "zero_memory_tables.csv", infer_schema_length=None)


@pytest.fixture(scope="session")
def layer_timings() -> pl.DataFrame:
    return pl.read_csv(DATA / "layer_timing_runs.csv", infer_schema_length=None)
