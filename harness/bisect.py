"""Which commit made it slower: a binary search over first-parent commits, each step a
head-against-base run (:mod:`harness.analysis.paired`), three-valued at every step.

The search (:func:`search`) is pure: it is given the commits, GOOD first and BAD last, and
a ``measure(base, head)`` that runs base and head side by side and says what the head did
to the chosen metric. The rule:

1. GOOD against BAD first. *Regressed*: the search starts. *Unchanged* or *improved*: there
   is nothing to find (BAD is not slower). *Inconclusive* (after the pairs the budget
   allows): the answer is the whole range, honestly.
2. While more than one commit lies between the last known good (``lo``) and the first known
   bad (``hi``), take the middle one and run it against ``lo``:
   - regressed: it is bad (``hi = mid``);
   - unchanged or improved: it is good (``lo = mid``);
   - inconclusive: run ``hi`` against it. If ``hi`` is slower, mid is good; if ``hi`` is
     not, mid is bad; if that too is inconclusive, stop: the first bad commit lies between
     ``lo`` and ``hi`` (exclusive of ``lo``), never a guess;
   - error (the revision cannot be prepared, or most of its trials failed or timed out):
     counted as slow (``on_error="slow"``, asv#623's request) or skipped
     (``on_error="skip"``, as ``git bisect skip``: the nearest other commit is tried; a
     range whose every inner commit was skipped is the answer).
3. ``hi`` directly after ``lo``: ``hi`` is the first bad commit, with the step that decided
   it (its paired ratio and CI).

Comparing with the last known *good* commit rather than GOOD keeps each step a comparison
of neighbours in time (less drift of dependencies and tooling between them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["BisectResult", "OnError", "Step", "StepVerdict", "search"]

StepVerdict = Literal["regressed", "improved", "unchanged", "inconclusive", "error"]
OnError = Literal["slow", "skip"]


@dataclass(frozen=True)
class Step:
    """One head-against-base run of the search: what the head did to the metric."""

    base: str
    head: str
    verdict: StepVerdict
    summary: str  # "throughput -14.8% [-16.1%, -13.5%] (60 pairs): regressed" or the error
    ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    pairs: int = 0
    run: str | None = None  # the step's results.json
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BisectResult:
    """The answer: ``first_bad`` when decided, else the range ``(last_good, first_bad]``
    that holds it; ``found`` says which, ``message`` says it in one line."""

    commits: tuple[str, ...]
    last_good: str
    first_bad: str | None
    found: bool
    message: str
    deciding: Step | None = None  # the step whose verdict made first_bad the first bad
    steps: tuple[Step, ...] = field(default_factory=tuple)
    skipped: tuple[str, ...] = ()

    @property
    def candidates(self) -> tuple[str, ...]:
        """The commits that may be the first bad one: after ``last_good``, up to and
        including ``first_bad`` (all after ``last_good`` when nothing is known bad)."""
        lo = self.commits.index(self.last_good)
        hi = self.commits.index(self.first_bad) if self.first_bad else len(self.commits) - 1
        return self.commits[lo + 1 : hi + 1]

    def to_json(self) -> dict[str, Any]:
        return {
            "commits": list(self.commits),
            "last_good": self.last_good,
            "first_bad": self.first_bad,
            "found": self.found,
            "message": self.message,
            "candidates": list(self.candidates),
            "deciding": None if self.deciding is None else self.deciding.to_json(),
            "steps": [s.to_json() for s in self.steps],
            "skipped": list(self.skipped),
        }


def _nearest(lo: int, hi: int, skipped: set[int]) -> int | None:
    """The commit strictly between ``lo`` and ``hi`` nearest their middle, not skipped."""
    middle = (lo + hi) // 2
    inner = [i for i in range(lo + 1, hi) if i not in skipped]
    return min(inner, key=lambda i: (abs(i - middle), i)) if inner else None


def search(
    commits: Sequence[str],
    measure: Callable[[str, str], Step],
    *,
    on_error: OnError = "skip",
    log: Callable[[Step], None] | None = None,
) -> BisectResult:
    """Bisect ``commits`` (GOOD first, BAD last, first-parent order) with ``measure``;
    see the module docstring for the rule. ``log`` sees every step as it is decided."""
    if len(commits) < 2:
        raise ValueError("bisect needs GOOD and BAD to differ")
    if on_error not in ("slow", "skip"):
        raise ValueError(f"on_error must be 'slow' or 'skip', got {on_error!r}")
    steps: list[Step] = []
    skipped: set[int] = set()
    decided: dict[int, Step] = {}

    def run(base: int, head: int) -> Step:
        step = measure(commits[base], commits[head])
        steps.append(step)
        if log is not None:
            log(step)
        return step

    def result(lo: int, hi: int | None, found: bool, message: str) -> BisectResult:
        return BisectResult(
            commits=tuple(commits),
            last_good=commits[lo],
            first_bad=None if hi is None else commits[hi],
            found=found,
            message=message,
            deciding=decided.get(hi) if hi is not None else None,
            steps=tuple(steps),
            skipped=tuple(commits[i] for i in sorted(skipped)),
        )

    lo, hi = 0, len(commits) - 1
    first = run(lo, hi)
    if first.verdict in ("unchanged", "improved"):
        return result(lo, None, False, f"BAD is not slower than GOOD: {first.summary}")
    if first.verdict != "regressed":
        return result(lo, hi, False, f"cannot tell BAD from GOOD: {first.summary}")
    decided[hi] = first
    while hi - lo > 1:
        mid = _nearest(lo, hi, skipped)
        if mid is None:
            return result(
                lo, hi, False, "every commit between the last good and the first bad was skipped"
            )
        step = run(lo, mid)
        if step.verdict == "error":
            if on_error == "slow":
                hi = mid
                decided[hi] = step
            else:
                skipped.add(mid)
            continue
        if step.verdict == "regressed":
            hi = mid
            decided[hi] = step
            continue
        if step.verdict in ("unchanged", "improved"):
            lo = mid
            continue
        # inconclusive against the last good: is the first bad slower than mid?
        back = run(mid, hi)
        if back.verdict == "regressed":
            lo = mid
        elif back.verdict in ("unchanged", "improved"):
            hi = mid  # as slow as the first bad: the evidence is that step
            decided[hi] = back
        elif back.verdict == "error" and on_error == "skip":
            skipped.add(mid)
        else:
            return result(
                lo, hi, False, f"undecided at {commits[mid][:12]}: {step.summary}; {back.summary}"
            )
    deciding = decided.get(hi)
    how = f": {deciding.summary}" if deciding is not None else ""
    return result(lo, hi, True, f"first bad commit {commits[hi][:12]}{how}")
