"""The template filters: units, thousands separators and "–" for missing values."""

from __future__ import annotations

import math

from jinja2 import Undefined

from trainplan.render import report


def test_filters():
    assert report.gib(63618731520) == "59.2 GiB"
    assert report.duration(0.4123) == "0.412 s"
    assert report.duration(13.04) == "13.0 s"
    assert report.duration(150) == "2.5 min"
    assert report.duration(3 * 3600) == "3.0 h"
    assert report.days(28.786) == "28.8 days"
    assert report.percent(0.6616) == "66.2 %"
    assert report.money(22107.3) == "$22,107"
    assert report.money(2.0) == "$2.00"
    assert report.count(1234567.0) == "1,234,567"
    for f in (report.gib, report.duration, report.days, report.percent, report.money,
              report.count, report.na):
        assert f(None) == "–"
        assert f(math.nan) == "–"
    assert report.na(0) == 0


def test_num_yesno_and_missing_values():
    assert report.num(1234.5) == "1,234.50"
    assert report.num(0.5, ".0%") == "50%"
    assert report.num(3, ",.0f", " GPUs") == "3 GPUs"
    assert report.num("x") == "–" and report.num(float("inf")) == "–" and report.num(True) == "–"
    assert report.yesno(True) == "yes" and report.yesno(0) == "no"
    assert report.yesno("maybe") == "maybe" and report.yesno(None) == "–"
    assert report.na(Undefined()) == "–" and report.na("  ") == "–"
    assert report.duration(-0.5) == "-0.5 s" and report.days(0.5) == "12.0 h"
    assert report.money(-250.0) == "-$250"


def test_money_short_keeps_three_significant_figures():
    from trainplan.render.report.filters import money_short

    assert money_short(11_912_345) == "$11.9 M"
    assert money_short(819_112) == "$819 k"
    assert money_short(2_500_000_000) == "$2.50 B"
    assert money_short(42.4) == "$42"
    assert money_short(-1_500) == "-$1.50 k"
    assert money_short(None) == "–"



def test_tokens_in_readable_units():
    assert report.FILTERS["tokens"](15e12) == "15 T"
    assert report.FILTERS["tokens"](1e11) == "100 B"
    assert report.FILTERS["tokens"](16_777_216) == "16.8 M"
    assert report.FILTERS["tokens"](999.9e9) == "1 T"          # rounded before it is scaled
    assert report.FILTERS["tokens"](512) == "512"
    assert report.FILTERS["tokens"](None) == "–"


def test_traffic_in_gb_memory_in_gib():
    assert report.FILTERS["gb"](121.2e9) == "121.2 GB"
    assert report.FILTERS["gib"](2**30 * 59.2) == "59.2 GiB"
    assert report.FILTERS["gb"](math.nan) == "–"
