"""No timing statistic ever includes a profiled trial.

``harness.profile`` nulls a profiled trial's timings, but the analysis must not rely on
that: here the profiled trials carry absurd timings (a million seconds, one byte per second)
and every consumer of results (summary, thresholds, variant and history comparison, the
history record, the report's groups) must come out exactly as if they were not there.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from harness import compare
from harness.analysis import summary
from harness.analysis.cells import cell_samples
from harness.analysis.memory import memory_row
from harness.results import METRIC_NAMES, timing_trials

MIB = 1024 * 1024
ABSURD_S = 1e6
TIMING = {
    "wall_s",
    "throughput_bytes_per_s",
    "files_per_s",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
    "latency_max_s",
    "loop_lag_p99_s",
    "loop_lag_max_s",
    "loop_blocked_fraction",
    "cpu_user_s",
    "cpu_sys_s",
    "timeout_rate",
    "success_rate",
    "error_rate",
}
THRESHOLDS = ["async.latency_p99 < 2s", "async/sync.throughput > 2x", "async.heap_peak < 16MiB"]


def metrics(scale: float, *, profiled: bool) -> dict[str, Any]:
    m: dict[str, Any] = dict.fromkeys(METRIC_NAMES)
    if profiled:
        # what a buggy producer might write: timings measured under memray
        m.update(dict.fromkeys(TIMING - {"throughput_bytes_per_s", "files_per_s"}, ABSURD_S))
        m.update(throughput_bytes_per_s=1.0, files_per_s=1e-6, success_rate=0.0)
        m["heap_peak_bytes"] = int(52 * MIB) if scale > 1 else 2 * MIB
        return m
    m.update(
        wall_s=0.5 * scale,
        throughput_bytes_per_s=100 * MIB / scale,
        files_per_s=2 / scale,
        latency_p50_s=0.4 * scale,
        latency_p90_s=0.45 * scale,
        latency_p99_s=0.5 * scale,
        latency_max_s=0.5 * scale,
        success_rate=1.0,
        timeout_rate=0.0,
        error_rate=0.0,
        retries=0,
        integrity_errors=0,
        connections_opened=1,
        rss_peak_bytes=int(80 * MIB * scale),
        cpu_user_s=0.1,
        cpu_sys_s=0.05,
    )
    return m


def trial(variant: str, repeat: int, *, profiled: bool = False) -> dict[str, Any]:
    scale = 3.0 if variant == "sync" else 1.0
    jitter = 1 + 0.01 * repeat
    role = "|profile" if profiled else ""
    return {
        "key": f"mem|kimi|{variant}|c=1|r={repeat}{role}",
        "provider": "kimi",
        "variant": variant,
        "concurrency": 1,
        "repeat": repeat,
        "warmup": False,
        "profiled": profiled,
        "status": "ok",
        "error": None,
        "metrics": metrics(scale * jitter, profiled=profiled),
        "records": [
            {"name": "f", "size": 50 * MIB, "start": 0.0, "end": ABSURD_S if profiled else 0.4}
        ],
    }


def document(with_profiled: bool) -> dict[str, Any]:
    trials = [trial(v, r) for r in range(5) for v in ("sync", "async")]
    if with_profiled:
        trials += [trial(v, 0, profiled=True) for v in ("sync", "async")]
    return {
        "schema_version": 1,
        "run_id": "20261128T110000Z-000001",
        "started_at": "2026-11-28T11:00:00Z",
        "environment": {"fingerprint": "f" * 16},
        "scenarios": [
            {
                "name": "mem",
                "hash": "h" * 16,
                "baseline": "sync",
                "definition": {"thresholds": THRESHOLDS},
                "trials": trials,
            }
        ],
    }


@pytest.fixture
def with_profiled() -> dict[str, Any]:
    return document(True)


@pytest.fixture
def without_profiled() -> dict[str, Any]:
    return document(False)


def test_timing_trials_leave_profiled_out(with_profiled: dict[str, Any]) -> None:
    (scenario,) = with_profiled["scenarios"]
    chosen = list(timing_trials(scenario))
    assert len(chosen) == 10
    assert not any(t["profiled"] for t in chosen)


def test_summary_rows_are_unchanged(
    with_profiled: dict[str, Any], without_profiled: dict[str, Any]
) -> None:
    (a,) = summary.summarize_run(with_profiled)
    (b,) = summary.summarize_run(without_profiled)
    assert a.rows == b.rows
    for row in a.rows:
        assert row.trials == 5
        assert row.latency_p99_s is not None
        assert row.latency_p99_s < 2
    # outcomes name each threshold in its canonical, readable form (Threshold.shown)
    by = {t.threshold: t for t in a.thresholds}
    assert by["async.latency_p99_s < 2 s"].passed is True
    assert by["async/sync.throughput_bytes_per_s > 2x"].passed is True
    # the memory threshold and row are the profiled trials' whole purpose
    assert by["async.heap_peak_bytes < 16 MiB"].passed is True
    assert a.memory is not None
    assert a.memory.candidate_peak_bytes == 2 * MIB


def test_comparison_checks_are_unchanged(
    with_profiled: dict[str, Any], without_profiled: dict[str, Any]
) -> None:
    a = compare.compare_run(with_profiled)
    b = compare.compare_run(without_profiled)
    timing_a = [c.to_dict() for c in a.checks if c.metric in TIMING]
    timing_b = [c.to_dict() for c in b.checks if c.metric in TIMING]
    assert timing_a
    assert timing_a == timing_b
    for check in a.checks:
        for value in (check.median_baseline, check.median_candidate):
            assert value is None or not math.isclose(value, ABSURD_S)


def test_thresholds_see_only_timing_trials_for_timing_metrics(
    with_profiled: dict[str, Any],
) -> None:
    (scenario,) = with_profiled["scenarios"]
    checks = compare.threshold_checks(scenario)
    assert len(checks) == len(THRESHOLDS)
    assert [c.verdict for c in checks] == ["pass"] * len(THRESHOLDS), [c.reason for c in checks]


def test_history_samples_hold_no_profiled_timing(with_profiled: dict[str, Any]) -> None:
    (scenario,) = with_profiled["scenarios"]
    samples = cell_samples(scenario)
    for (_, variant, _), by_metric in samples.items():
        for metric, values in by_metric.items():
            if metric == "heap_peak_bytes":
                assert len(values) == 1, variant  # the one profiled trial
            else:
                assert len(values) == 5, (variant, metric)
                assert ABSURD_S not in values


def test_report_groups_hold_no_profiled_trial(with_profiled: dict[str, Any]) -> None:
    from harness.report.view import scenarios_of

    (data,) = scenarios_of(with_profiled)
    assert all(not t["profiled"] for g in data.groups for t in g.trials)
    assert sum(len(g.trials) for g in data.groups) == 10
    assert len(data.profiled) == 2


def test_memory_row_uses_profiled_trials(with_profiled: dict[str, Any]) -> None:
    (scenario,) = with_profiled["scenarios"]
    row = memory_row(scenario["trials"])
    assert row is not None
    assert (row.baseline_peak_bytes, row.candidate_peak_bytes) == (52 * MIB, 2 * MIB)
