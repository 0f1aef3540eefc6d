"""k6-like pass/fail thresholds on a scenario's metrics: the grammar (evaluation is
:mod:`harness.analysis.thresholds`).

Two forms::

    NAME.METRIC OP VALUE[unit]          async.latency_p99 < 2s, async.timeout_rate < 1%
    NAME/BASELINE.METRIC OP VALUE[x]    async/curl.throughput > 5x   (ratio of medians)

``NAME`` and ``BASELINE`` are variant names (``async``, ``async[pooling=off]``, or a name
given in the scenario's ``[named_variants]``); a name never holds ``.`` or ``/``, so a
threshold splits at its first ``.`` and at the ``/`` before it, as a person reads it.

``OP`` is one of ``< <= > >=``. The statistic is the **median over the measured repeats**
(warm-up and profiled trials are never passed in), so one noisy repeat cannot flip a verdict.
Units are checked against the metric's kind: times need ``us/ms/s/min``, rates take ``%`` or
a fraction, sizes ``B/KiB/MiB/...``, throughput a size per second (``50MiB/s``), ratios ``x``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.metrics import METRIC_ALIASES, MetricKind, format_value
from harness.metrics import METRIC_KINDS as METRICS
from harness.metrics import METRICS as METRIC_TABLE_BY_NAME
from harness.metrics import resolve_metric as _resolve_metric
from harness.units import (
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
    "format_metric",
    "parse_threshold",
    "resolve_metric",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

# Everything before the first "." names the variant(s): names never hold "." or "/".
_THRESHOLD_RE = re.compile(
    r"^\s*(?P<lhs>[^./]+(?:/[^./]*)?)\.(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<value>\S.*?)\s*$"
)
_FORMS = "'NAME.METRIC OP VALUE' or 'NAME/BASELINE.METRIC OP VALUEx' with OP one of < <= > >="


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
        suffix = "x" if self.is_ratio else METRIC_TABLE_BY_NAME[self.metric].base_unit
        # exact (repr) but without a trailing ".0", so "2s" stays "2s" in reports
        value = self.value
        shown = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
        return f"{lhs}.{self.metric} {self.op} {shown}{suffix}"

    @property
    def shown(self) -> str:
        """The canonical threshold as a person reads it: the value in a chosen unit
        (``async.success_rate >= 100%``, ``async.latency_p99_s < 2 s``)."""
        lhs = f"{self.variant}/{self.baseline}" if self.baseline is not None else self.variant
        kind = METRIC_TABLE_BY_NAME[self.metric].kind
        value = f"{self.value:g}x" if self.is_ratio else format_value(kind, self.value)
        return f"{lhs}.{self.metric} {self.op} {value}"

    def holds(self, measured: float) -> bool:
        return _OPS[self.op](measured, self.value)


def resolve_metric(name: str) -> str:
    """The contract name of a metric or alias; ``ValueError`` lists what is allowed."""
    try:
        return _resolve_metric(name)
    except KeyError as err:
        raise ValueError(err.args[0]) from None


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
    left, slash, right = lhs.partition("/")
    variant, baseline = left.strip(), (right.strip() if slash else None)
    if variants is not None:
        for name in (variant, baseline):
            if name is not None and name and name not in variants:
                shown = ", ".join(repr(v) for v in variants if _is_name(v))
                raise ValueError(f"{name!r} names no variant of this scenario; allowed: {shown}")
    return variant, baseline


def _is_name(variant: str) -> bool:
    # an unnamed cmd: or plugin spec is a variant too, but cannot be written in a threshold
    return "." not in variant and "/" not in variant


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
    """A value of ``metric`` in a readable unit (for details and summaries): the one
    formatter of metric values, :func:`harness.metrics.format_value`."""
    return format_value(METRICS.get(metric, "number"), value)
