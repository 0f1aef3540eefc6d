"""The report's trends: each key metric night by night, from history records and this run.

Pure. Every night, this run included, is a :mod:`harness.history` record (this run's is made
by :func:`harness.history.summarize_run`, the function that writes history), so a trend point
is the median of exactly the per-repeat samples history keeps (the value of
:func:`~harness.analysis.stats.median`, computed by :func:`statistics.median`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from harness.history import summarize_run
from harness.report.format import is_number
from harness.results.contract import ResultsDoc

__all__ = ["TREND_METRICS", "HistoryKey", "HistoryPoint", "entry_fingerprint", "history_series"]

# The metrics a trend shows, in the order of the figure's panels. heap_peak_bytes comes
# from profiled trials only (harness.history keeps it from those).
TREND_METRICS = (
    "throughput_bytes_per_s",
    "latency_p50_s",
    "latency_p99_s",
    "rss_peak_bytes",
    "timeout_rate",
    "heap_peak_bytes",
)

HistoryKey = tuple[str, str, str, int, str]  # scenario, provider, variant, concurrency, metric


@dataclass(frozen=True)
class HistoryPoint:
    """One night's value of one metric of one (scenario, provider, variant, concurrency)."""

    run_id: str
    started_at: str
    fingerprint: str | None
    value: float
    commit: str | None = None  # the run's git commit, when history recorded it
    scenario_hash: str | None = None  # the scenario definition the night ran


def entry_fingerprint(entry: Mapping[str, Any]) -> str | None:
    """The environment fingerprint of a history record or a results document."""
    env = entry.get("environment")
    value = entry.get("fingerprint") or (
        env.get("fingerprint") if isinstance(env, Mapping) else None
    )
    return str(value) if value else None


def _rows(record: Mapping[str, Any]) -> Iterable[tuple[HistoryKey, float]]:
    """(key, median of the night's repeats) of one history record (``history_version`` 1)."""
    name = str(record.get("scenario", ""))
    groups = record.get("groups")
    for group in groups if isinstance(groups, list | tuple) else ():
        concurrency = group.get("concurrency", 1) if isinstance(group, Mapping) else None
        samples_by_metric = group.get("samples") if isinstance(group, Mapping) else None
        if not (is_number(concurrency) and isinstance(samples_by_metric, Mapping)):
            continue  # not a history group: nothing to plot, never a traceback
        cell = (
            name,
            str(group.get("provider", "")),
            str(group.get("variant", "")),
            int(concurrency) or 1,
        )
        for metric, samples in samples_by_metric.items():
            if metric not in TREND_METRICS or not isinstance(samples, list | tuple):
                continue  # history keeps every metric; a trend shows six
            values = [float(v) for v in samples if is_number(v)]
            if values:
                # statistics.median is stats.median's value (the mean of the two middle
                # values for an even count) without numpy's per-call cost: 100 nights of
                # a nightly are 30 000 calls, 0.4 s through numpy
                yield (*cell, str(metric)), statistics.median(values)


def history_series(
    history: Sequence[Mapping[str, Any]] | None, results: Mapping[str, Any] | None = None
) -> dict[HistoryKey, list[HistoryPoint]]:
    """Per key, the nights in order (oldest first), with this run appended last."""
    records = [r for r in history or () if isinstance(r, Mapping)]
    records.sort(key=lambda e: (str(e.get("started_at", "")), str(e.get("run_id", ""))))
    if results is not None and results.get("scenarios"):
        run_id = results.get("run_id")
        records = [e for e in records if e.get("run_id") != run_id]
        records.extend(summarize_run(cast(ResultsDoc, results)))
    series: dict[HistoryKey, list[HistoryPoint]] = {}
    for record in records:
        run_id, started_at = str(record.get("run_id", "")), str(record.get("started_at", ""))
        commit, scenario_hash = record.get("git_commit"), record.get("scenario_hash")
        for key, value in _rows(record):
            series.setdefault(key, []).append(
                HistoryPoint(
                    run_id,
                    started_at,
                    entry_fingerprint(record),
                    value,
                    commit=str(commit) if commit else None,
                    scenario_hash=str(scenario_hash) if scenario_hash else None,
                )
            )
    return series
