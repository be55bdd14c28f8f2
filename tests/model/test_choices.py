"""The named choices and the vectorised registry dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from trainplan.model import choices as ch


def test_words_map_to_the_enum_values_in_order():
    assert list(ch.RECOMPUTE_NAMES.values()) == list(ch.Recompute)
    assert list(ch.SCHEDULE_NAMES.values()) == list(ch.Schedule)
    assert list(ch.ALGORITHM_NAMES.values()) == list(ch.Algorithm)
    assert ch.RECOMPUTE_NAMES == {"none": 0, "selective": 1, "full": 2}
    assert ch.SCHEDULE_NAMES == {"gpipe": 0, "1f1b": 1, "interleaved": 2}
    assert ch.ALGORITHM_NAMES == {"ring": 0, "tree": 1, "rhd": 2, "hierarchical": 3}


REGISTRY = {0: lambda x: x + 1.0, 1: lambda x: x * 10.0}


def test_dispatch_picks_each_rows_function():
    codes = np.array([[0, 1], [1, 0]])
    out = ch.dispatch(codes, REGISTRY, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(out, [[2.0, 20.0], [10.0, 3.0]])


def test_dispatch_broadcasts_a_single_code_against_the_codes():
    assert ch.dispatch(np.array([1, 1, 1]), REGISTRY, 2.0).shape == (3,)


def test_dispatch_evaluates_only_the_codes_present():
    def boom(x):
        raise AssertionError("evaluated")
    assert ch.dispatch(0, {0: lambda x: x, 1: boom}, 5.0) == 5.0


@pytest.mark.parametrize("codes", [2, np.array([0, 1, -1])])
def test_dispatch_rejects_unknown_codes(codes):
    with pytest.raises(ValueError, match="unknown code"):
        ch.dispatch(codes, REGISTRY, 1.0)
