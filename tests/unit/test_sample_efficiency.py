"""Sample efficiency: measured upload seconds / run seconds, on hand-made documents; where it
shows (console line, comparison JSON, report header)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from markupsafe import escape
from rich.console import Console

from harness.analysis.summary import (
    measured_upload_seconds,
    run_seconds,
    sample_efficiency,
    sample_time,
    scenario_sample_efficiency,
    summarize_run,
)
from harness.compare import compare_run
from harness.console import render_run
from harness.report import render_report
from harness.results import METRIC_NAMES
from harness.results.contract import ResultsDoc, ScenarioDoc, TrialDoc
from tests.factories.results import make_results, make_trial


def timed(wall: float | None, duration: float, **kind: Any) -> dict[str, Any]:
    metrics = dict.fromkeys(METRIC_NAMES)
    metrics["wall_s"] = wall
    t = make_trial("kimi", "async", 4, 0, metrics, **kind)
    t["duration_s"] = duration
    return t


def scenario(name: str, trials: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "hash": f"hash-{name}",
        "definition": {"name": name, "variants": ["async"], "thresholds": []},
        "baseline": "async",
        "trials": trials,
    }


def doc_of(*scenarios: dict[str, Any], started: str, finished: str | None) -> ResultsDoc:
    doc = make_results("run-01", scenarios, started_at=started)
    doc["finished_at"] = finished
    return cast(ResultsDoc, doc)


# 2 s + 3 s measured; a warm-up, a profiled trial and a harness error cost time, count 0
TRIALS = [
    timed(2.0, 4.0),
    timed(3.0, 5.0),
    timed(9.0, 10.0, warmup=True),
    timed(1000.0, 20.0, profiled=True),
    timed(None, 11.0, status="harness_error"),
]


def test_measured_seconds_count_only_timing_trials() -> None:
    assert measured_upload_seconds(cast(list[TrialDoc], TRIALS)) == pytest.approx(5.0)


def test_efficiency_is_measured_over_the_run_span() -> None:
    doc = doc_of(
        scenario("s", TRIALS), started="2026-12-01T10:00:00Z", finished="2026-12-01T10:01:40Z"
    )
    assert run_seconds(doc) == pytest.approx(100.0)
    assert sample_efficiency(doc) == pytest.approx(0.05)
    sample = sample_time(doc)
    assert sample.message == (
        "sample efficiency: 5% of the run's time measured uploads (5.0 s of 100.0 s)"
    )
    # per scenario: over its trials' own time (50 s), warm-ups and failures included
    assert sample.scenarios == {"s": pytest.approx(0.1)}
    assert sample.as_dict() == {
        "efficiency": pytest.approx(0.05),
        "measured_upload_s": pytest.approx(5.0),
        "run_s": pytest.approx(100.0),
        "scenarios": {"s": pytest.approx(0.1)},
    }


def test_two_scenarios_add_up() -> None:
    doc = doc_of(
        scenario("s", TRIALS),
        scenario("t", [timed(15.0, 20.0)]),
        started="2026-12-01T10:00:00Z",
        finished="2026-12-01T10:02:00Z",
    )
    assert sample_efficiency(doc) == pytest.approx(20.0 / 120.0)
    assert sample_time(doc).scenarios == {"s": pytest.approx(0.1), "t": pytest.approx(0.75)}


def test_unfinished_run_is_not_applicable() -> None:
    doc = doc_of(scenario("s", TRIALS), started="2026-12-01T10:00:00Z", finished=None)
    assert run_seconds(doc) is None
    assert sample_efficiency(doc) is None
    assert sample_time(doc).message.startswith("sample efficiency: n/a (5.0 s of measured")


def test_merged_run_sums_its_shards_or_says_not_applicable() -> None:
    doc = doc_of(
        scenario("s", TRIALS), started="2026-12-01T10:00:00Z", finished="2026-12-01T10:01:00Z"
    )
    doc["merged_from"] = [
        {"run_id": "a", "shard": {"k": 1, "n": 2}, "started_at": "2026-12-01T10:00:00Z",
         "finished_at": "2026-12-01T10:00:40Z"},
        {"run_id": "b", "shard": {"k": 2, "n": 2}, "started_at": "2026-12-01T10:00:00Z",
         "finished_at": "2026-12-01T10:01:00Z"},
    ]  # fmt: skip
    # the shards ran side by side: 40 s + 60 s of machine time, not the 60 s span
    assert run_seconds(doc) == pytest.approx(100.0)
    assert sample_efficiency(doc) == pytest.approx(0.05)
    # merged by an older build: no shard times, so no honest denominator
    doc["merged_from"] = [{"run_id": "a", "shard": {"k": 1, "n": 2}}]
    assert sample_efficiency(doc) is None


def test_scenario_without_durations_is_not_applicable() -> None:
    old = timed(2.0, 4.0)
    del old["duration_s"]
    assert scenario_sample_efficiency(cast(ScenarioDoc, scenario("s", [old]))) is None
    assert scenario_sample_efficiency(cast(ScenarioDoc, scenario("s", []))) is None


def test_shown_in_console_comparison_json_and_report() -> None:
    doc = doc_of(
        scenario("s", TRIALS), started="2026-12-01T10:00:00Z", finished="2026-12-01T10:01:40Z"
    )
    comparison = compare_run(doc)
    assert comparison.to_dict()["sample_efficiency"] == sample_time(doc).as_dict()
    console = Console(record=True, width=200)
    render_run(
        console, summarize_run(doc), comparison, run_id="run-01", trials=5, sample=sample_time(doc)
    )
    assert sample_time(doc).message in console.export_text()
    page = render_report(doc, comparison=comparison.to_dict())
    assert 'id="sample-efficiency"' in page
    assert str(escape(sample_time(doc).message)) in page  # as the template escapes it
