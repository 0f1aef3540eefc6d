"""The bisect search (harness.bisect.search) against a scripted measure: the first bad
commit found, honest ranges when steps stay inconclusive, errors as slow or skipped."""

from __future__ import annotations

import pytest

from harness.bisect import Step, StepVerdict, search

COMMITS = [f"c{i:02d}" for i in range(16)]  # c00 = GOOD ... c15 = BAD


def scripted(
    first_bad: int,
    *,
    unknown: frozenset[str] = frozenset(),
    broken: frozenset[str] = frozenset(),
) -> tuple[list[tuple[str, str]], object]:
    """A measure where commits from ``first_bad`` on are slow; a step whose head is in
    ``unknown`` is inconclusive; a step touching a ``broken`` commit is an error."""
    calls: list[tuple[str, str]] = []

    def measure(base: str, head: str) -> Step:
        calls.append((base, head))
        b, h = COMMITS.index(base), COMMITS.index(head)
        verdict: StepVerdict
        if head in broken or base in broken:
            verdict = "error"
        elif head in unknown:
            verdict = "inconclusive"
        elif b < first_bad <= h:
            verdict = "regressed"
        else:
            verdict = "unchanged"
        return Step(base, head, verdict, f"{verdict} {base}..{head}", ratio=0.85, pairs=60)

    return calls, measure


@pytest.mark.parametrize("first_bad", range(1, 16))
def test_finds_the_first_bad_commit_in_log2_steps(first_bad: int) -> None:
    calls, measure = scripted(first_bad)
    result = search(COMMITS, measure)  # type: ignore[arg-type]
    assert result.found
    assert result.first_bad == COMMITS[first_bad]
    assert result.last_good == COMMITS[first_bad - 1]
    assert result.deciding is not None
    assert result.deciding.head == COMMITS[first_bad]
    assert len(calls) <= 1 + 4  # GOOD vs BAD, then at most log2(15) rounded up
    # every step compares with the last known good (a neighbour in time), never backwards
    assert all(COMMITS.index(b) < COMMITS.index(h) for b, h in calls)


def test_not_slower_is_an_answer() -> None:
    calls, measure = scripted(99)
    result = search(COMMITS, measure)  # type: ignore[arg-type]
    assert not result.found
    assert result.first_bad is None
    assert "not slower" in result.message
    assert len(calls) == 1


def test_an_undecided_middle_asks_the_bad_side_and_then_moves_on() -> None:
    # c07 (the first middle) cannot be told from GOOD, but BAD is slower than c07: c07 is
    # good, and the search goes on above it
    calls, measure = scripted(11, unknown=frozenset({"c07"}))
    result = search(COMMITS, measure)  # type: ignore[arg-type]
    assert calls[1:3] == [("c00", "c07"), ("c07", "c15")]
    assert result.found
    assert result.first_bad == "c11"


def test_an_undecidable_step_gives_an_honest_range() -> None:
    _, measure = scripted(11, unknown=frozenset({"c11", "c10"}))
    result = search(COMMITS, measure)  # type: ignore[arg-type]
    assert not result.found
    assert "c11" in result.candidates  # the true first bad lies in the range
    assert result.first_bad is not None
    assert "undecided" in result.message


@pytest.mark.parametrize("first_bad", [3, 8, 12])
def test_broken_commits_are_skipped_and_the_answer_still_holds(first_bad: int) -> None:
    broken = frozenset({"c07", "c04"}) - {COMMITS[first_bad]}
    _, measure = scripted(first_bad, broken=broken)
    result = search(COMMITS, measure, on_error="skip")  # type: ignore[arg-type]
    assert result.first_bad == COMMITS[first_bad] or COMMITS[first_bad] in result.candidates
    assert set(result.skipped) <= broken


def test_a_broken_commit_counted_as_slow_moves_the_bad_side() -> None:
    _, measure = scripted(12, broken=frozenset({"c07"}))
    result = search(COMMITS, measure, on_error="slow")  # type: ignore[arg-type]
    # c07 (the first middle) "is slow": the search narrows below it and ends there, the
    # consequence of the user's choice, with the error step as the evidence
    assert result.found
    assert result.first_bad == "c07"
    assert result.deciding is not None
    assert result.deciding.verdict == "error"


def test_bad_arguments() -> None:
    _, measure = scripted(3)
    with pytest.raises(ValueError, match="differ"):
        search(["c00"], measure)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_error"):
        search(COMMITS, measure, on_error="maybe")  # type: ignore[arg-type]
