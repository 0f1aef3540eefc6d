"""Parse and format the units scenario files use: sizes, durations, percentages, ratios.

Every parser takes what TOML gives (a string or a number) and raises :class:`ValueError`
with a one-line message that says what is allowed. Sizes are whole bytes; durations are
seconds (float); percentages are fractions (``"1%"`` -> ``0.01``); ratios are floats.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "DURATION_UNITS",
    "SIZE_UNITS",
    "format_duration",
    "format_size",
    "parse_duration",
    "parse_fraction",
    "parse_percent",
    "parse_ratio",
    "parse_size",
]

# Case-insensitive: "mb" and "MB" both mean megabytes. Bits are never meant in a file size,
# so there is no "Mb" ambiguity to preserve.
SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE_SHOWN = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"

DURATION_UNITS: dict[str, float] = {
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "h": 3600.0,
}
_DURATION_SHOWN = "us, ms, s, min, h"

_NUMBER_UNIT_RE = re.compile(
    r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([^\s\d.]*)\s*$"
)


def _split(text: str) -> tuple[float, str] | None:
    match = _NUMBER_UNIT_RE.match(text)
    if match is None:
        return None
    return float(match[1]), match[2]


def _number(value: object) -> float | None:
    # bool is an int subclass; `true` is never a size or a duration
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def parse_size(value: object) -> int:
    """Bytes from ``512``, ``"64KiB"``, ``"5 MiB"``, ``"1MB"`` or ``"1.5GiB"`` (>= 0)."""
    allowed = f"a size such as 512, '64KiB' or '1.5GiB' (units: {_SIZE_SHOWN})"
    number = _number(value)
    if number is not None:
        unit = "b"
    elif isinstance(value, str) and (parts := _split(value)) is not None:
        number, unit = parts[0], (parts[1] or "b").lower()
        if unit not in SIZE_UNITS:
            raise ValueError(f"unknown size unit {parts[1]!r} in {value!r}; use {allowed}")
    else:
        raise ValueError(f"expected {allowed}, got {value!r}")
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"expected {allowed} (finite, not negative), got {value!r}")
    scaled = number * SIZE_UNITS[unit]
    whole = round(scaled)
    # 1.5GiB is whole bytes; 1.5B or 0.3KB (300.00000000000006) are a typo or float noise
    if abs(scaled - whole) > 1e-6 * max(1.0, scaled):
        raise ValueError(f"{value!r} is not a whole number of bytes")
    return int(whole)


def parse_duration(value: object, default_unit: str = "s") -> float:
    """Seconds from ``"500ms"``, ``"2s"``, ``"1.5 min"``; a bare number is in
    ``default_unit`` (seconds unless the field name says otherwise, e.g. ``timeout_ms``)."""
    allowed = f"a duration such as '500ms', '2s' or '1.5min' (units: {_DURATION_SHOWN})"
    number = _number(value)
    if number is not None:
        unit = default_unit
    elif isinstance(value, str) and (parts := _split(value)) is not None:
        number, unit = parts[0], parts[1] or default_unit
        if unit not in DURATION_UNITS:
            raise ValueError(f"unknown duration unit {parts[1]!r} in {value!r}; use {allowed}")
    else:
        raise ValueError(f"expected {allowed}, got {value!r}")
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"expected {allowed} (finite, not negative), got {value!r}")
    return number * DURATION_UNITS[unit]


def parse_percent(value: object) -> float:
    """A fraction from ``"1%"`` (-> 0.01) or a bare number already in 0..1 (``0.01``)."""
    allowed = "a percentage such as '1%' or a fraction between 0 and 1"
    number = _number(value)
    if number is None:
        if not isinstance(value, str) or (parts := _split(value)) is None:
            raise ValueError(f"expected {allowed}, got {value!r}")
        number, unit = parts
        if unit == "%":
            number /= 100.0
        elif unit:
            raise ValueError(f"unknown unit {unit!r} in {value!r}; expected {allowed}")
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"expected {allowed}, got {value!r}")
    return number


parse_fraction = parse_percent


def parse_ratio(value: object) -> float:
    """A ratio from ``"5x"`` or a bare positive number."""
    allowed = "a ratio such as '5x' or '0.8x'"
    number = _number(value)
    if number is None:
        if not isinstance(value, str) or (parts := _split(value)) is None:
            raise ValueError(f"expected {allowed}, got {value!r}")
        number, unit = parts
        if unit.lower() not in ("x", ""):
            raise ValueError(f"unknown unit {unit!r} in {value!r}; expected {allowed}")
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"expected {allowed} (finite, not negative), got {value!r}")
    return number


def format_size(size: int) -> str:
    """The shortest exact binary form: ``5242880`` -> ``"5MiB"``, ``1000`` -> ``"1000B"``;
    sizes that are no whole number of KiB get one decimal (``"1.5KiB"``) or stay in bytes."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and (size * 10) % factor == 0:
            return f"{size / factor:.1f}{unit}"
    return f"{size}B"


def format_duration(seconds: float) -> str:
    """A short human form: ``0.5`` -> ``"500ms"``, ``2`` -> ``"2s"``, ``90`` -> ``"1.5min"``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g}us"
    if seconds < 1:
        return f"{seconds * 1e3:.3g}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    return f"{seconds / 60:.3g}min"
