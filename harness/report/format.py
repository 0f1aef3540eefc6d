"""The report's text for values that are not a metric's: ratios, p-values, counts.

A metric's value is written by :func:`fmt_metric`, which is :func:`harness.metrics.format_value`
for the metric's kind (the one formatter of the console, the exports and the report); what
is missing is :data:`harness.metrics.MISSING` everywhere ("n/a").
"""

from __future__ import annotations

import math
from typing import TypeGuard

from harness.metrics import METRICS, MISSING, MetricKind, format_value

__all__ = [
    "NA",
    "fmt_change",
    "fmt_count",
    "fmt_kind",
    "fmt_metric",
    "fmt_p",
    "fmt_ratio",
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
