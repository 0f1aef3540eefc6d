"""Sizes, durations, percentages and ratios as scenario files write them."""

from __future__ import annotations

import pytest

from harness import units
from harness.units import (
    format_duration,
    format_size,
    parse_duration,
    parse_percent,
    parse_ratio,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (512, 512),
        ("512", 512),
        ("64KiB", 65536),
        ("5 MiB", 5 * 1024**2),
        ("1MB", 1_000_000),
        ("1mb", 1_000_000),
        ("1.5GiB", 1536 * 1024**2),
        ("0", 0),
        ("2kB", 2000),
        ("1e3B", 1000),
    ],
)
def test_parse_size(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5 MB/s", "unknown size unit"),
        ("5 parsecs", "unknown size unit"),
        ("-3KiB", "not negative"),
        ("1.5B", "whole number of bytes"),
        ("MiB", "expected a size"),
        ("", "expected a size"),
        (True, "expected a size"),
        (None, "expected a size"),
        (float("inf"), "not negative"),
    ],
)
def test_parse_size_rejects_with_what_is_allowed(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_size(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("1.5 min", 90.0),
        ("250us", 250e-6),
        ("1h", 3600.0),
        (3, 3.0),
        ("3", 3.0),
    ],
)
def test_parse_duration(text: object, expected: float) -> None:
    assert parse_duration(text) == pytest.approx(expected)


def test_bare_duration_uses_the_field_unit() -> None:
    assert parse_duration(500, default_unit="ms") == pytest.approx(0.5)
    assert parse_duration("2s", default_unit="ms") == pytest.approx(2.0)


@pytest.mark.parametrize("bad", ["2 fortnights", "-1s", "fast", [], False])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_percent_and_ratio() -> None:
    assert parse_percent("1%") == pytest.approx(0.01)
    assert parse_percent(0.25) == 0.25
    assert parse_percent("100%") == 1.0
    assert parse_ratio("5x") == 5.0
    assert parse_ratio("0.8X") == 0.8
    assert parse_ratio(3) == 3.0
    for bad in ("150%", "2", "1 apple", -0.1):
        with pytest.raises(ValueError, match="percentage"):
            parse_percent(bad)
    for bad in ("5s", "-2x", "x"):
        with pytest.raises(ValueError, match="ratio"):
            parse_ratio(bad)


def test_format_round_trips() -> None:
    for size in (0, 1, 1000, 1024, 5 * 1024**2, 1536, 3 * 1024**3, 123457):
        assert parse_size(format_size(size)) == size or "." in format_size(size)
    assert format_size(5 * 1024**2) == "5MiB"
    assert format_size(1536) == "1.5KiB"
    assert format_size(1000) == "1000B"
    assert format_duration(0.5) == "500ms"
    assert format_duration(90) == "1.5min"


def test_public_names() -> None:
    assert set(units.__all__) == {
        "DURATION_UNITS",
        "SIZE_UNITS",
        "format_duration",
        "format_size",
        "parse_duration",
        "parse_fraction",
        "parse_percent",
        "parse_ratio",
        "parse_size",
    }
