"""Strategy order and styles: a fixed order, and series that differ without colour."""

from __future__ import annotations

from trainplan.render.figures import STRATEGY_ORDER, strategy_order
from trainplan.render.figures._style import part_styles, strategy_style


def test_strategy_order():
    names = ["custom", "3D (DP x TP x PP)", "DP + CP", "TP", "DP", "single GPU", "DP"]
    assert strategy_order(names) == ["single GPU", "DP", "DP + CP", "TP", "3D (DP x TP x PP)",
                                     "custom"]


def test_every_strategy_has_its_own_line_and_marker():
    """In greyscale a series is told apart by line style and marker (and marker fill)."""
    looks = {(str(s["linestyle"]), s["marker"], s["markerfacecolor"] == "white")
             for s in map(strategy_style, STRATEGY_ORDER)}
    assert len(looks) == len(STRATEGY_ORDER)
    cp = strategy_style("DP + CP")
    assert cp["markerfacecolor"] == "white" and cp["marker"] != strategy_style("DP")["marker"]
    assert strategy_style("custom") == strategy_style("custom")


def test_stacked_parts_differ_by_hatch():
    styles = part_styles(5)
    assert len({s["hatch"] for s in styles}) == 5
    assert len({s["facecolor"] for s in styles}) == 5
    assert len(part_styles(1)) == 1
