"""The report's text for values that are not a metric's: ratios, p-values, counts.

A metric's value is written by :func:`fmt_metric`, which is :func:`harness.metrics.format_value`
for the metric's kind (the one formatter of the console, the exports and the report); what
is missing is :data:`harness.metrics.MISSING` everywhere ("n/a").
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeGuard

from harness.metrics import METRICS, MISSING, MetricKind, format_value

__all__ = [
    "NA",
    "ColumnUnit",
    "change_class",
    "column_unit",
    "fmt_change",
    "fmt_count",
    "fmt_kind",
    "fmt_metric",
    "fmt_p",
    "fmt_ratio",
    "fmt_relative",
    "is_number",
]

NA = MISSING


def is_number(value: object) -> TypeGuard[int | float]:
    """True for finite ints and floats (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def fmt_metric(metric: str, value: object) -> str:
    """``value`` of ``metric`` in the metric table's format; a name the table does not know
    (a newer comparison's check) is written as a plain number."""
    row = METRICS.get(metric)
    return row.format(value) if row is not None else format_value("number", value)


def fmt_kind(kind: MetricKind, value: object) -> str:
    """A value that is no metric's but has a metric kind (the machine's memory, bytes)."""
    return format_value(kind, value)


def fmt_count(value: object) -> str:
    """A count (medians of counts may be fractional: three significant figures then)."""
    return format_value("count", value)


def fmt_ratio(value: object) -> str:
    """A candidate/baseline ratio: ``0.42x``."""
    if not is_number(value):
        return NA
    return f"{float(value):.3g}x"


def fmt_p(value: object) -> str:
    """A p-value; tiny ones as an upper bound."""
    if not is_number(value):
        return NA
    p = float(value)
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def fmt_change(
    metric: str, scale: str, effect: object, ci: tuple[object, object] | None = None
) -> str:
    """A paired change head against base with its CI, as the job summary writes it
    (:mod:`harness.compare.paired`): on the ratio scale ``effect`` is ``ratio - 1``
    (``+8.0% [+2.1%, +14.3%]``); on the difference scale the difference itself, in
    percentage points for a fraction (``-0.50 pp [...]``), else a plain signed number."""
    if not is_number(effect):
        return NA
    row = METRICS.get(metric)

    def one(x: float) -> str:
        if scale == "ratio":
            return f"{x * 100:+.1f}%"
        if row is not None and row.kind == "fraction":
            return f"{x * 100:+.2f} pp"
        return f"{x:+.3g}"

    text = one(float(effect))
    if ci is not None and is_number(ci[0]) and is_number(ci[1]):
        text += f" [{one(float(ci[0]))}, {one(float(ci[1]))}]"
    return text


# How a change reads, per metric kind: (the word when the value got smaller, when larger).
_CHANGE_WORDS: dict[str, tuple[str, str]] = {
    "time": ("faster", "slower"),
    "bytes_per_s": ("slower", "faster"),
    "per_s": ("slower", "faster"),
    "bytes": ("less", "more"),
    "count": ("fewer", "more"),
}
# From this factor on a change reads as "14x faster", below it as "31% less".
_FACTOR_FROM = 2.0


def _factor_text(factor: float) -> str:
    return f"{factor:.0f}" if factor >= 10 else f"{factor:.1f}".removesuffix(".0")


def _percent_text(share: float, *, sign: bool = True) -> str:
    pct = share * 100
    if 0 < pct < 0.05:
        return "<0.1" + ("%" if sign else "")
    text = f"{pct:.0f}" if pct >= 10 else f"{pct:.1f}".removesuffix(".0")
    return text + ("%" if sign else "")


def fmt_relative(metric: str, ratio: object, ci_low: object = None, ci_high: object = None) -> str:
    """A ratio candidate/baseline as a reader says it, in the metric's words: ``14x faster
    (11-16x)`` from 2x on, ``31% less (28-34%)`` below; a CI reaching across no change
    names both ends (``5% faster (CI 2% slower to 12% faster)``). Wall time 0.07x reads
    "14x faster", throughput 0.82x "18% slower", RSS 0.69x "31% less"."""
    if not is_number(ratio) or ratio <= 0:
        return NA
    row = METRICS.get(metric)
    # CPU seconds are an amount spent, not a speed
    kind = "bytes" if metric.startswith("cpu_") else row.kind if row else "number"
    smaller, larger = _CHANGE_WORDS.get(kind, ("lower", "higher"))
    r = float(ratio)

    def word(x: float) -> str:
        return smaller if x < 1 else larger

    def factor(x: float) -> float:
        return 1 / x if x < 1 else x

    as_factor = factor(r) >= _FACTOR_FROM
    if r == 1.0:
        text = "no change"
    elif as_factor:
        text = f"{_factor_text(factor(r))}x {word(r)}"
    else:
        text = f"{_percent_text(abs(r - 1))} {word(r)}"
    if not (is_number(ci_low) and is_number(ci_high)) or ci_low <= 0 or ci_high <= 0:
        return text
    if ci_low == ci_high == r:
        return text  # every resample agreed: no interval to show
    low, high = float(ci_low), float(ci_high)

    def one(x: float) -> str:
        if x == 1.0:
            return "no change"
        if as_factor:
            return f"{_factor_text(factor(x))}x {word(x)}"
        return f"{_percent_text(abs(x - 1))} {word(x)}"

    if (low < 1 and high < 1 and r < 1) or (low > 1 and high > 1 and r > 1):
        a, b = sorted((factor(low), factor(high)))
        if as_factor:
            return f"{text} ({_factor_text(a)}-{_factor_text(b)}x)"
        a, b = sorted(abs(x - 1) for x in (low, high))
        return f"{text} ({_percent_text(a, sign=False)}-{_percent_text(b)})"
    return f"{text} (CI {one(low)} to {one(high)})"


def change_class(metric: str, ratio: object) -> str:
    """``good``, ``bad`` or ``neutral``: the direction of a ratio by the metric's."""
    row = METRICS.get(metric)
    if row is None or not is_number(ratio) or ratio == 1:
        return "neutral"
    return "good" if (ratio > 1) == row.higher_is_better else "bad"


@dataclass(frozen=True)
class ColumnUnit:
    """One unit for a whole column, so its numbers compare down the column: the unit's
    text (for the header) and how many base units it holds."""

    unit: str
    scale: float
    kind: str

    def format(self, value: object) -> str:
        """The value in this unit without the unit (it is in the header); n/a if missing."""
        if not is_number(value):
            return NA
        if self.kind not in _SCALED:
            return format_value(self.kind, value)  # type: ignore[arg-type]
        x = float(value) / self.scale
        size = abs(x)
        return f"{x:.0f}" if size >= 100 else f"{x:.1f}" if size >= 10 else f"{x:.2f}"

    def title(self, title: str) -> str:
        """``wall time (ms)``: the column's title with its unit."""
        return f"{title} ({self.unit})" if self.unit else title


_BINARY = (("B", 1.0), ("KiB", 1024.0), ("MiB", 1024.0**2), ("GiB", 1024.0**3))
_SCALED: dict[str, tuple[tuple[str, float], ...]] = {
    "time": (("µs", 1e-6), ("ms", 1e-3), ("s", 1.0)),
    "bytes": _BINARY,
    "bytes_per_s": tuple((f"{u}/s", f) for u, f in _BINARY),
    "fraction": (("%", 0.01),),
}


def column_unit(metric: str, values: Iterable[object]) -> ColumnUnit:
    """The unit a column of ``metric`` is written in: the largest unit in which the
    column's median magnitude is at least 1 (``ms`` for 12-900 ms, ``MiB/s`` for
    throughput). Kinds without units (counts, files/s) keep the metric formatter."""
    row = METRICS.get(metric)
    kind = row.kind if row else "number"
    units = _SCALED.get(kind)
    if units is None:
        return ColumnUnit("", 1.0, kind)
    sizes = sorted(abs(float(v)) for v in values if is_number(v) and v != 0)
    if not sizes:
        return ColumnUnit(units[-1][0] if kind == "time" else units[0][0], 1.0, kind)
    mid = sizes[len(sizes) // 2]
    unit, scale = units[0]
    for name, factor in units:
        if mid >= factor:
            unit, scale = name, factor
    if kind == "time" and scale == 1e-6 and mid >= 1e-3:
        unit, scale = "ms", 1e-3
    return ColumnUnit(unit, scale, kind)
