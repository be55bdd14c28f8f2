"""Labels, number formats and PNG bytes of the drawing helpers."""

from __future__ import annotations

import numpy as np
import polars as pl

from trainplan.render.figures import short_reason
from trainplan.render.figures._draw import fmt, new_figure, png_bytes, tick_labels


def test_short_reason():
    assert short_reason("does not fit in GPU memory") == "does not fit"
    assert short_reason("") == "infeasible"
    assert short_reason(None) == "infeasible"
    text = short_reason("heads, kv heads or ffn width not divisible by tp; does not fit in GPU "
                        "memory", 20)
    assert text.endswith("... (+1)") and len(text) <= 20 + len(" (+1)")


def test_tick_labels_name_the_reason_of_infeasible_rows():
    df = pl.DataFrame({"strategy": ["DP", "TP"], "feasible": [True, False],
                       "reason": [None, "does not fit in GPU memory"]})
    assert tick_labels(df) == ["DP", "TP\n(does not fit)"]
    assert tick_labels(df, newline=False) == ["DP", "TP (does not fit)"]


def test_fmt():
    assert fmt(0.41234) == "0.412"
    assert fmt(12345.6) == "12,346"
    assert fmt(float("nan")) == "n/a"


def test_png_bytes_carry_no_software_or_time():
    fig, (ax,) = new_figure()
    ax.plot(np.arange(3), np.arange(3))
    data = png_bytes(fig)
    assert data.startswith(b"\x89PNG") and data == png_bytes(fig)
    assert b"Software" not in data and b"tIME" not in data and b"matplotlib" not in data
