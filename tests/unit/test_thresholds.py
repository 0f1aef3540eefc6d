"""Threshold parsing (units checked per metric kind) and evaluation on medians."""

from __future__ import annotations

import re

import pytest

from harness import thresholds as thresholds_module
from harness.analysis.thresholds import ThresholdResult, evaluate_thresholds
from harness.thresholds import (
    METRIC_ALIASES,
    METRICS,
    Threshold,
    parse_threshold,
)

VARIANTS = ("sync", "naive-async", "async", "async[streaming=off]", "curl", "my_plugin-2")


@pytest.mark.parametrize(
    ("text", "variant", "baseline", "metric", "op", "value"),
    [
        ("async.latency_p99 < 2s", "async", None, "latency_p99_s", "<", 2.0),
        ("async.latency < 500ms", "async", None, "latency_p50_s", "<", 0.5),
        ("async.timeout_rate < 1%", "async", None, "timeout_rate", "<", 0.01),
        ("async.success_rate >= 0.99", "async", None, "success_rate", ">=", 0.99),
        ("async/sync.throughput > 5x", "async", "sync", "throughput_bytes_per_s", ">", 5.0),
        ("async.memory_slope < 0.05", "async", None, "memory_slope", "<", 0.05),
        ("async.memory <= 64MiB", "async", None, "heap_peak_bytes", "<=", 64 * 1024**2),
        ("async.throughput > 50MiB/s", "async", None, "throughput_bytes_per_s", ">", 50 * 1024**2),
        ("async.retries <= 3", "async", None, "retries", "<=", 3),
        (
            "async[streaming=off].rss<1GiB",
            "async[streaming=off]",
            None,
            "rss_peak_bytes",
            "<",
            1024**3,
        ),
        ("curl/sync.wall >= 0.5x", "curl", "sync", "wall_s", ">=", 0.5),
        ("my_plugin-2 / curl.wall >= 1.5x", "my_plugin-2", "curl", "wall_s", ">=", 1.5),
        (
            "async[streaming=off]/async.heap_peak > 2x",
            "async[streaming=off]",
            "async",
            "heap_peak_bytes",
            ">",
            2.0,
        ),
    ],
)
def test_parse(
    text: str, variant: str, baseline: str | None, metric: str, op: str, value: float
) -> None:
    t = parse_threshold(text, VARIANTS)
    assert (t.variant, t.baseline, t.metric, t.op) == (variant, baseline, metric, op)
    assert t.value == pytest.approx(value)
    assert t.text == text
    # the canonical spelling parses back to the same threshold
    again = parse_threshold(t.canonical, VARIANTS)
    assert (again.variant, again.baseline, again.metric, again.op, again.value) == (
        t.variant,
        t.baseline,
        t.metric,
        t.op,
        t.value,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("async.speed < 2s", "unknown metric 'speed'; allowed: wall_s"),
        ("async.latency_p99 < 2", "add a unit"),
        ("async.latency_p99 < 2MiB", "unknown duration unit 'MiB'"),
        ("async.timeout_rate < 5s", "percentage"),
        ("async.memory < 2s", "unknown size unit 's'"),
        ("async.throughput > 5x", "'x' is for ratios"),
        ("async/sync.throughput > 5s", "ratio such as '5x'"),
        ("turbo.wall_s < 1s", "names no variant of this scenario; allowed: 'sync'"),
        ("async/turbo.wall_s < 1x", "names no variant"),
        ("async/async.wall_s < 1x", "with itself"),
        ("async.wall_s = 1s", "cannot parse"),
        # names never hold "." or "/": a spec written out is not a name
        ("cmd:curl -sf http://x/{name}.wall_s < 1s", "cannot parse"),
        ("pkg.mod:Up.wall_s < 1s", "cannot parse"),
        ("a/b/c.wall_s < 1x", "cannot parse"),
        ("async.wall_s", "cannot parse"),
        ("", "cannot parse"),
    ],
)
def test_parse_errors_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        parse_threshold(text, VARIANTS)
    assert "\n" not in str(info.value)


def test_every_alias_points_at_a_metric() -> None:
    assert set(METRIC_ALIASES.values()) <= set(METRICS)
    assert not set(METRIC_ALIASES) & set(METRICS)


def rows(metric: str, *values: float) -> list[dict[str, float]]:
    return [{metric: v} for v in values]


def test_evaluate_uses_the_median_over_repeats() -> None:
    ts = [parse_threshold("async.latency_p99 < 2s"), parse_threshold("async.latency_p99 < 1s")]
    # one slow outlier repeat does not flip a verdict that the median supports
    data = {"async": rows("latency_p99_s", 1.5, 1.6, 30.0)}
    results = evaluate_thresholds(ts, data)
    assert [r.passed for r in results] == [True, False]
    assert results[0].measured == pytest.approx(1.6)
    assert results[0].threshold == "async.latency_p99 < 2s"
    assert "median of 3" in results[0].detail


def test_evaluate_ratio_of_medians() -> None:
    t = parse_threshold("async/sync.throughput > 5x")
    data = {
        "async": rows("throughput_bytes_per_s", 60.0, 50.0, 70.0),
        "sync": rows("throughput_bytes_per_s", 10.0, 11.0, 9.0),
    }
    (result,) = evaluate_thresholds([t], data)
    assert isinstance(result, ThresholdResult)
    assert result.measured == pytest.approx(60.0 / 10.0)
    assert result.passed is True
    assert "6x" in result.detail


def test_evaluate_without_data_is_undecided() -> None:
    ratio = parse_threshold("async/sync.throughput > 5x")
    plain = parse_threshold("async.memory_slope < 0.05")
    nan = float("nan")
    results = evaluate_thresholds(
        [ratio, plain, ratio],
        {
            "async": [{"throughput_bytes_per_s": 5.0, "memory_slope": nan}],
            "sync": rows("throughput_bytes_per_s", 0.0),
        },
    )
    assert [r.passed for r in results] == [None, None, None]
    assert all(r.measured is None for r in results)
    assert "is 0" in results[0].detail
    assert "no memory_slope data" in results[1].detail
    assert evaluate_thresholds([ratio], {})[0].passed is None


def test_threshold_is_frozen() -> None:
    t = parse_threshold("async.wall < 1s")
    assert isinstance(t, Threshold)
    assert t.holds(0.5)
    assert not t.holds(1.0)
    with pytest.raises(AttributeError):
        t.op = ">"  # type: ignore[misc]


def test_public_names() -> None:
    assert set(thresholds_module.__all__) == {
        "METRICS",
        "METRIC_ALIASES",
        "MetricKind",
        "Threshold",
        "format_metric",
        "parse_threshold",
        "resolve_metric",
    }
