"""Paired head-against-base checks (:mod:`harness.analysis.paired`) for people and the gate.

- :func:`paired_markdown`: a GitHub job-summary section (the verdict line first, the two
  revisions, a table of the gating checks, then non-gating regressions);
- :func:`paired_console_lines`: one compact line per gating check and the verdict line;
- :func:`to_gate_check` / :func:`to_gate_checks`: a :class:`~harness.analysis.paired.PairedCheck`
  as the gate's :class:`~harness.compare.model.Check`, so paired checks enter the one
  exit-code rule (:func:`harness.compare.gate.exit_code_for`); :func:`paired_exit_code` is
  that rule applied to paired checks alone.

Pure: text and check objects from data; the command prints or writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.analysis.paired import BASE, HEAD, PairedCheck
from harness.compare.exports import markdown_text
from harness.compare.gate import exit_code_for
from harness.compare.model import Check
from harness.metrics import METRICS, MISSING, format_value

__all__ = [
    "paired_console_lines",
    "paired_exit_code",
    "paired_headline",
    "paired_markdown",
    "revision_text",
    "to_gate_check",
    "to_gate_checks",
]

# kinds whose regression reads "slower" (the rest: "worse")
_SPEED_KINDS = frozenset({"time", "bytes_per_s", "per_s"})
_ICON = {
    "regressed": "🔴 regressed",
    "improved": "🟢 improved",
    "unchanged": "⚪ unchanged",
    "inconclusive": "🟡 inconclusive",
}


def revision_text(revision: Mapping[str, Any] | None) -> str:
    """``main @ 1a2b3c4d`` (``, dirty`` when the tree had uncommitted changes)."""
    if not revision:
        return MISSING
    ref = str(revision.get("ref") or MISSING)
    commit = revision.get("commit")
    text = f"{ref} @ {str(commit)[:8]}" if commit else f"{ref} (no commit)"
    return text + (", dirty" if revision.get("dirty") else "")


def to_gate_check(
    check: PairedCheck, revisions: Mapping[str, Mapping[str, Any]] | None = None
) -> Check:
    """``check`` as the gate's check (kind ``paired``: this run's head against the base
    measured alongside it). ``n_baseline`` and ``n_candidate`` are the pairs.

    On the ratio scale the ratio and its CI carry over. On the difference scale they carry
    ``1 + difference``, so the gate's min-effect boundary ``1 ± min_effect``
    (:attr:`Check.undecided`) is the paired rule's absolute band ``±min_effect``; the reason
    states the difference itself. A sweep's file size goes into the ``baseline`` label."""
    base = revision_text((revisions or {}).get(BASE))
    label = BASE if base == MISSING else f"{BASE} ({base})"
    if check.size is not None:
        label += f" at {format_value('bytes', check.size)}"
    shift = 0.0 if check.scale == "ratio" else 1.0
    ratio = check.ratio if check.scale == "ratio" else _plus(check.delta, shift)
    return Check(
        scenario=check.scenario,
        provider=check.provider,
        variant=check.variant,
        concurrency=check.concurrency,
        metric=check.metric,
        kind="paired",
        baseline=label,
        verdict=check.verdict,
        ratio=ratio,
        ci_low=_plus(check.ci_low, shift),
        ci_high=_plus(check.ci_high, shift),
        p_value=check.p_value,
        n_baseline=check.n_pairs,
        n_candidate=check.n_pairs,
        reason=check.reason,
        median_baseline=check.base_median,
        median_candidate=check.head_median,
        min_effect=check.min_effect,
        gating=check.gating,
        higher_is_better=check.higher_is_better,
    )


def _plus(value: float | None, shift: float) -> float | None:
    return None if value is None else value + shift


def to_gate_checks(
    checks: Iterable[PairedCheck], revisions: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Check]:
    """Every paired check as a gate check (:func:`to_gate_check`), in order."""
    return [to_gate_check(c, revisions) for c in checks]


def paired_exit_code(checks: Iterable[PairedCheck], harness_errors: int = 0) -> int:
    """The exit code of paired checks alone: the one rule,
    :func:`harness.compare.gate.exit_code_for`, on :func:`to_gate_checks`. A run with
    thresholds and data-loss checks too passes all of its checks to that rule at once."""
    return exit_code_for(to_gate_checks(checks), harness_errors)


def _count(n: int) -> str:
    return f"{n} gating check" + ("" if n == 1 else "s")


def _titles(checks: Sequence[PairedCheck]) -> str:
    return ", ".join(dict.fromkeys(METRICS[c.metric].title for c in checks))


def paired_headline(checks: Sequence[PairedCheck]) -> str:
    """The overall verdict in one line: regressions first, then what is undecided, then
    improvements; ``no gating change`` when every gating check is unchanged."""
    gating = [c for c in checks if c.gating]
    if not gating:
        return "no gating check: no base and head pairs"
    regressed = [c for c in gating if c.verdict == "regressed"]
    improved = [c for c in gating if c.verdict == "improved"]
    # the gate's one rule (Check.undecided): an inconclusive check whose CI already rules
    # out a regression beyond the minimum effect does not hold the run
    inconclusive = [c for c in gating if to_gate_check(c).undecided]
    ruled_out = [c for c in gating if c.verdict == "inconclusive" and c not in inconclusive]
    parts = []
    if regressed:
        speed = all(METRICS[c.metric].kind in _SPEED_KINDS for c in regressed)
        parts.append(
            f"head is {'slower' if speed else 'worse'} than base on {_count(len(regressed))} "
            f"({_titles(regressed)})"
        )
    if inconclusive:
        parts.append(f"inconclusive on {_count(len(inconclusive))}")
    if ruled_out:
        parts.append(
            f"no regression beyond the minimum effect on {_count(len(ruled_out))} "
            f"({_titles(ruled_out)}: the CI reaches only the better side)"
        )
    if improved:
        speed = all(METRICS[c.metric].kind in _SPEED_KINDS for c in improved)
        parts.append(
            f"head is {'faster' if speed else 'better'} than base on "
            f"{_count(len(improved))} ({_titles(improved)})"
        )
    return "; ".join(parts) if parts else "no gating change"


def _change(check: PairedCheck) -> str:
    """``+x.x% [+a.a%, +b.b%]`` (ratio - 1), or the difference in pp (fractions)."""
    effect, ci = check.effect, check.effect_ci
    if effect is None:
        return MISSING

    def one(x: float) -> str:
        if check.scale == "ratio":
            return f"{x * 100:+.1f}%"
        if METRICS[check.metric].kind == "fraction":
            return f"{x * 100:+.2f} pp"
        return f"{x:+.3g}"

    return one(effect) + ("" if ci is None else f" [{one(ci[0])}, {one(ci[1])}]")


def _p(check: PairedCheck) -> str:
    return MISSING if check.p_value is None else f"{check.p_value:.2g}"


_md = markdown_text


def _table(checks: Sequence[PairedCheck]) -> list[str]:
    lines = [
        "| cell | metric | base | head | head vs base [CI] | p | pairs | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in checks:
        kind = METRICS[c.metric].kind
        lines.append(
            f"| {_md(c.cell)} | {METRICS[c.metric].title} | {format_value(kind, c.base_median)} "
            f"| {format_value(kind, c.head_median)} | {_change(c)} | {_p(c)} | "
            f"{c.n_pairs} ({c.n_processes} proc.) | {_ICON[c.verdict]} |"
        )
    return lines


def paired_markdown(
    checks: Sequence[PairedCheck], revisions: Mapping[str, Mapping[str, Any]]
) -> str:
    """A GitHub job-summary section: the verdict line, the two revisions, the gating checks
    (values by the metric table's formatter), then the non-gating checks that regressed,
    then how the verdicts were reached."""
    gating = [c for c in checks if c.gating]
    worse = [c for c in checks if not c.gating and c.verdict == "regressed"]
    lines = [
        f"### Head against base: {_md(paired_headline(checks))}",
        "",
        f"- base: `{_md(revision_text(revisions.get(BASE)))}`",
        f"- head: `{_md(revision_text(revisions.get(HEAD)))}`",
        "",
    ]
    if gating:
        lines += ["#### Gating checks", "", *_table(gating), ""]
    if worse:
        lines += ["#### Regressed, not gating", "", *_table(worse), ""]
    alphas = sorted({c.alpha for c in checks})
    if alphas:
        alpha = ", ".join(f"{a:.3g}" for a in alphas)
        lines += [
            f"Pairs: base and head trials of one worker process and round. Change: head/base "
            f"as exp(mean log-ratio) (fractions: mean difference in percentage points), with a "
            f"{(1 - alphas[0]) * 100:.4g}% cluster-bootstrap CI over processes and pairs; p: "
            f"Wilcoxon signed-rank; alpha {alpha} per check. A change needs the CI to exclude "
            "no change and p < alpha; unchanged means the CI lies inside the metric's minimum "
            "effect.",
            "",
        ]
    return "\n".join(lines)


def paired_console_lines(checks: Sequence[PairedCheck]) -> list[str]:
    """One compact line per gating check, then the verdict line."""
    lines = []
    for c in checks:
        if not c.gating:
            continue
        detail = f"{_change(c)} p={_p(c)} ({c.n_pairs} pairs)" if c.effect is not None else c.reason
        lines.append(f"  {c.verdict:<12} {c.cell} {c.metric}: {detail}")
    lines.append(f"head vs base: {paired_headline(checks)}")
    return lines
