"""Jinja filters of the report: numbers formatted with their unit, and "–" for a missing value.

Every filter takes whatever the template hands it (a number, None, NaN, an undefined value)
and returns text; none of them computes a new number.
"""

from __future__ import annotations

import math
from typing import Any

from jinja2.runtime import Undefined

GIB = 2.0**30
DASH = "–"
"""What a missing value (None, NaN, undefined) is shown as."""


def is_missing(value: Any) -> bool:
    """True for None, an undefined value, NaN and a blank string."""
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _float(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, boolean, not a number, infinite)."""
    if is_missing(value) or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def na(value: Any) -> Any:
    """``value`` itself, or "–" for None, NaN, an empty string or an undefined value."""
    return DASH if is_missing(value) else value


def num(value: Any, spec: str = ",.2f", suffix: str = "") -> str:
    """``format(value, spec) + suffix``, or "–"."""
    x = _float(value)
    return DASH if x is None else format(x, spec) + suffix


def count(value: Any) -> str:
    """A large count with thousands separators: ``1,234,567``."""
    x = _float(value)
    return DASH if x is None else f"{round(x):,}"


def gib(value: Any, digits: int = 1) -> str:
    """Bytes as GiB: ``59.2 GiB``."""
    x = _float(value)
    return DASH if x is None else f"{x / GIB:,.{digits}f} GiB"


def gb(value: Any, digits: int = 1) -> str:
    """Bytes moved as GB (10^9 bytes, the unit of the bandwidths in GB/s): ``121.2 GB``.
    Memory is in GiB (:func:`gib`), traffic in GB, so volume / bandwidth is a time."""
    x = _float(value)
    return DASH if x is None else f"{x / 1e9:,.{digits}f} GB"


def duration(value: Any) -> str:
    """Seconds in the most readable unit: ``0.412 s``, ``13.0 s``, ``2.5 min``, ``3.1 h``."""
    x = _float(value)
    if x is None:
        return DASH
    ax = abs(x)
    if ax < 1:
        return f"{x:.3g} s"
    if ax < 60:
        return f"{x:.1f} s" if ax >= 10 else f"{x:.2f} s"
    if ax < 3600:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:,.1f} h"


def days(value: Any) -> str:
    """Days: ``28.8 days``; under a day in hours."""
    x = _float(value)
    if x is None:
        return DASH
    if abs(x) < 1:
        return f"{x * 24:.1f} h"
    return f"{x:,.1f} days"


def percent(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.662`` -> ``66.2 %``."""
    x = _float(value)
    return DASH if x is None else f"{x * 100:.{digits}f} %"


def money(value: Any) -> str:
    """US dollars with thousands separators: ``$22,107``; cents only under $100."""
    x = _float(value)
    if x is None:
        return DASH
    sign = "-" if x < 0 else ""
    return f"{sign}${abs(x):,.2f}" if abs(x) < 100 else f"{sign}${abs(x):,.0f}"


_SCALES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def money_short(value: Any) -> str:
    """US dollars in three significant figures with a scale: ``$11.9 M``, ``$819 k``,
    ``$42``."""
    x = _float(value)
    if x is None:
        return DASH
    sign = "-" if x < 0 else ""
    for scale, suffix in _SCALES:
        if abs(x) >= scale:
            scaled = abs(x) / scale
            digits = 0 if scaled >= 100 else 1 if scaled >= 10 else 2
            return f"{sign}${scaled:.{digits}f} {suffix}"
    return f"{sign}${abs(x):.0f}"


_TOKEN_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def tokens(value: Any) -> str:
    """A token count in three significant figures with a scale: ``15 T``, ``100 B``,
    ``2.5 M``, ``512``."""
    x = _float(value)
    if x is None:
        return DASH
    x = float(f"{x:.3g}")   # rounded first, so that 999.9 B reads 1 T, not 1e+03 B
    for scale, suffix in _TOKEN_SCALES:
        if abs(x) >= scale:
            scaled = x / scale
            text = f"{scaled:,.0f}" if abs(scaled) >= 1000 else f"{scaled:.3g}"
            return f"{text} {suffix}"
    return f"{x:.3g}"


def yesno(value: Any) -> str:
    """``yes`` or ``no`` for a truth value, a string as it is, or "–"."""
    if is_missing(value):
        return DASH
    if isinstance(value, str):
        return value
    return "yes" if value else "no"


def days_range(value: Any, low: Any, high: Any) -> str:
    """The band ``low``..``high`` times a number of days, in whole days: ``64–86 d``
    (in hours under two days: ``20–29 h``); a dash when anything is missing."""
    x, lo, hi = _float(value), _float(low), _float(high)
    if x is None or lo is None or hi is None:
        return DASH
    if x * hi < 2:
        return f"{x * lo * 24:,.0f}–{x * hi * 24:,.0f} h"
    return f"{x * lo:,.0f}–{x * hi:,.0f} d"


def money_range(value: Any, low: Any, high: Any) -> str:
    """The band ``low``..``high`` times an amount of dollars, the scale written once when
    both ends share it: ``$11.9–15.9 M``, ``$950 k–1.27 M``; a dash when anything is
    missing."""
    x, lo, hi = _float(value), _float(low), _float(high)
    if x is None or lo is None or hi is None:
        return DASH
    a, b = money_short(x * lo), money_short(x * hi)
    unit_a, unit_b = a.rpartition(" ")[2], b.rpartition(" ")[2]
    if " " in a and unit_a == unit_b:
        return f"{a.rpartition(' ')[0]}–{b.removeprefix('$')}"
    return f"{a}–{b.removeprefix('$')}"


FILTERS = {"na": na, "num": num, "count": count, "gib": gib, "gb": gb, "duration": duration,
           "days": days, "percent": percent, "money": money, "money_short": money_short,
           "tokens": tokens, "yesno": yesno, "days_range": days_range,
           "money_range": money_range}
"""The filters by the name the templates use."""
