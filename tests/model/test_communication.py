"""Overlap and the per-dimension communication of one step."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainplan.model.communication import exposed_after_overlap

times = st.floats(0.0, 10.0)
fractions = st.floats(0.0, 1.0)


@given(times, times, fractions)
def test_exposed_time_lies_between_none_and_all_of_it(comm, window, eta):
    exposed = float(exposed_after_overlap(comm, window, eta))
    assert -1e-12 <= exposed <= comm
    assert exposed >= comm - window - 1e-12         # at most the window can be hidden


@given(times, fractions)
def test_a_long_window_hides_the_overlap_efficiency(comm, eta):
    assert float(exposed_after_overlap(comm, 1e9, eta)) == pytest.approx((1 - eta) * comm,
                                                                          abs=1e-12)


@given(times, times)
def test_no_overlap_efficiency_hides_nothing(comm, window):
    assert float(exposed_after_overlap(comm, window, 0.0)) == comm
