"""Shared fixtures and paths: the published tables copied into tests/data (tests never read
../shared) and the workflow's test configuration in .test/ (the sweeps the tests use)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import settings

# No per-example time limit: the suite runs on shared two-core machines, where a slow
# example says nothing about the code (speed is measured in benchmarks/, not in tests).
settings.register_profile("trainplan", deadline=None)
settings.load_profile("trainplan")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
TEST_CONFIG = ROOT / ".test"              # snakemake --directory .test: config/, sweeps/
TEST_SWEEPS = TEST_CONFIG / "sweeps"      # tiny.yaml, small_dp.yaml
BASELINE = DATA / "baseline"              # the pre-restructuring tables of those sweeps


@pytest.fixture(scope="session")
def zero_tables() -> pl.DataFrame:
    return pl.read_csv(DATA / "zero_memory_tables.csv", infer_schema_length=None)


@pytest.fixture(scope="session")
def layer_timings() -> pl.DataFrame:
    return pl.read_csv(DATA / "layer_timing_runs.csv", infer_schema_length=None)
