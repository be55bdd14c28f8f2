"""Pipeline schedules: bubble, micro-batches in flight, registries and stage times."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainplan.model import pipeline as pl
from trainplan.model.choices import Schedule


def test_first_stage_holds_p_microbatches_and_interleaving_adds_its_factor():
    p, m = 8, 64
    assert pl.inflight_microbatches_first_stage(Schedule.GPIPE, p, m, 1) == m
    assert pl.inflight_microbatches_first_stage(Schedule.ONE_F_ONE_B, p, m, 1) == p
    v = 4
    layers_worth = pl.inflight_microbatches_first_stage(Schedule.INTERLEAVED, p, m, v) / p
    assert layers_worth == pytest.approx(1 + (p - 1) / (p * v))   # Korthikanti Sec. 4.2.3
    assert pl.inflight_microbatches_first_stage(Schedule.ONE_F_ONE_B, p, 3, 1) == 3


def test_last_stage_of_1f1b_holds_one_and_no_pipeline_holds_one():
    assert pl.inflight_microbatches_last_stage(Schedule.ONE_F_ONE_B, 8, 64, 1) == 1
    for schedule in Schedule:
        assert pl.inflight_microbatches_first_stage(schedule, 1, 64, 1) == 1
        assert pl.inflight_microbatches_last_stage(schedule, 1, 64, 1) == 1


def test_schedule_registries_cover_every_schedule_and_reject_unknown_codes():
    assert set(pl.FIRST_STAGE_INFLIGHT) == set(pl.LAST_STAGE_INFLIGHT) == set(Schedule)
    with pytest.raises(ValueError, match="unknown code"):
        pl.inflight_microbatches_first_stage(np.array([1, 3]), 4, 8, 1)


def test_bubble_fractions():
    # GPipe paper: (p-1)/(m+p-1); 4 stages, 16 micro-batches: 3/19
    assert pl.bubble_fraction(4, 16, 1) == pytest.approx(3 / 19)
    # Narayanan 2021 Sec. 2.2.2: interleaving divides the bubble time by v: 3/16 -> 3/32
    assert pl.bubble_time_ratio(4, 16, 2) == pytest.approx(3 / 32)
    assert pl.pipeline_efficiency(1, 16, 1) == 1.0


@given(st.integers(1, 64), st.integers(1, 512), st.integers(1, 8))
def test_bubble_fraction_and_ratio_agree(p, m, v):
    """f = r/(1+r): the idle share of the whole from the idle time relative to the ideal."""
    r = pl.bubble_time_ratio(p, m, v)
    assert pl.bubble_fraction(p, m, v) == pytest.approx(r / (1 + r), rel=1e-12)
