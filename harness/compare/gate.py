"""The gate: which checks decide the exit code, and the one function that computes it.

What gates: thresholds (:func:`threshold_checks`, from the one evaluator
:func:`harness.analysis.thresholds.threshold_outcomes`), data lost (:func:`data_lost_checks`,
whatever the thresholds), the rollback triggers against history (:func:`trigger_check`, from
:func:`harness.analysis.triggers.rollback_triggers`: a fired trigger fails the run; one that
could not be checked, e.g. against history older than error kinds, is shown and does not
gate), and history checks on the *gating metrics*
(:data:`harness.metrics.DEFAULT_GATING_METRICS`, or those chosen with ``--metric``).
Variant checks describe the before/after and never gate: a naive variant being slower than
``sync`` is the finding, not a failure; state such expectations as thresholds
(``async/sync.throughput > 5x``).

:func:`exit_code_for` is the one place an exit code is decided; ``uploadbench run`` and
``uploadbench compare`` both reach it through :class:`harness.compare.RunComparison`, so
they cannot disagree on the same results: 2 when a trial failed in the harness (its numbers
are missing); else 1 when a gating check regressed or failed (a threshold, data lost);
else 3 when a gating check is inconclusive in a way that could hide a regression (no
comparable history, too few repeats, a CI reaching past the min-effect boundary on the
worse side, an undecided threshold); else 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.analysis.integrity import data_lost
from harness.analysis.thresholds import ThresholdOutcome, ThresholdVerdict, threshold_outcomes
from harness.analysis.triggers import TriggerOutcome, TriggerVerdict
from harness.compare.model import Check, CheckVerdict, finite
from harness.errors import EXIT_ERROR, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION
from harness.results.contract import ScenarioDoc

__all__ = [
    "data_lost_checks",
    "exit_code_for",
    "outcome_check",
    "threshold_checks",
    "trigger_check",
]


_VERDICT: dict[ThresholdVerdict, CheckVerdict] = {
    "pass": "pass",
    "fail": "fail",
    "undecided": "inconclusive",
}


def exit_code_for(checks: Iterable[Check], harness_errors: int = 0) -> int:
    """The exit code of a run's checks (see the module docstring)."""
    if harness_errors:
        return EXIT_ERROR
    gating = [c for c in checks if c.gating]
    if any(c.failed for c in gating):
        return EXIT_REGRESSION
    if any(c.undecided for c in gating):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def outcome_check(scenario: str, outcome: ThresholdOutcome) -> Check:
    """A threshold outcome as a gating check (``inconclusive`` when undecided)."""
    verdict = _VERDICT[outcome.verdict]
    return Check(
        scenario=scenario,
        provider=outcome.provider,
        variant=outcome.variant,
        concurrency=outcome.concurrency,
        metric=outcome.metric,
        kind="threshold",
        baseline=outcome.threshold,
        verdict=verdict,
        ratio=finite(outcome.measured) if outcome.is_ratio else None,
        ci_low=None,
        ci_high=None,
        p_value=None,
        n_baseline=0,
        n_candidate=0,
        reason=f"{outcome.threshold}: {outcome.detail}",
        median_candidate=finite(outcome.measured),
        gating=True,
    )


_TRIGGER_VERDICT: dict[TriggerVerdict, CheckVerdict] = {
    "pass": "pass",
    "fail": "fail",
    "unknown": "inconclusive",
}


def trigger_check(outcome: TriggerOutcome) -> Check:
    """A rollback trigger's outcome as a check of kind ``trigger``: gating when it was
    checked (``fail`` exits 1), an inconclusive non-gating check when it could not be."""
    return Check(
        scenario=outcome.scenario,
        provider=outcome.provider,
        variant=outcome.variant,
        concurrency=outcome.concurrency,
        metric=outcome.trigger,
        kind="trigger",
        baseline=outcome.rule,
        verdict=_TRIGGER_VERDICT[outcome.verdict],
        ratio=None,
        ci_low=None,
        ci_high=None,
        p_value=None,
        n_baseline=outcome.runs,
        n_candidate=outcome.cells,
        reason=outcome.detail,
        median_baseline=finite(outcome.reference),
        median_candidate=finite(outcome.measured),
        gating=outcome.verdict != "unknown",
    )


def threshold_checks(scenario: ScenarioDoc) -> list[Check]:
    """The scenario's thresholds as gating checks, one per threshold."""
    return [outcome_check(scenario["name"], o) for o in threshold_outcomes(scenario)]


def data_lost_checks(scenario: ScenarioDoc) -> list[Check]:
    """One failing gating check per (provider, variant) that lost data without leave."""
    return [
        Check(
            scenario=loss.scenario,
            provider=loss.provider,
            variant=loss.variant,
            concurrency=None,
            metric="integrity_errors",
            kind="integrity",
            baseline="data lost",
            verdict="fail",
            ratio=None,
            ci_low=None,
            ci_high=None,
            p_value=None,
            n_baseline=0,
            n_candidate=loss.trials,
            reason=loss.message,
            median_candidate=float(loss.lost),
            gating=True,
        )
        for loss in data_lost(scenario)
    ]
