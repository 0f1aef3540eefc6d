"""The one metric table: every fact about every metric, in one row each.

Everything that needs a list or a property of metrics derives it from :data:`METRIC_TABLE`:
the results contract's key set (:data:`METRIC_NAMES`), thresholds (kinds and aliases),
compare (direction, minimum effect, gating by default), the report (titles, units, formats),
``uploadbench list`` and the docs. Adding a metric is adding one row here (and computing it
in the worker); a test derives every other list from this table.

Columns:

- ``name``: the key in a trial's ``metrics`` (``results.json``), unit-suffixed.
- ``kind``: what the value is, which fixes its base unit and the units a threshold may use
  (``time`` s, ``fraction`` 0-1, ``bytes`` B, ``bytes_per_s`` B/s, ``per_s`` 1/s, ``count``,
  ``number``).
- ``higher_is_better``: the direction of "better" for verdicts.
- ``min_effect``: the smallest relative change a verdict calls a change (5% for throughput,
  files/s, wall time and median latency; 10% for tail latencies, memory, CPU, retries and
  error/timeout rates; 20% for loop lag, dominated by scheduler noise; 1% for the success
  rate; 0 for integrity errors, since any is one too many).
- ``gating``: compared against history/base by default and allowed to fail the run.
- ``source``: ``trial`` (every timed trial), ``profiled`` (memray trials only, never timed) or
  ``derived`` (computed across trials, e.g. the heap-peak-versus-size slope).
- ``aliases``: short names scenario thresholds may use.
- ``needs_event_loop``: only async variants have it (null for ``sync`` and ``cmd:``).
- ``title``: how a person reads it in tables and plots.
- ``definition``: what exactly is measured (the worker computes it so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "DEFAULT_GATING_METRICS",
    "HIGHER_IS_BETTER",
    "METRICS",
    "METRIC_ALIASES",
    "METRIC_KINDS",
    "METRIC_NAMES",
    "METRIC_TABLE",
    "MIN_EFFECT",
    "MISSING",
    "PROFILED_METRICS",
    "Metric",
    "MetricKind",
    "format_value",
    "metric",
    "resolve_metric",
]

MetricKind = Literal["time", "fraction", "bytes", "bytes_per_s", "per_s", "count", "number"]
MetricSource = Literal["trial", "profiled", "derived"]

# How every table in every output writes a value that is not there.
MISSING: Final = "n/a"


@dataclass(frozen=True)
class Metric:
    """One row of the metric table (see the module docstring for the columns)."""

    name: str
    kind: MetricKind
    title: str
    definition: str
    higher_is_better: bool = False
    min_effect: float = 0.10
    gating: bool = False
    source: MetricSource = "trial"
    aliases: tuple[str, ...] = ()
    # measured only where an event loop runs the uploads (async variants); null otherwise
    needs_event_loop: bool = False

    @property
    def base_unit(self) -> str:
        """The unit values are stored in: ``s``, ``B``, ``B/s``, ``/s`` or nothing."""
        return _BASE_UNITS[self.kind]

    def format(self, value: object) -> str:
        """``value`` in a readable unit (``250 ms``, ``12.5 MiB/s``, ``5.0%``); ``n/a`` when
        it is not a finite number."""
        return format_value(self.kind, value)


_BASE_UNITS: Final[Mapping[MetricKind, str]] = {
    "time": "s",
    "fraction": "",
    "bytes": "B",
    "bytes_per_s": "B/s",
    "per_s": "/s",
    "count": "",
    "number": "",
}

METRIC_TABLE: Final[tuple[Metric, ...]] = (
    Metric(
        "wall_s", "time", "wall time",
        "seconds the whole upload_many call took, on time.perf_counter in the worker",
        min_effect=0.05, aliases=("wall",),
    ),
    Metric(
        "throughput_bytes_per_s", "bytes_per_s", "throughput",
        "bytes of files the provider holds intact (ok and passing the server-side content "
        "check) / wall_s",
        higher_is_better=True, min_effect=0.05, gating=True, aliases=("throughput",),
    ),
    Metric(
        "files_per_s", "per_s", "files/s",
        "files the provider holds intact / wall_s",
        higher_is_better=True, min_effect=0.05, aliases=("files_per_second",),
    ),
    Metric(
        "latency_p50_s", "time", "latency p50",
        "median per-file latency (end minus start of each Outcome) over all files whatever "
        "their outcome, so failures are not censored; numpy's linear percentile",
        min_effect=0.05, gating=True, aliases=("latency", "latency_p50"),
    ),
    Metric(
        "latency_p90_s", "time", "latency p90", "90th percentile of per-file latency",
        aliases=("latency_p90",),
    ),
    Metric(
        "latency_p99_s", "time", "latency p99", "99th percentile of per-file latency",
        gating=True, aliases=("latency_p99",),
    ),
    Metric(
        "latency_max_s", "time", "latency max", "slowest per-file latency",
        aliases=("latency_max",),
    ),
    Metric(
        "success_rate", "fraction", "success",
        "share of files the uploader reported ok and the provider holds with the right "
        "bytes (a file the server-side check finds wrong or missing is a failure)",
        higher_is_better=True, min_effect=0.01, gating=True, aliases=("success",),
    ),
    Metric(
        "timeout_rate", "fraction", "timeouts",
        "share of files that timed out (success + timeout + error rates add up to 1)",
        aliases=("timeouts",),
    ),
    Metric(
        "error_rate", "fraction", "errors",
        "share of files that failed other than by a timeout: HTTP, connection and "
        "integrity errors",
        aliases=("errors",),
    ),
    Metric("retries", "count", "retries", "sum over files of attempts - 1"),
    Metric(
        "integrity_errors", "count", "integrity errors",
        "files the provider does not hold with the right bytes (server-side cross-check of "
        "sizes and content hashes against the manifest), plus the uploader's own "
        "integrity_error outcomes",
        min_effect=0.0, aliases=("integrity",),
    ),
    Metric(
        "connections_opened", "count", "connections",
        "TCP connections the mock accepted during the trial",
        min_effect=0.05, aliases=("connections",),
    ),
    Metric(
        "tls_handshakes", "count", "TLS handshakes",
        "TLS handshakes the mock completed on the connections that carried the trial's "
        "requests (0 over plain HTTP; a connection kept alive from an earlier round pays none)",
        min_effect=0.05, aliases=("handshakes",),
    ),
    Metric(
        "loop_lag_p99_s", "time", "loop lag p99",
        "99th percentile of the event loop's heartbeat lateness (async variants only)",
        min_effect=0.20, aliases=("loop_lag", "loop_lag_p99"), needs_event_loop=True,
    ),
    Metric(
        "loop_lag_max_s", "time", "loop lag max", "largest heartbeat lateness",
        min_effect=0.20, aliases=("loop_lag_max",), needs_event_loop=True,
    ),
    Metric(
        "loop_blocked_fraction", "fraction", "loop blocked",
        "share of the trial's wall time the event loop was blocked (heartbeat late by more "
        "than its interval)",
        min_effect=0.20, aliases=("loop_blocked",), needs_event_loop=True,
    ),
    Metric(
        "rss_peak_bytes", "bytes", "RSS peak",
        "the worker process's ru_maxrss high-water mark (interpreter and imports included)",
        aliases=("rss", "rss_peak"),
    ),
    Metric(
        "cpu_user_s", "time", "CPU user",
        "getrusage user-time delta around the uploads (all threads, plus reaped children)",
        aliases=("cpu_user",),
    ),
    Metric(
        "cpu_sys_s", "time", "CPU system", "getrusage system-time delta around the uploads",
        aliases=("cpu_sys",),
    ),
    Metric(
        "heap_peak_bytes", "bytes", "heap peak",
        "memray's exact heap high-water mark, from a separate profiled (never timed) trial",
        source="profiled", aliases=("memory", "heap", "heap_peak"),
    ),
    Metric(
        "memory_slope", "number", "memory slope",
        "bytes of heap peak per byte of file size, a least-squares fit over a size sweep's "
        "profiled trials (near 0: streams; 1 or more: holds the file)",
        source="derived",
    ),
)  # fmt: skip

METRICS: Final[Mapping[str, Metric]] = {m.name: m for m in METRIC_TABLE}

# Every trial's ``metrics`` carries exactly these keys, in this order (null where n/a).
METRIC_NAMES: Final[tuple[str, ...]] = tuple(m.name for m in METRIC_TABLE if m.source != "derived")
PROFILED_METRICS: Final[tuple[str, ...]] = tuple(
    m.name for m in METRIC_TABLE if m.source == "profiled"
)
METRIC_KINDS: Final[Mapping[str, MetricKind]] = {m.name: m.kind for m in METRIC_TABLE}
METRIC_ALIASES: Final[Mapping[str, str]] = {a: m.name for m in METRIC_TABLE for a in m.aliases}
HIGHER_IS_BETTER: Final[frozenset[str]] = frozenset(
    m.name for m in METRIC_TABLE if m.higher_is_better
)
MIN_EFFECT: Final[Mapping[str, float]] = {m.name: m.min_effect for m in METRIC_TABLE}
DEFAULT_GATING_METRICS: Final[tuple[str, ...]] = tuple(m.name for m in METRIC_TABLE if m.gating)


def metric(name: str) -> Metric:
    """The row for ``name`` or one of its aliases; :class:`KeyError` naming what is allowed."""
    return METRICS[resolve_metric(name)]


def resolve_metric(name: str) -> str:
    """A metric name or alias -> the metric's name; :class:`KeyError` with a one-line message
    listing the names and aliases otherwise."""
    if name in METRICS:
        return name
    if name in METRIC_ALIASES:
        return METRIC_ALIASES[name]
    raise KeyError(
        f"unknown metric {name!r}; allowed: {', '.join(METRICS)} "
        f"(aliases: {', '.join(METRIC_ALIASES)})"
    )


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _binary(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _seconds(s: float) -> str:
    if s == 0:
        return "0 s"
    if abs(s) < 1e-3:
        return f"{s * 1e6:.3g} µs"
    if abs(s) < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def format_value(kind: MetricKind, value: object) -> str:
    """The one formatter of metric values, used by the console, the exports and the report:
    three significant figures in a unit chosen for the value; :data:`MISSING` for a value
    that is not a finite number."""
    x = _finite(value)
    if x is None:
        return MISSING
    if kind == "time":
        return _seconds(x)
    if kind == "fraction":
        return f"{x * 100:.3g}%"
    if kind == "bytes":
        return _binary(x)
    if kind == "bytes_per_s":
        return f"{_binary(x)}/s"
    if kind == "per_s":
        return f"{x:.3g}/s"
    if kind == "count":
        return f"{round(x):d}" if x == round(x) else f"{x:.3g}"
    return f"{x:.4g}"
