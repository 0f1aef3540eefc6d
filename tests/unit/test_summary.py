"""The run summary: medians over measured repeats, the baseline ratio, thresholds."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from harness.analysis.summary import summarize_run, summary_json
from harness.console import render_summary
from harness.results import METRIC_NAMES
from harness.thresholds import parse_threshold


def trial(variant: str, conc: int, repeat: int, throughput: float, **extra: Any) -> dict[str, Any]:
    metrics: dict[str, Any] = dict.fromkeys(METRIC_NAMES, 0.0)
    metrics.update(throughput_bytes_per_s=throughput, success_rate=1.0, latency_p50_s=0.1)
    return {
        "key": f"s|kimi|{variant}|c={conc}|r={repeat}",
        "provider": "kimi",
        "variant": variant,
        "concurrency": conc,
        "repeat": repeat,
        "warmup": False,
        "profiled": False,
        "status": "ok",
        "metrics": metrics,
        **extra,
    }


def doc(trials: list[dict[str, Any]], thresholds: list[str] | None = None) -> dict[str, Any]:
    scenario = {
        "name": "s",
        "hash": "h",
        "baseline": "sync",
        "definition": {"thresholds": thresholds or [], "variants": ["sync", "async"]},
        "trials": trials,
    }
    return {"scenarios": [scenario]}


def test_the_sequential_baseline_is_compared_at_every_concurrency() -> None:
    # The plan runs sync at c=1 only; async at c=4 and c=8 must still get a ratio.
    trials = [
        trial("sync", 1, 0, 10.0),
        trial("sync", 1, 1, 12.0),
        trial("async", 4, 0, 40.0),
        trial("async", 4, 1, 50.0),
        trial("async", 8, 0, 90.0),
    ]
    (summary,) = summarize_run(doc(trials))
    rows = {(r.variant, r.concurrency): r for r in summary.rows}
    assert rows[("sync", 1)].is_baseline
    assert rows[("sync", 1)].throughput_bytes_per_s == pytest.approx(11.0)
    assert rows[("async", 4)].throughput_vs_baseline == pytest.approx(45.0 / 11.0)
    assert rows[("async", 8)].throughput_vs_baseline == pytest.approx(90.0 / 11.0)


def test_only_measured_trials_enter_the_medians() -> None:
    trials = [
        trial("sync", 1, 0, 10.0),
        trial("async", 4, 0, 40.0),
        trial("async", 4, 0, 1000.0, warmup=True),
        trial("async", 4, 0, 1000.0, profiled=True),
        trial("async", 4, 1, 1000.0, status="harness_error"),
    ]
    (summary,) = summarize_run(doc(trials))
    row = next(r for r in summary.rows if r.variant == "async")
    assert row.trials == 1
    assert row.harness_errors == 1
    assert row.throughput_bytes_per_s == 40.0
    assert summary.harness_errors == 1


def test_thresholds_are_checked_where_the_candidates_ran() -> None:
    trials = [trial("sync", 1, r, 10.0) for r in range(3)]
    trials += [trial("async", 4, r, 60.0) for r in range(3)]
    texts = ["async/sync.throughput > 5x", "async/sync.throughput > 10x"]
    (summary,) = summarize_run(doc(trials, texts))
    assert [(t.concurrency, t.passed) for t in summary.thresholds] == [(4, True), (4, False)]
    assert summary.thresholds_failed == 1
    # Explicit thresholds (parsed by the caller) replace those of the definition.
    explicit = {"s": (parse_threshold("async.success_rate >= 100%"),)}
    (again,) = summarize_run(doc(trials, texts), explicit)
    assert [t.passed for t in again.thresholds] == [True]


def test_unmeasurable_threshold_is_neither_pass_nor_fail() -> None:
    (summary,) = summarize_run(doc([trial("async", 4, 0, 1.0)], ["async/sync.throughput > 2x"]))
    assert [t.passed for t in summary.thresholds] == [None]
    assert summary.thresholds_failed == 0


def test_render_and_json_carry_the_same_rows() -> None:
    trials = [trial("sync", 1, 0, 2**20), trial("async", 4, 0, 4 * 2**20)]
    summaries = summarize_run(doc(trials, ["async/sync.throughput > 3x"]))
    console = Console(width=160, record=True)
    render_summary(summaries, console)
    text = console.export_text()
    assert "throughput async/sync: 4.00x (kimi, c=4)" in text
    assert "pass" in text
    (data,) = summary_json(summaries)
    assert [r["variant"] for r in data["rows"]] == ["sync", "async"]
    assert data["thresholds_failed"] == 0


def test_bracketed_names_survive_rendering() -> None:
    # rich markup would swallow "[pooling=off]" and a scenario named like a tag.
    trials = [trial("sync", 1, 0, 2**20), trial("async[pooling=off]", 4, 0, 2 * 2**20)]
    data = doc(trials)
    data["scenarios"][0]["name"] = "[bold]evil[/bold]"
    console = Console(width=200, record=True)
    render_summary(summarize_run(data), console)
    text = console.export_text()
    assert "async[pooling=off]" in text
    assert "throughput async[pooling=off]/sync: 2.00x" in text
    assert "[bold]evil[/bold]" in text


def test_a_size_sweep_evaluates_memory_slope_thresholds_and_reports_the_fits() -> None:
    mib = 1024 * 1024
    trials = []
    for size in (8, 50, 128):
        for variant, peak in (("sync", 3 * size * mib + mib), ("async", 6 * mib + size * 1024)):
            trials.append(trial(variant, 1, 0, 10.0, file_size_bytes=size * mib))
            profiled = trial(variant, 1, 0, 0.0, profiled=True, file_size_bytes=size * mib)
            profiled["metrics"]["heap_peak_bytes"] = peak
            trials.append(profiled)
    (summary,) = summarize_run(
        doc(trials, ["async.memory_slope < 0.05", "sync.memory_slope > 0.9"])
    )
    assert [t.passed for t in summary.thresholds] == [True, True]
    assert summary.memory_fits["sync"].slope == pytest.approx(3.0)
    assert summary.memory_fits["async"].slope == pytest.approx(1 / 1024)
    assert summary.memory is not None
    assert summary.memory.size_bytes == 50 * mib
    (data,) = summary_json([summary])
    assert data["memory"]["reduction_pct"] == summary.memory.reduction_pct
    assert data["memory_fits"]["sync"]["slope"] == pytest.approx(3.0)
    console = Console(record=True, width=200)
    render_summary([summary], console)
    assert "memory slope (heap peak per byte of file): async 0.0010, sync 3.0000" in (
        console.export_text()
    )
