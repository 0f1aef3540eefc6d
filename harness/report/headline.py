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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from harness.analysis.paired import scale_of
from harness.compare.model import Check
from harness.compare.paired import revision_text
from harness.metrics import METRICS
from harness.report.format import fmt_change, fmt_relative, is_number

__all__ = [
    "CHANGE_KINDS",
    "Change",
    "FailedCheck",
    "Headline",
    "check_size",
    "check_where",
    "headline",
    "undecided",
    "verdict_sentence",
    "what_changed",
]

# Kinds of check that measure a change of this run (against history, over the nights,
# against the base revision); variant checks describe the before/after and are no change.
CHANGE_KINDS = ("history", "step", "paired")

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

    @property
    def detail(self) -> str:
        """The reason without the rule it starts with (a threshold's reason repeats it)."""
        prefix = f"{self.rule}: "
        return (
            self.reason[len(prefix) :]
            if self.rule and self.reason.startswith(prefix)
            else self.reason
        )


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

    @property
    def rules_failed(self) -> tuple[FailedCheck, ...]:
        """The failed gating checks that are rules, not measured changes: thresholds, data
        lost, rollback triggers, any other kind."""
        return tuple(f for f in self.failures if f.kind not in CHANGE_KINDS)


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


@dataclass(frozen=True)
class Change:
    """One measured change of this run, as the first screen lists it: where, how much (in
    the metric's words, with its CI) and since when (commits or revisions)."""

    kind: str  # "history", "step" or "paired"
    direction: str  # "regression" or "improvement"
    scenario: str
    provider: str
    variant: str
    concurrency: int | None
    metric: str
    title: str  # the metric's title
    size: str  # "18% slower (14-22%)"
    since: str  # "commits abc12345..def67890 (night099 → this run)"
    gating: bool
    reason: str
    magnitude: float  # |log ratio|, for the order (largest first)

    @property
    def where(self) -> str:
        return _where(
            {
                "scenario": self.scenario,
                "provider": self.provider,
                "variant": self.variant,
                "concurrency": self.concurrency,
            }
        )


def _short(commit: object) -> str | None:
    return str(commit)[:8] if commit else None


def _since(
    check: Mapping[str, Any],
    commits: Mapping[str, str | None],
    this_commit: str | None,
    revisions: Mapping[str, Any],
) -> str:
    """Since when the change is measured: the commits of the last comparable night and of
    this run (history), the two runs a step lies between, or base and head (paired)."""
    label = str(check.get("baseline") or "")
    kind = check.get("kind")
    if kind == "step":
        return label.removeprefix("history step ").strip()
    if kind == "paired":
        base, head = revision_text(revisions.get("base")), revision_text(revisions.get("head"))
        return f"base {base} → head {head}"
    compared = check.get("compared_runs")
    last = str(compared[-1]) if isinstance(compared, list | tuple) and compared else None
    mine = _short(this_commit) or "this run (no commit recorded)"
    if last is None:
        return f"against {label or 'history'}; this run at {mine}"
    theirs = _short(check.get("compared_commit") or commits.get(last))
    if theirs:
        return f"commits {theirs}..{mine} ({last} → this run)"
    return f"since run {last} (no commit recorded) → this run at {mine}"


def _size(check: Mapping[str, Any]) -> tuple[str, float]:
    metric = str(check.get("metric", ""))
    ratio, low, high = check.get("ratio"), check.get("ci_low"), check.get("ci_high")
    row = METRICS.get(metric)
    if check.get("kind") == "paired" and row is not None and scale_of(row) == "difference":
        # the gate stores 1 + difference on the difference scale (as checks.py reads it)
        def minus_one(x: object) -> float | None:
            return float(x) - 1.0 if is_number(x) else None

        ci = (minus_one(low), minus_one(high))
        text = fmt_change(metric, "difference", minus_one(ratio), ci)
        return text, abs(minus_one(ratio) or 0.0)
    if is_number(ratio) and ratio > 0:
        return fmt_relative(metric, ratio, low, high), abs(math.log(ratio))
    base, cand = check.get("median_baseline"), check.get("median_candidate")
    if row is not None and is_number(cand):
        return f"{row.format(base)} → {row.format(cand)}", math.inf
    return str(check.get("reason") or ""), 0.0


def check_where(check: Mapping[str, Any]) -> str:
    """``scenario / provider / variant / c=N`` of a check."""
    return _where(check)


def check_size(check: Mapping[str, Any]) -> str:
    """A check's change in the metric's words with its CI (``28% slower (24-30%)``)."""
    return _size(check)[0]


def what_changed(
    comparison: Mapping[str, Any] | None,
    history: Sequence[Mapping[str, Any]] | None = None,
    results: Mapping[str, Any] | None = None,
) -> tuple[tuple[Change, ...], tuple[Change, ...]]:
    """The regressions and the improvements the comparison found (checks of kind history,
    step and paired with verdict regressed or improved; variant checks describe, never
    change), gating ones first, then the largest; each with the commits it lies between:
    the history records' ``git_commit`` of the last compared night and this run's."""
    if not comparison:
        return (), ()
    commits = {
        str(e.get("run_id")): (str(e["git_commit"]) if e.get("git_commit") else None)
        for e in history or ()
    }
    this_commit = ((results or {}).get("environment") or {}).get("git_commit")
    paired = comparison.get("paired")
    revisions = (paired.get("revisions") if isinstance(paired, Mapping) else None) or {}
    out: dict[str, list[Change]] = {"regressed": [], "improved": []}
    for c in comparison.get("checks") or ():
        verdict = c.get("verdict")
        if c.get("kind") not in CHANGE_KINDS or verdict not in out:
            continue
        metric = str(c.get("metric", ""))
        row = METRICS.get(metric)
        size, magnitude = _size(c)
        concurrency = c.get("concurrency")
        out[str(verdict)].append(
            Change(
                kind=str(c.get("kind")),
                direction="regression" if verdict == "regressed" else "improvement",
                scenario=str(c.get("scenario") or ""),
                provider=str(c.get("provider") or ""),
                variant=str(c.get("variant") or ""),
                concurrency=int(concurrency) if is_number(concurrency) else None,
                metric=metric,
                title=row.title if row else metric,
                size=size,
                since=_since(c, commits, this_commit, revisions),
                gating=bool(c.get("gating")),
                reason=str(c.get("reason") or ""),
                magnitude=magnitude,
            )
        )

    def ordered(items: list[Change]) -> tuple[Change, ...]:
        return tuple(sorted(items, key=lambda x: (not x.gating, -x.magnitude, x.where)))

    return ordered(out["regressed"]), ordered(out["improved"])


# How the verdict counts failed rules, by check kind ("" : any other kind).
_RULE_WORDS = (
    ("threshold", "threshold failed", "thresholds failed"),
    ("integrity", "variant lost data", "variants lost data"),
    ("trigger", "rollback trigger fired", "rollback triggers fired"),
    ("", "other gating check failed", "other gating checks failed"),
)
_NAMED_RULES = tuple(kind for kind, _, _ in _RULE_WORDS if kind)


def verdict_sentence(
    head: Headline, regressions: Sequence[Change], improvements: Sequence[Change]
) -> str:
    """The verdict in one sentence: what decided the exit code, the one change by name
    when there is one, or "nothing changed" said plainly."""
    code = head.exit_code
    gating = [c for c in regressions if c.gating]
    if code is None:
        return head.text
    if code == 1:
        n_reg = len(gating) or head.regressions
        parts = [f"{n_reg} regression{'' if n_reg == 1 else 's'}"] if n_reg else []
        for kind, one, many in _RULE_WORDS:
            n = sum(
                1
                for f in head.rules_failed
                if (f.kind == kind if kind else f.kind not in _NAMED_RULES)
            )
            if n:
                parts.append(f"{n} {one if n == 1 else many}")
        text = "Failed: " + " and ".join(parts) if parts else head.text
        if len(gating) == 1 and not head.rules_failed:
            c = gating[0]
            return f"{text}: {c.title} of {c.where} {c.size}, {c.since}."
        if gating and not head.rules_failed:
            cells = {c.where for c in gating}
            scenarios = {c.scenario for c in gating}
            since = {c.since for c in gating}
            where = f" in {len(cells)} cells" if len(cells) > 1 else f" of {gating[0].where}"
            if len(cells) > 1 and len(scenarios) == 1:
                where += f" of {gating[0].scenario}"
            when = f", {since.pop()}" if len(since) == 1 else ""
            return f"{text}{where}{when}."
        if len(head.rules_failed) == 1 and not gating:
            f = head.rules_failed[0]
            return f"{text}: {f.rule or f.metric or f.kind} at {f.where}."
        return text + " (listed below)."
    if code == 0:
        better = [c for c in improvements if c.gating]
        if better:
            n = len(better)
            return (
                f"No regression: every gating check holds; {n} improvement"
                f"{'' if n == 1 else 's'} (below)."
            )
        checked = head.unchanged + head.inconclusive + head.passed
        return (
            f"Nothing changed: every gating check holds ({checked} check"
            f"{'' if checked == 1 else 's'})."
        )
    if code == 3:
        return (
            f"Inconclusive: nothing regressed that we can tell, but {head.inconclusive} gating "
            f"check{' cannot' if head.inconclusive == 1 else 's cannot'} decide yet (below: "
            "what would decide them)."
        )
    return head.text


_CHECK_FIELDS = tuple(f.name for f in fields(Check))


def undecided(comparison: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The gating checks that keep the exit code at 3: inconclusive in a way that could
    hide a regression, by :attr:`harness.compare.model.Check.undecided` (the gate's own
    rule); a check this version cannot read back counts as undecided when inconclusive."""
    out = []
    for c in (comparison or {}).get("checks") or ():
        if not isinstance(c, Mapping) or not c.get("gating") or c.get("verdict") != "inconclusive":
            continue
        try:
            if not Check(**{name: c[name] for name in _CHECK_FIELDS}).undecided:
                continue
        except (KeyError, TypeError, ValueError):
            pass
        out.append(c)
    return out
