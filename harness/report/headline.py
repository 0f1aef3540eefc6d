"""The verdict at the top of the report, read from the comparison it is given.

The report decides nothing: the exit code, each check's verdict and whether it gates come
from the comparison (``RunComparison.to_dict()``). Counts are of the checks that gate
(``gating`` true: thresholds, gating history checks, gating paired checks of a base-and-head
run, integrity checks such as "data lost", and any other kind the comparison carries);
variant checks describe the before/after and
are counted apart, so a naive variant being slower than ``sync`` (the finding) never reads
as a regression. Every gating check that failed is listed by name, whatever its kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.report.format import is_number

__all__ = ["FailedCheck", "Headline", "headline"]

_TEXTS = {
    0: ("ok", "No regression: every gating check holds"),
    1: ("regression", "Regression: a gating check failed (listed below)"),
    2: ("error", "Error: the comparison could not be completed"),
    3: ("inconclusive", "Inconclusive: too few samples or too much noise to decide"),
}


@dataclass(frozen=True)
class FailedCheck:
    """A gating check that failed, as the verdict area lists it."""

    kind: str
    where: str
    metric: str
    rule: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class Headline:
    """The verdict line at the top of the report, and what decided it."""

    verdict: str  # "regression", "ok", "inconclusive", "error", "not compared"
    text: str
    regressions: int
    improvements: int
    unchanged: int
    inconclusive: int
    failed: int  # gating checks with verdict "fail": thresholds, data lost, ...
    passed: int
    exit_code: int | None
    against: str = ""
    variant_counts: Mapping[str, int] = field(default_factory=dict)
    failures: tuple[FailedCheck, ...] = ()
    notes: tuple[str, ...] = ()
    # gating checks of kind "paired" (head against base in this run), counted above too
    paired: int = 0


def _where(check: Mapping[str, Any]) -> str:
    """``scenario / provider / variant / c=N``, the parts the check has."""
    parts = [str(check.get(k) or "") for k in ("scenario", "provider", "variant")]
    if check.get("concurrency") is not None:
        parts.append(f"c={check.get('concurrency')}")
    return " / ".join(p for p in parts if p) or "the run"


def headline(comparison: Mapping[str, Any] | None) -> Headline:
    """Counts of the comparison's gating checks by verdict; the verdict is its exit code."""
    if not comparison:
        return Headline(
            "not compared", "Not compared: no comparison was computed for this run",
            0, 0, 0, 0, 0, 0, None,
        )  # fmt: skip
    checks: Sequence[Mapping[str, Any]] = list(comparison.get("checks") or ())
    gates = [c for c in checks if c.get("gating")]
    variants = [c for c in checks if c.get("kind") == "variant"]

    def count(verdict: str, pool: Sequence[Mapping[str, Any]] = gates) -> int:
        return sum(1 for c in pool if c.get("verdict") == verdict)

    exit_code = comparison.get("exit_code")
    code = int(exit_code) if is_number(exit_code) else None
    verdict, text = (
        _TEXTS.get(code, ("error", f"Unknown exit code {code}"))
        if code is not None
        else ("error", "Error: the comparison carries no exit code")
    )
    if code == 1:
        # say what failed: data lost and failed thresholds are not regressions
        failed = [c for c in gates if c.get("verdict") in ("fail", "regressed")]
        parts = [
            f"{n} {what}"
            for what, n in (
                ("data lost", sum(1 for c in failed if c.get("kind") == "integrity")),
                ("threshold(s) failed", sum(1 for c in failed if c.get("kind") == "threshold")),
                ("regression(s)", sum(1 for c in failed if c.get("verdict") == "regressed")),
            )
            if n
        ]
        other = len(failed) - sum(int(p.split()[0]) for p in parts)
        parts += [f"{other} other gating check(s) failed"] if other > 0 else []
        text = "Failed: " + ", ".join(parts) + " (listed below)" if parts else text
    return Headline(
        verdict,
        text,
        count("regressed"),
        count("improved"),
        count("unchanged"),
        count("inconclusive"),
        count("fail"),
        count("pass"),
        code,
        against=str(comparison.get("against") or ""),
        variant_counts={
            v: count(v, variants) for v in ("improved", "regressed", "unchanged", "inconclusive")
        },
        failures=tuple(
            FailedCheck(
                kind=str(c.get("kind") or ""),
                where=_where(c),
                metric=str(c.get("metric") or ""),
                rule=str(c.get("baseline") or ""),
                verdict=str(c.get("verdict") or ""),
                reason=str(c.get("reason") or ""),
            )
            for c in gates
            if c.get("verdict") in ("fail", "regressed")
        ),
        notes=tuple(str(n) for n in comparison.get("notes") or ()),
        paired=sum(1 for c in gates if c.get("kind") == "paired"),
    )
