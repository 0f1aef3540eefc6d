"""Human-readable numbers for the report: bytes, seconds, rates, ratios.

Every formatter takes ``None`` (or NaN) and returns the same "n/a" text, so a missing
metric never crashes a table.
"""

from __future__ import annotations

import math
from typing import TypeGuard

__all__ = [
    "NA",
    "fmt_bytes",
    "fmt_count",
    "fmt_fraction",
    "fmt_number",
    "fmt_p",
    "fmt_rate",
    "fmt_ratio",
    "fmt_seconds",
    "is_number",
]

NA = "n/a"


def is_number(value: object) -> TypeGuard[int | float]:
    """True for finite ints and floats (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def fmt_bytes(value: object) -> str:
    """Binary units, three significant figures: ``52.4 MiB``."""
    if not is_number(value):
        return NA
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def fmt_seconds(value: object) -> str:
    """Seconds with a unit that keeps three significant figures: ``250 ms``."""
    if not is_number(value):
        return NA
    s = float(value)
    if s == 0:
        return "0 s"
    if abs(s) < 1e-3:
        return f"{s * 1e6:.3g} µs"
    if abs(s) < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_rate(value: object) -> str:
    """Bytes per second in binary units: ``12.5 MiB/s``."""
    text = fmt_bytes(value)
    return text if text == NA else f"{text}/s"


def fmt_fraction(value: object) -> str:
    """A fraction as a percentage: ``0.05`` -> ``5.0%``."""
    if not is_number(value):
        return NA
    return f"{float(value) * 100:.1f}%"


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


def fmt_count(value: object) -> str:
    """An integer count (floats from medians are rounded)."""
    if not is_number(value):
        return NA
    return f"{round(float(value)):d}"


def fmt_number(value: object) -> str:
    """Any other number, three significant figures."""
    if not is_number(value):
        return NA
    return f"{float(value):.3g}"
