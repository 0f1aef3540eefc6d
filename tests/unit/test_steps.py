"""harness.compare.steps: change points of the nightly series as checks of kind "step" (pure;
synthetic nights written to and read from a temporary history folder, no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from harness import history
from harness.analysis.changepoints import Point
from harness.compare.model import Check, Policy
from harness.compare.steps import series_steps, step_checks
from harness.errors import EXIT_REGRESSION
from harness.history import HistoryEntry
from tests.factories.results import make_results, make_scenario


def commit_of(night: int) -> str:
    return f"{night:04d}" + "c0ffee" * 6


def night(number: int, *, slow: bool = False, fingerprint: str = "fp-A") -> dict[str, Any]:
    """One night of scenario "s" (sync and async at c=4, 3 repeats, 2% noise); ``slow``: the
    async variant 25% slower (throughput -20%)."""
    scenario = make_scenario(
        "s", seed=1000 + number, repeats=3, cv=0.02, slowdown={"async": 1.25} if slow else None
    )
    results = make_results(
        f"run-{number:03d}",
        [scenario],
        started_at=f"2026-01-01T{number // 60:02d}:{number % 60:02d}:00Z",
        fingerprint=fingerprint,
    )
    results["environment"]["git_commit"] = commit_of(number)
    return results


FLAT = 30  # nights before the step; run-030 is the first night of the new level


@pytest.fixture(scope="module")
def entries(tmp_path_factory: pytest.TempPathFactory) -> list[HistoryEntry]:
    """30 flat nights, then 8 nights after the step, as history loads them (written once:
    each test takes the nights before its own "tonight")."""
    root = tmp_path_factory.mktemp("history")
    for n in range(FLAT + 8):
        history.append_run(root, night(n, slow=n >= FLAT))
    loaded = list(history.load_history(root).entries)
    assert [e.run_id for e in loaded] == [f"run-{n:03d}" for n in range(FLAT + 8)]
    return loaded


def only(checks: list[Check], **where: object) -> Check:
    found = [c for c in checks if all(getattr(c, k) == v for k, v in where.items())]
    assert len(found) == 1, found
    return found[0]


def test_a_step_eight_nights_ago_is_an_open_non_gating_regression(
    entries: list[HistoryEntry],
) -> None:
    # the step's first night (run-030) is 8 nights before tonight (run-038)
    checks, notes = step_checks(night(38, slow=True), entries, Policy())
    assert {c.kind for c in checks} == {"step"}
    assert {c.variant for c in checks} == {"async"}  # sync never moved
    step = only(checks, metric="throughput_bytes_per_s")
    assert step.verdict == "regressed"
    assert not step.gating  # confirmed on an earlier night: shown, never failing again
    assert step.ratio == pytest.approx(0.8, abs=0.03)
    assert step.n_candidate == 9  # 8 earlier nights and this one at the new level
    assert step.n_baseline == 30
    between = (
        f"run run-029 (commit {commit_of(29)[:12]}) and run run-030 (commit {commit_of(30)[:12]})"
    )
    assert step.baseline == f"history step between {between}"
    assert between in step.reason
    assert "-20." in step.reason or "-19." in step.reason
    assert "confirmed on an earlier night" in step.reason
    assert step.median_baseline is not None
    assert step.median_candidate is not None
    assert step.median_candidate < step.median_baseline
    # latency moved the other way and is a regression too
    assert only(checks, metric="latency_p50_s").verdict == "regressed"
    assert any(
        n.startswith("s: open regression step: kimi / async / c=4: throughput_bytes_per_s")
        and between in n
        for n in notes
    ), notes


def test_a_step_whose_fifth_night_is_tonight_gates(entries: list[HistoryEntry]) -> None:
    checks, notes = step_checks(night(34, slow=True), entries[:34], Policy())
    step = only(checks, metric="throughput_bytes_per_s")
    assert step.kind == "step"
    assert step.verdict == "regressed"
    assert step.gating
    assert step.failed
    assert step.n_candidate == 5
    assert "run-029" in step.baseline
    assert "run-030" in step.baseline
    assert "confirmed with this run" in step.reason
    assert not [n for n in notes if "open regression" in n]  # the check says it
    from harness.compare.gate import exit_code_for

    assert exit_code_for(checks) == EXIT_REGRESSION


def test_a_step_of_three_nights_is_only_a_pending_note(entries: list[HistoryEntry]) -> None:
    checks, notes = step_checks(night(32, slow=True), entries[:32], Policy())
    assert checks == []
    assert any(
        "possible regression step: kimi / async / c=4: throughput_bytes_per_s" in n
        and "pending: 3 of 5 nights" in n
        for n in notes
    ), notes


def test_flat_history_has_no_step(entries: list[HistoryEntry]) -> None:
    assert step_checks(night(FLAT), entries[:FLAT], Policy()) == ([], [])


def test_only_comparable_history_counts(entries: list[HistoryEntry]) -> None:
    # another machine: nothing comparable, nothing said (the history checks say why)
    assert step_checks(night(38, slow=True, fingerprint="fp-B"), entries, Policy()) == ([], [])
    # ... unless told to compare across environments
    anywhere = Policy(any_environment=True)
    assert step_checks(night(38, slow=True, fingerprint="fp-B"), entries, anywhere)[0]
    # re-comparing an old night never uses its future
    assert step_checks(night(20), entries, Policy()) == ([], [])


def test_a_step_undone_later_is_closed() -> None:
    level = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2]
    # 24 nights at 100, 18 nights 20% lower, 18 nights back at 100
    values = level * 4 + [v * 0.8 for v in level] * 3 + level * 3
    points = [Point(f"r{i:02d}", f"c{i:02d}", v) for i, v in enumerate(values)]
    steps = series_steps(points, "throughput_bytes_per_s", tonight="r59")
    states = [(s.direction, s.state) for s in steps]
    assert states == [("regression", "closed"), ("improvement", "open")]
    assert steps[0].closed_by == steps[1].located


def test_new_is_decided_by_the_nights_before_tonight() -> None:
    values = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2] * 4 + [80.0, 80.5, 79.5, 80.2, 79.8]
    points = [Point(f"r{i:02d}", None, v) for i, v in enumerate(values)]
    (step,) = series_steps(points, "throughput_bytes_per_s", tonight="r28")
    assert step.state == "new"
    between = "between run r23 (unknown commit) and run r24 (unknown commit)"
    assert step.located.describe() == between
    # without tonight's measure (a gap), nothing is new tonight
    gap = [*points, Point("r29", None, None)]
    assert [s.state for s in series_steps(gap, "throughput_bytes_per_s", tonight="r29")] == ["open"]
    assert [s.state for s in series_steps(points, "throughput_bytes_per_s")] == ["open"]
