"""The investigation's rollback triggers (harness.analysis.triggers) as gating checks: error
kinds, rate rises and memory peaks against history; the scenario's [rollback] table; how
they show in the exports and the report. Pure and socket-free; history files in tmp_path."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from harness import compare, history
from harness.analysis.triggers import (
    RollbackRules,
    cell_error_kinds,
    error_kind,
    exception_type,
    trial_error_kinds,
)
from harness.compare import to_junit_xml, to_markdown
from harness.errors import EXIT_OK, EXIT_REGRESSION, ResultsError, ScenarioError
from harness.report.checks import gates_table
from harness.scenario import scenario_from_dict
from tests.factories.results import make_results, make_scenario

CELL = ("kimi", "async", 4)


def _record(outcome: str = "ok", *, status: int | None = None, error: str | None = None) -> dict:
    return {
        "name": "f.bin",
        "size": 1024,
        "start": 0.0,
        "end": 0.1,
        "attempts": 1,
        "outcome": outcome,
        "status": status,
        "error": error,
        "file_id": None,
        "bytes_sent": 0,
    }


def _run(
    day: int,
    *,
    records: list[dict] | None = None,
    error_rate: float = 0.0,
    timeout_rate: float = 0.0,
    heap: float = 6e6,
    rss: float = 80e6,
    definition: dict[str, Any] | None = None,
) -> dict:
    """A run of scenario 'upload' (sync and async on kimi, c=4, 3 repeats); its async cell
    has ``records`` in each timing trial, the given rates and peaks."""
    scenario = make_scenario(
        "upload",
        seed=day,
        repeats=3,
        scenario_hash="h1",
        profiled_heap={"sync": 60e6, "async": heap},
    )
    scenario["definition"].update(definition or {})
    for trial in scenario["trials"]:
        if trial["variant"] == "async" and not trial["profiled"]:
            trial["metrics"].update(error_rate=error_rate, timeout_rate=timeout_rate)
            trial["metrics"]["rss_peak_bytes"] = rss
            trial["records"] = [dict(r) for r in records or ()]
    return make_results(f"run-{day:02d}", [scenario])


def _compare(tmp_path: Path, nights: list[dict], tonight: dict) -> compare.RunComparison:
    for night in nights:
        history.append_run(tmp_path, night)
    loaded = history.load_history(tmp_path)
    assert loaded.warnings == ()
    return compare.compare_run(tonight, history=loaded.entries, variant_checks=False)


def _triggers(result: compare.RunComparison, metric: str | None = None) -> list[compare.Check]:
    return [
        c for c in result.checks if c.kind == "trigger" and (metric is None or c.metric == metric)
    ]


# -- the error kind ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (_record(), None),
        (_record("http_error", status=503, error="HTTP 503: busy (req 81f2)"), "http 503"),
        (_record("http_error", error="unparseable answer: ValueError: x"), "http_error"),
        (
            _record("http_error", status=200, error="stored as 7, metadata insert failed"),
            "http_error",
        ),
        (_record("timeout", error="stall after 5.00s"), "timeout"),
        (_record("timeout", error="TimeoutError: read"), "timeout"),
        (
            _record(
                "connection_error",
                error="aiohttp.client_exceptions.ClientConnectorError: Cannot connect to "
                "host 127.0.0.1:40123 ssl:default [Connection refused]",
            ),
            "connection_error: ClientConnectorError",
        ),
        (
            _record("connection_error", error="ValueError: bad id 7f3a"),
            "connection_error: ValueError",
        ),
        (_record("connection_error", error="cannot read file: [Errno 2] x"), "connection_error"),
        (_record("connection_error", error="exit code 7: curl: (7) refused"), "connection_error"),
        (_record("connection_error"), "connection_error"),
        (_record("integrity_error", error="command reported 3 bytes of 4"), "integrity_error"),
    ],
)
def test_error_kind_is_outcome_status_and_exception_type_never_the_message(
    record: dict, kind: str | None
) -> None:
    assert error_kind(record) == kind


def test_exception_type_reads_the_class_name_only() -> None:
    assert exception_type("KeyboardInterrupt") == "KeyboardInterrupt"
    assert exception_type("requests.exceptions.ReadTimeout: HTTPConnectionPool()") == "ReadTimeout"
    assert exception_type("HTTP 503: busy") is None
    assert exception_type("harness.worker: error: x") is None
    assert exception_type(None) is None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            "worker failed (exit code 1): RuntimeError: uploader exploded",
            "harness_error: RuntimeError",
        ),
        (
            "worker refused the round: malformed round line: ValueError('boom')",
            "harness_error: ValueError",
        ),
        ("worker killed at the 60 s deadline", "harness_error"),
        (
            "worker failed (exit code 2): harness.worker: error: variant 'x' returned 1",
            "harness_error",
        ),
    ],
)
def test_a_harness_error_trial_has_one_kind_from_its_exception(error: str, kind: str) -> None:
    trial = make_scenario("s", seed=1, repeats=1)["trials"][0]
    trial.update(status="harness_error", error=error)
    assert trial_error_kinds(trial) == {kind: 1}


def test_base_revision_trials_are_not_the_night() -> None:
    scenario = make_scenario("s", seed=1, repeats=2)
    for i, trial in enumerate(scenario["trials"]):
        label = "base" if i % 2 else "head"
        trial["revision"] = {"label": label, "ref": label, "commit": None, "dirty": False}
        trial["records"] = [_record("connection_error", error=f"{label.title()}Error: x")]
    kinds = cell_error_kinds(scenario)
    assert {k for cell in kinds.values() for k in cell} == {"connection_error: HeadError"}


# -- the triggers against history ----------------------------------------------------------


def test_a_new_exception_type_fails_the_run_and_is_named(tmp_path: Path) -> None:
    seen = [_record("http_error", status=503)]
    nights = [_run(1, records=seen), _run(2)]
    new = [_record("connection_error", error="ValueError: plugin broke on f.bin")] * 2
    result = _compare(tmp_path, nights, _run(3, records=seen + new))
    (check,) = _triggers(result, "error_kind")
    assert check.verdict == "fail"
    assert check.gating
    assert (check.provider, check.variant, check.concurrency) == CELL
    assert "connection_error: ValueError (6x)" in check.reason  # 2 per trial, 3 trials
    assert "http 503" not in check.reason  # seen on night 1
    assert "never seen in 2 history runs" in check.reason
    assert result.exit_code == EXIT_REGRESSION
    assert any("connection_error: ValueError" in line for line in result.lines)
    assert "rollback triggers 1 fired" in result.headline


def test_a_kind_seen_in_any_comparable_run_does_not_fire(tmp_path: Path) -> None:
    kind = [_record("connection_error", error="ServerDisconnectedError: gone")]
    # seen 6 runs ago: older than the history checks' last 5, still "seen before"
    nights = [_run(1, records=kind), *(_run(day) for day in range(2, 7))]
    result = _compare(tmp_path, nights, _run(7, records=kind))
    (check,) = _triggers(result, "error_kind")
    assert check.verdict == "pass"
    assert "all seen before" in check.reason
    assert result.exit_code != EXIT_REGRESSION


def test_history_written_before_error_kinds_is_not_checked_and_never_fires(tmp_path: Path) -> None:
    history.append_run(tmp_path, _run(1))
    for path in tmp_path.rglob("*.json"):  # as an older uploadbench wrote it
        doc = json.loads(path.read_text())
        del doc["error_kinds"]
        path.write_text(json.dumps(doc))
    (entry,) = history.load_history(tmp_path).entries
    assert entry.error_kinds is None
    night = _run(2, records=[_record("connection_error", error="ValueError: x")])
    result = compare.compare_run(night, history=[entry], variant_checks=False)
    (check,) = _triggers(result, "error_kind")
    assert check.verdict == "inconclusive"
    assert not check.gating
    assert "predate error kinds" in check.reason
    assert any("rollback trigger error_kind: not checked" in n for n in result.notes)
    assert not any(c.failed for c in _triggers(result))


def test_a_night_without_failures_passes_even_against_older_history(tmp_path: Path) -> None:
    result = _compare(tmp_path, [_run(1)], _run(2))
    assert {c.metric: c.verdict for c in _triggers(result)} == {
        "error_kind": "pass",
        "error_rate": "pass",
        "timeout_rate": "pass",
        "heap_peak_bytes": "pass",
        "rss_peak_bytes": "pass",
    }
    assert all(c.gating for c in _triggers(result))


@pytest.mark.parametrize(("rate", "fires"), [(0.06, True), (0.04, False), (0.05, False)])
@pytest.mark.parametrize("metric", ["error_rate", "timeout_rate"])
def test_a_rate_up_by_more_than_5_points_fires(
    tmp_path: Path, metric: str, rate: float, fires: bool
) -> None:
    nights = [_run(1), _run(2)]
    result = _compare(tmp_path, nights, _run(3, **{metric: rate}))
    (check,) = _triggers(result, metric)
    assert check.verdict == ("fail" if fires else "pass")
    assert check.median_candidate == pytest.approx(rate)
    assert check.median_baseline == 0.0
    if fires:
        assert (check.provider, check.variant, check.concurrency) == CELL
        assert f"+{rate * 100:.3g} points; more than +5 points" in check.reason
        assert result.exit_code == EXIT_REGRESSION


def test_a_rate_compares_medians_with_the_history_median(tmp_path: Path) -> None:
    nights = [_run(1, error_rate=0.10), _run(2, error_rate=0.10)]
    assert (
        _triggers(_compare(tmp_path, nights, _run(3, error_rate=0.14)), "error_rate")[0].verdict
        == "pass"
    )
    assert (
        _triggers(_compare(tmp_path, [], _run(4, error_rate=0.16)), "error_rate")[0].verdict
        == "fail"
    )


@pytest.mark.parametrize(
    ("metric", "night", "fires"),
    [
        ("heap_peak_bytes", {"heap": 6e6 * 1.12}, True),
        ("heap_peak_bytes", {"heap": 6e6 * 1.08}, False),
        ("rss_peak_bytes", {"rss": 80e6 * 1.12}, True),
        ("rss_peak_bytes", {"rss": 80e6 * 1.08}, False),
    ],
)
def test_a_memory_peak_above_the_history_max_by_more_than_its_min_effect_fires(
    tmp_path: Path, metric: str, night: dict[str, float], fires: bool
) -> None:
    nights = [_run(1, heap=5e6, rss=70e6), _run(2, heap=6e6, rss=80e6)]  # max: run 2
    result = _compare(tmp_path, nights, _run(3, **night))
    failed = [c for c in _triggers(result, metric) if c.verdict == "fail"]
    assert bool(failed) == fires
    if fires:
        (check,) = failed
        assert check.median_baseline == (6e6 if metric == "heap_peak_bytes" else 80e6)
        assert "vs history max" in check.reason
        assert "more than +10%" in check.reason
        assert result.exit_code == EXIT_REGRESSION


def test_no_history_means_no_trigger_check_but_a_note() -> None:
    result = compare.compare_run(_run(1, error_rate=0.5), history=[], variant_checks=False)
    assert _triggers(result) == []
    assert any("rollback triggers not checked" in n for n in result.notes)
    # nor against none
    assert _triggers(compare.compare_run(_run(1, error_rate=0.5))) == []


def test_the_scenarios_rollback_table_changes_the_defaults(tmp_path: Path) -> None:
    rules = RollbackRules.parse(
        {"new_error_kinds": False, "error_rate_points": "10%", "memory_over_max": {"rss": False}},
        lambda where, problem: AssertionError(where, problem),
    )
    definition = {"rollback": rules.to_definition()}
    nights = [_run(1, definition=definition), _run(2, definition=definition)]
    night = _run(
        3,
        records=[_record("connection_error", error="ValueError: x")],
        error_rate=0.08,
        rss=200e6,
        definition=definition,
    )
    result = _compare(tmp_path, nights, night)
    assert {c.metric for c in _triggers(result)} == {
        "error_rate",
        "timeout_rate",
        "heap_peak_bytes",
    }
    rate = _triggers(result, "error_rate")[0]
    assert rate.verdict == "pass"
    assert rate.baseline == "error_rate at most 10 points above the history median"
    assert any(
        "off by the scenario's [rollback]: error_kind, rss_peak_bytes" in n for n in result.notes
    )
    assert result.exit_code != EXIT_REGRESSION


def test_rollback_settings_are_read_from_the_results_definition() -> None:
    scenario = _run(1, definition={"rollback": {"timeout_rate_points": 2}})["scenarios"][0]
    assert RollbackRules.of(scenario).limit("timeout_rate") == 2
    assert RollbackRules.of(scenario).limit("error_rate") == 5  # the default
    scenario["definition"]["rollback"] = {"timeout_rate_points": "lots"}
    with pytest.raises(ResultsError, match=r"definition\.rollback\.timeout_rate_points"):
        RollbackRules.of(scenario)


# -- the [rollback] table of a scenario file -----------------------------------------------

_BASE: dict[str, Any] = {"name": "s", "files": {"count": 1, "sizes": ["1KiB"]}}


def test_defaults_are_documented_values() -> None:
    rules = RollbackRules()
    assert rules.new_error_kinds
    assert (rules.limit("error_rate"), rules.limit("timeout_rate")) == (5, 5)
    # each memory metric's minimum effect (harness.metrics): 10%
    assert (rules.limit("heap_peak_bytes"), rules.limit("rss_peak_bytes")) == (10, 10)


def test_no_table_or_the_defaults_keep_the_scenario_hash() -> None:
    plain = scenario_from_dict(_BASE)
    spelled = scenario_from_dict(
        {
            **_BASE,
            "rollback": {"new_error_kinds": True, "error_rate_points": "5%", "memory_over_max": 10},
        }
    )
    assert plain.hash == spelled.hash
    assert "rollback" not in plain.definition
    changed = scenario_from_dict({**_BASE, "rollback": {"timeout_rate_points": 2}})
    assert changed.hash != plain.hash
    assert changed.definition["rollback"]["timeout_rate_points"] == 2
    assert changed.rollback.limit("timeout_rate") == 2
    per_metric = scenario_from_dict({**_BASE, "rollback": {"memory_over_max": {"heap": "25%"}}})
    assert per_metric.rollback.limits["heap_peak_bytes"] == 25
    assert per_metric.rollback.limits["rss_peak_bytes"] == 10


@pytest.mark.parametrize(
    ("table", "field", "problem"),
    [
        ({"error_rate_points": "5"}, "rollback.error_rate_points", "'N%' or false"),
        ({"error_rate_points": 150}, "rollback.error_rate_points", "between 0 and 100"),
        ({"timeout_rate_points": True}, "rollback.timeout_rate_points", "percentage points"),
        ({"new_error_kinds": "yes"}, "rollback.new_error_kinds", "true or false"),
        ({"memory_over_max": "lots"}, "rollback.memory_over_max", "a percentage"),
        ({"memory_over_max": {"cpu": 5}}, "rollback.memory_over_max.cpu", "heap_peak_bytes"),
        ({"memory_over_max": {"rss": -1}}, "rollback.memory_over_max.rss", "between 0 and 1000"),
        ({"error_points": 5}, "rollback.error_points", "unknown key; allowed: new_error_kinds"),
        ({"thresholds": []}, "rollback.thresholds", "top-level key"),
    ],
)
def test_bad_rollback_values_name_file_field_and_what_is_allowed(
    table: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({**_BASE, "rollback": table}, source="s.toml")
    assert info.value.file == "s.toml"
    assert info.value.field == field
    assert problem in info.value.problem


# -- where the checks show -----------------------------------------------------------------


def test_triggers_show_in_junit_markdown_json_and_the_report(tmp_path: Path) -> None:
    night = _run(2, records=[_record("connection_error", error="ValueError: x")])
    result = _compare(tmp_path, [_run(1)], night)
    junit = to_junit_xml(result)
    assert 'name="trigger: error_kind vs no error kind new to history"' in junit
    assert "connection_error: ValueError" in junit.split("<failure", 1)[1]
    markdown = to_markdown(result)
    assert "| trigger | `error_kind` |" in markdown.split("Gating checks that need a look", 1)[1]
    doc = json.loads(json.dumps(result.to_dict()))
    kinds = [c for c in doc["checks"] if c["kind"] == "trigger"]
    assert any(c["verdict"] == "fail" and "ValueError" in c["reason"] for c in kinds)
    table = gates_table(doc["checks"])
    assert table is not None
    assert "trigger (gates)" in table
    assert "connection_error: ValueError" in table
    assert result.exit_code == EXIT_REGRESSION


def test_a_clean_night_against_history_keeps_its_exit_code(tmp_path: Path) -> None:
    scenario_runs = [_run(day) for day in range(1, 4)]
    result = _compare(tmp_path, scenario_runs, _run(4))
    assert all(c.verdict == "pass" for c in _triggers(result))
    # the triggers pass; the history checks decide (same data model: not a regression)
    assert result.exit_code in (EXIT_OK, 3)


def test_the_readme_rollback_example_validates() -> None:
    readme = Path(__file__).resolve().parents[2] / "scenarios" / "README.md"
    section = readme.read_text(encoding="utf-8").split("### `[rollback]`", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    loaded = scenario_from_dict({**_BASE, **tomllib.loads(block)}, source="README")
    assert loaded.rollback.limit("timeout_rate") == 8
    assert loaded.rollback.limit("rss_peak_bytes") == 20
