"""The answer figure follows the sweep's scenario axes: GPU count, two axes, one axis."""

from __future__ import annotations

import polars as pl
import pytest

from trainplan.render.figures import answer as fig_answer
from trainplan.render.figures._tables import Context


def _winners(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"scenario_id": list(range(n)), "rank_in_scenario": [1] * n,
            "time_to_train_days": [100.0 / (i + 1) for i in range(n)],
            "cost_usd": [1e7] * n}
    return pl.DataFrame({**base, **columns})


def _draw(best: pl.DataFrame, axes: tuple[str, ...]):
    empty = best.clear()
    return fig_answer.answer(Context(best=best, tp_pp=empty, pareto=empty, ref=empty,
                                     scenario_id=0, label="x", axes=axes))


def test_gpu_counts_give_time_and_cost_against_the_gpu_count():
    best = _winners(n_gpus=[8, 16, 8, 16], model=["a", "a", "b", "b"])
    drawn = _draw(best, ("model", "n_gpus"))
    assert drawn.title == "Time and cost against the number of GPUs"
    left, right = drawn.fig.axes[:2]
    assert len(left.lines) == 4                     # two models, each with its ideal line
    assert right.get_legend().get_title().get_text() == "model"


def test_two_axes_give_a_heat_map_with_every_cell_written():
    best = _winners(gpu=["A", "A", "B", "B"], precision=["bf16", "fp8", "bf16", "fp8"])
    drawn = _draw(best, ("gpu", "precision"))
    texts = [t.get_text() for t in drawn.fig.axes[0].texts]
    assert len(texts) == 4 and texts[0] == "100 d\n$10.0 M"


@pytest.mark.parametrize("axes", [(), ("gpu",)])
def test_one_axis_gives_bars_and_none_gives_nothing(axes):
    best = _winners(gpu=["A100", "H100", "B200"])
    drawn = _draw(best, axes)
    if not axes:
        assert drawn is None
    else:
        assert len(drawn.fig.axes[0].patches) == 3
