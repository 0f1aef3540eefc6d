"""k6-like pass/fail thresholds on a scenario's metrics.

Two forms::

    VARIANT.METRIC OP VALUE[unit]          async.latency_p99 < 2s, async.timeout_rate < 1%
    VARIANT/BASELINE.METRIC OP VALUE[x]    async/sync.throughput > 5x   (ratio of medians)

``OP`` is one of ``< <= > >=``. The statistic is the **median over the measured repeats**
(warm-up and profiled trials are never passed in), so one noisy repeat cannot flip a verdict.
Units are checked against the metric's kind: times need ``us/ms/s/min``, rates take ``%`` or
a fraction, sizes ``B/KiB/MiB/...``, throughput a size per second (``50MiB/s``), ratios ``x``.
"""

from __future__ import annotations

import math
import operator
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from harness.units import (
    format_duration,
    format_size,
    parse_duration,
    parse_percent,
    parse_ratio,
    parse_size,
)

__all__ = [
    "METRICS",
    "METRIC_ALIASES",
    "MetricKind",
    "Threshold",
    "ThresholdResult",
    "evaluate_thresholds",
    "format_metric",
    "parse_threshold",
    "resolve_metric",
]

MetricKind = Literal["time", "fraction", "bytes", "bytes_per_s", "per_s", "count", "number"]

# The results contract (DESIGN.md) plus the derived memory_slope (bytes of heap peak per byte
# of file, from the size sweep of the profiled trials; issue 5).
METRICS: dict[str, MetricKind] = {
    "wall_s": "time",
    "throughput_bytes_per_s": "bytes_per_s",
    "files_per_s": "per_s",
    "latency_p50_s": "time",
    "latency_p90_s": "time",
    "latency_p99_s": "time",
    "latency_max_s": "time",
    "success_rate": "fraction",
    "timeout_rate": "fraction",
    "error_rate": "fraction",
    "retries": "count",
    "integrity_errors": "count",
    "connections_opened": "count",
    "loop_lag_p99_s": "time",
    "loop_lag_max_s": "time",
    "loop_blocked_fraction": "fraction",
    "rss_peak_bytes": "bytes",
    "cpu_user_s": "time",
    "cpu_sys_s": "time",
    "heap_peak_bytes": "bytes",
    "memory_slope": "number",
}

METRIC_ALIASES: dict[str, str] = {
    "wall": "wall_s",
    "throughput": "throughput_bytes_per_s",
    "files_per_second": "files_per_s",
    "latency": "latency_p50_s",
    "latency_p50": "latency_p50_s",
    "latency_p90": "latency_p90_s",
    "latency_p99": "latency_p99_s",
    "latency_max": "latency_max_s",
    "loop_lag": "loop_lag_p99_s",
    "loop_lag_p99": "loop_lag_p99_s",
    "loop_lag_max": "loop_lag_max_s",
    "loop_blocked": "loop_blocked_fraction",
    "rss": "rss_peak_bytes",
    "rss_peak": "rss_peak_bytes",
    "cpu_user": "cpu_user_s",
    "cpu_sys": "cpu_sys_s",
    "memory": "heap_peak_bytes",
    "heap": "heap_peak_bytes",
    "heap_peak": "heap_peak_bytes",
    "connections": "connections_opened",
}

# The unit each kind's values are stored in, as the canonical spelling writes it.
_BASE_UNITS: dict[MetricKind, str] = {
    "time": "s",
    "fraction": "",
    "bytes": "B",
    "bytes_per_s": "B/s",
    "per_s": "/s",
    "count": "",
    "number": "",
}

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

# The left side is greedy so the metric is the last dotted name before the operator: variant
# specs may themselves contain dots (``pkg.mod:attr``) and slashes (``cmd:...``).
_THRESHOLD_RE = re.compile(
    r"^\s*(?P<lhs>.+)\.(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|<|>)\s*(?P<value>\S.*?)\s*$"
)
_FORMS = "'VARIANT.METRIC OP VALUE' or 'VARIANT/BASELINE.METRIC OP VALUEx' with OP one of < <= > >="


@dataclass(frozen=True)
class Threshold:
    """A parsed threshold. ``value`` is in the metric's base unit (s, fraction, B, B/s) or,
    for a ratio, the plain ratio."""

    text: str
    variant: str
    metric: str
    op: str
    value: float
    baseline: str | None = None  # set for the ratio form

    @property
    def is_ratio(self) -> bool:
        return self.baseline is not None

    @property
    def canonical(self) -> str:
        """The same threshold in one spelling: aliases resolved, the value in base units."""
        lhs = f"{self.variant}/{self.baseline}" if self.baseline is not None else self.variant
        suffix = "x" if self.is_ratio else _BASE_UNITS[METRICS[self.metric]]
        # exact (repr) but without a trailing ".0", so "2s" stays "2s" in reports
        value = self.value
        shown = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
        return f"{lhs}.{self.metric} {self.op} {shown}{suffix}"

    def holds(self, measured: float) -> bool:
        return _OPS[self.op](measured, self.value)


@dataclass(frozen=True)
class ThresholdResult:
    """``passed`` is None when there is no data to decide (no repeats, or a zero baseline)."""

    threshold: str
    passed: bool | None
    measured: float | None
    detail: str


def resolve_metric(name: str) -> str:
    """The contract name of a metric or alias; ``ValueError`` lists what is allowed."""
    if name in METRICS:
        return name
    if name in METRIC_ALIASES:
        return METRIC_ALIASES[name]
    raise ValueError(
        f"unknown metric {name!r}; allowed: {', '.join(METRICS)} "
        f"(aliases: {', '.join(METRIC_ALIASES)})"
    )


def _parse_value(raw: str, metric: str) -> float:
    kind = METRICS[metric]
    try:
        if kind == "time":
            if re.fullmatch(r"[+-]?[\d.eE+-]+", raw):
                raise ValueError(f"add a unit to {raw!r}: us, ms, s or min")
            return parse_duration(raw)
        if kind == "fraction":
            return parse_percent(raw)
        if kind == "bytes":
            return float(parse_size(raw))
        if kind in ("bytes_per_s", "per_s"):
            per_second = raw[:-2].strip() if raw.endswith("/s") else raw
            if kind == "bytes_per_s":
                return float(parse_size(per_second))
            return _plain_number(per_second)
        return _plain_number(raw)
    except ValueError as exc:
        raise ValueError(f"bad value for {metric} ({kind}): {exc}") from None


def _plain_number(raw: str) -> float:
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(f"expected a plain number, got {raw!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"expected a finite number >= 0, got {raw!r}")
    return number


def _split_variants(lhs: str, variants: Sequence[str] | None) -> tuple[str, str | None]:
    lhs = lhs.strip()
    if variants is None:
        if "/" in lhs and not lhs.startswith("cmd:"):
            left, _, right = lhs.partition("/")
            return left.strip(), right.strip()
        return lhs, None
    if lhs in variants:
        return lhs, None
    # a cmd: template may contain '/', so try every split point against the known variants
    for index, char in enumerate(lhs):
        if char == "/":
            left, right = lhs[:index].strip(), lhs[index + 1 :].strip()
            if left in variants and right in variants:
                return left, right
    shown = ", ".join(repr(v) for v in variants)
    raise ValueError(f"{lhs!r} names no variant of this scenario; allowed: {shown}")


def parse_threshold(text: str, variants: Sequence[str] | None = None) -> Threshold:
    """Parse one threshold; with ``variants``, its variant names must be among them.
    Raises ``ValueError`` with a one-line message saying what is allowed."""
    if not isinstance(text, str):
        raise ValueError(f"a threshold is a string such as 'async.latency_p99 < 2s', got {text!r}")
    match = _THRESHOLD_RE.match(text)
    if match is None:
        raise ValueError(f"cannot parse {text!r}; expected {_FORMS}")
    variant, baseline = _split_variants(match["lhs"], variants)
    if not variant or baseline == "":
        raise ValueError(f"cannot parse {text!r}; expected {_FORMS}")
    if baseline is not None and baseline == variant:
        raise ValueError(f"{text!r} compares {variant!r} with itself")
    metric = resolve_metric(match["metric"])
    raw = match["value"]
    if baseline is not None:
        if raw[-1:].lower() != "x" and not re.fullmatch(r"[\d.eE+-]+", raw):
            raise ValueError(f"a ratio threshold takes a ratio such as '5x', got {raw!r}")
        value = parse_ratio(raw)
    else:
        if raw[-1:].lower() == "x":
            raise ValueError(
                f"'x' is for ratios: write 'VARIANT/BASELINE.{match['metric']} ... {raw}'"
            )
        value = _parse_value(raw, metric)
    return Threshold(
        text=text.strip(),
        variant=variant,
        metric=metric,
        op=match["op"],
        value=value,
        baseline=baseline,
    )


def format_metric(metric: str, value: float) -> str:
    """A value of ``metric`` in a readable unit (for details and summaries)."""
    kind = METRICS.get(metric, "number")
    if kind == "time":
        return format_duration(value)
    if kind == "fraction":
        return f"{value * 100:.3g}%"
    if kind in ("bytes", "bytes_per_s"):
        suffix = "/s" if kind == "bytes_per_s" else ""
        if value >= 1024:
            for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
                if value >= factor:
                    return f"{value / factor:.3g}{unit}{suffix}"
        return f"{format_size(int(value)) if value == int(value) else value}{suffix}"
    if kind == "per_s":
        return f"{value:.3g}/s"
    return f"{value:.4g}"


def _median_of(rows: Sequence[Mapping[str, float]], metric: str) -> tuple[float | None, int]:
    values = [
        float(row[metric])
        for row in rows
        if isinstance(row.get(metric), int | float) and math.isfinite(float(row[metric]))
    ]
    if not values:
        return None, 0
    return statistics.median(values), len(values)


def _evaluate_one(
    threshold: Threshold, per_variant: Mapping[str, Sequence[Mapping[str, float]]]
) -> ThresholdResult:
    metric = threshold.metric
    median, n = _median_of(per_variant.get(threshold.variant, ()), metric)
    if median is None:
        return ThresholdResult(
            threshold.text, None, None, f"no {metric} data for {threshold.variant!r}"
        )
    if threshold.baseline is None:
        limit = format_metric(metric, threshold.value)
        passed = threshold.holds(median)
        detail = (
            f"median of {n}: {format_metric(metric, median)} "
            f"({'meets' if passed else 'fails'} {threshold.op} {limit})"
        )
        return ThresholdResult(threshold.text, passed, median, detail)
    base, n_base = _median_of(per_variant.get(threshold.baseline, ()), metric)
    if base is None:
        return ThresholdResult(
            threshold.text, None, None, f"no {metric} data for {threshold.baseline!r}"
        )
    if base == 0:
        return ThresholdResult(
            threshold.text, None, None, f"median {metric} of {threshold.baseline!r} is 0"
        )
    ratio = median / base
    passed = threshold.holds(ratio)
    detail = (
        f"medians {format_metric(metric, median)} / {format_metric(metric, base)} "
        f"(n={n}/{n_base}) = {ratio:.3g}x "
        f"({'meets' if passed else 'fails'} {threshold.op} {threshold.value:g}x)"
    )
    return ThresholdResult(threshold.text, passed, ratio, detail)


def evaluate_thresholds(
    thresholds: Sequence[Threshold],
    per_variant: Mapping[str, Sequence[Mapping[str, float]]],
) -> list[ThresholdResult]:
    """Evaluate each threshold on the median over repeats of its metric.

    ``per_variant`` maps a variant spec to its measured trials' metric dicts (never warm-up or
    profiled trials); a missing or non-finite metric in a dict is skipped.
    """
    return [_evaluate_one(threshold, per_variant) for threshold in thresholds]
