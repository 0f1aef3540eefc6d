"""The check model: what a verdict is (:class:`Check`), the knobs that decide it
(:class:`Policy`), and a whole run's checks with their exit code (:class:`RunComparison`).

Defaults, chosen for a shared 2-core CI box where repeat-to-repeat noise of 5-15% is normal
(see :mod:`harness.analysis.stats` for the verdict rule): minimum effects from
:data:`harness.metrics.MIN_EFFECT`; alpha 0.05 (two-sided Mann-Whitney U), at least 3
repeats per side, history = the last 5 comparable runs with their repeats pooled.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from harness.analysis import stats
from harness.metrics import DEFAULT_GATING_METRICS, HIGHER_IS_BETTER, METRIC_NAMES, MIN_EFFECT

if TYPE_CHECKING:
    from harness.analysis.paired import PairedCheck

__all__ = [
    "Check",
    "CheckKind",
    "CheckVerdict",
    "Policy",
    "RunComparison",
    "finite",
    "no_baseline_check",
    "stat_check",
]

# "paired": head against base measured in the same run (harness.analysis.paired);
# "trigger": a rollback trigger against history (harness.analysis.triggers)
# "step": a change point over the nights (harness.compare.steps)
CheckKind = Literal["variant", "history", "paired", "step", "threshold", "integrity", "trigger"]
CheckVerdict = Literal["regressed", "improved", "unchanged", "inconclusive", "pass", "fail"]


@dataclass(frozen=True)
class Policy:
    """How verdicts are decided; every knob has a documented default."""

    alpha: float = 0.05
    min_samples: int = 3
    min_effect: Mapping[str, float] = field(default_factory=lambda: dict(MIN_EFFECT))
    default_min_effect: float = 0.05
    metrics: tuple[str, ...] | None = None  # None: every contract metric with data
    gating_metrics: tuple[str, ...] = DEFAULT_GATING_METRICS
    last: int = 5
    # Raise a history check's min effect to the run-to-run noise of the history runs
    # (stats.run_to_run_floor): repeats within one run share its machine state.
    history_floor: bool = True
    any_environment: bool = False
    seed: int = 0
    n_resamples: int = 2000
    confidence: float = 0.95

    def effect_for(self, metric: str) -> float:
        return self.min_effect.get(metric, self.default_min_effect)

    def checked_metrics(self) -> tuple[str, ...]:
        return METRIC_NAMES if self.metrics is None else self.metrics

    def rng_for(self, key: str) -> np.random.Generator:
        """A generator per check, derived from the seed and the check's identity, so a
        check's CI does not depend on which other checks ran before it."""
        return np.random.default_rng([self.seed, zlib.crc32(key.encode("utf-8"))])


@dataclass(frozen=True)
class Check:
    """One verdict: a variant vs the baseline variant, vs history, or a threshold."""

    scenario: str
    provider: str
    variant: str
    concurrency: int | None
    metric: str
    kind: CheckKind
    baseline: str
    verdict: CheckVerdict
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_baseline: int
    n_candidate: int
    reason: str
    median_baseline: float | None = None
    median_candidate: float | None = None
    min_effect: float | None = None
    gating: bool = False
    higher_is_better: bool | None = None
    # against history or another run: the first and last run compared with (one run: the
    # same twice) and the last one's commit, so that readers need not parse ``baseline``
    compared_runs: tuple[str, str] | None = None
    compared_commit: str | None = None

    @property
    def failed(self) -> bool:
        return self.verdict in ("regressed", "fail")

    @property
    def undecided(self) -> bool:
        """Inconclusive in a way that could hide a regression: no baseline, too few
        samples, or a CI reaching past the min-effect boundary on the *worse* side. A CI
        that straddles only the better side's boundary rules a regression out."""
        if self.verdict != "inconclusive":
            return False
        if self.ci_low is None or self.ci_high is None or self.min_effect is None:
            return True
        if self.higher_is_better:
            return self.ci_low < 1.0 - self.min_effect
        return self.ci_high > 1.0 + self.min_effect

    @property
    def label(self) -> str:
        """``scenario / provider / variant / c=N``: where the check applies."""
        parts = [self.scenario, self.provider, self.variant]
        if self.concurrency is not None:
            parts.append(f"c={self.concurrency}")
        return " / ".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SUMMARY_KEYS: tuple[CheckVerdict, ...] = (
    "regressed",
    "improved",
    "unchanged",
    "inconclusive",
    "pass",
    "fail",
)


@dataclass(frozen=True)
class RunComparison:
    """All checks of one run, their counts and the exit code they imply
    (:func:`harness.compare.gate.exit_code_for`, the one the run command uses too).
    ``harness_errors`` counts the run's trials that failed in the harness."""

    run_id: str
    against: str
    checks: tuple[Check, ...]
    exit_code: int
    notes: tuple[str, ...] = ()
    harness_errors: int = 0
    # harness.analysis.summary.SampleTime.as_dict() of the run: measured upload seconds /
    # run seconds; describes, never gates
    sample_efficiency: Mapping[str, Any] | None = None
    # a base-and-head run: the paired checks (harness.analysis.paired.PairedCheck, also
    # in ``checks`` as kind "paired") and the revisions by label
    paired: tuple[PairedCheck, ...] = ()
    revisions: Mapping[str, Mapping[str, Any]] | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """Counts per verdict (all checks), and per verdict among gating checks."""
        counts: dict[str, int] = dict.fromkeys(_SUMMARY_KEYS, 0)
        gating: dict[str, int] = dict.fromkeys(_SUMMARY_KEYS, 0)
        for check in self.checks:
            counts[check.verdict] += 1
            if check.gating:
                gating[check.verdict] += 1
        return {"total": len(self.checks), **counts, "gating": gating}

    @property
    def suspects(self) -> tuple[Check, ...]:
        """Gating history checks that regressed: what ``--confirm`` re-runs."""
        return tuple(c for c in self.checks if c.kind == "history" and c.gating and c.failed)

    @property
    def headline(self) -> str:
        """What decides the exit code, counted: gating checks only (as the run says)."""
        g = self.summary["gating"]
        history = sum(
            1 for c in self.checks if c.kind in ("history", "paired", "step") and c.gating
        )
        lost = sum(1 for c in self.checks if c.kind == "integrity")
        thresholds = [c for c in self.checks if c.kind == "threshold"]
        undecided = sum(1 for c in thresholds if c.verdict == "inconclusive")
        passed = sum(1 for c in thresholds if c.verdict == "pass")
        failed = sum(1 for c in thresholds if c.verdict == "fail")
        parts = [
            f"compared with {self.against}: {g['regressed']} regressed, {g['improved']} "
            f"improved, {g['unchanged']} unchanged, "
            f"{g['inconclusive'] - undecided} inconclusive of {history} gating checks",
            f"thresholds {passed} passed, {failed} failed, {undecided} undecided",
        ]
        triggers = [c for c in self.checks if c.kind == "trigger" and c.gating]
        if triggers:
            fired = sum(1 for c in triggers if c.failed)
            parts.append(f"rollback triggers {fired} fired of {len(triggers)}")
        if lost:
            parts.append(f"data lost in {lost} variant(s)")
        if self.harness_errors:
            parts.append(f"{self.harness_errors} harness error(s)")
        return "; ".join(parts) + f" -> exit {self.exit_code}"

    @property
    def lines(self) -> list[str]:
        """Plain-text lines for a terminal: the headline, each gating check that is not
        plainly fine, and the notes."""
        out = [self.headline]
        for check in self.checks:
            if not check.gating or check.verdict in ("pass", "unchanged", "improved"):
                continue
            # a threshold's, data loss's or trigger's reason already names what was checked
            what = (
                ""
                if check.kind in ("threshold", "integrity", "trigger", "step")
                else (f"{check.metric} vs {check.baseline}: ")
            )
            out.append(f"  {check.verdict}: {check.label}: {what}{check.reason}")
        out.extend(f"  note: {note}" for note in self.notes)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable, in a deterministic order (the report's input)."""
        return {
            "run_id": self.run_id,
            "against": self.against,
            "exit_code": self.exit_code,
            "harness_errors": self.harness_errors,
            "summary": self.summary,
            "notes": list(self.notes),
            "sample_efficiency": (
                None if self.sample_efficiency is None else dict(self.sample_efficiency)
            ),
            "checks": [c.to_dict() for c in self.checks],
            "paired": (
                None
                if self.revisions is None
                else {
                    "revisions": {k: dict(v) for k, v in self.revisions.items()},
                    "checks": [c.to_json() for c in self.paired],
                }
            ),
        }


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def stat_check(
    *,
    scenario: str,
    key: tuple[str, str, int],
    metric: str,
    kind: CheckKind,
    baseline_label: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    policy: Policy,
    gating: bool,
    floor: float | None = None,
    floor_note: str = "",
) -> Check:
    """A statistical check of ``candidate`` against ``baseline`` samples
    (:func:`harness.analysis.stats.verdict`), its min effect raised to ``floor`` (the
    run-to-run noise) when that is larger."""
    provider, variant, concurrency = key
    effect = policy.effect_for(metric)
    raised = floor is not None and floor > effect
    if floor is not None and raised:
        effect = min(floor, 0.99)  # stats.verdict needs a min effect below 100%
    rng_key = f"{kind}|{scenario}|{provider}|{variant}|{concurrency}|{metric}|{baseline_label}"
    v = stats.verdict(
        baseline,
        candidate,
        higher_is_better=metric in HIGHER_IS_BETTER,
        rng=policy.rng_for(rng_key),
        min_effect=effect,
        alpha=policy.alpha,
        min_samples=policy.min_samples,
        confidence=policy.confidence,
        n_resamples=policy.n_resamples,
    )
    return Check(
        scenario=scenario,
        provider=provider,
        variant=variant,
        concurrency=concurrency,
        metric=metric,
        kind=kind,
        baseline=baseline_label,
        verdict=v.verdict,
        ratio=finite(v.ratio),
        ci_low=finite(v.ci_low),
        ci_high=finite(v.ci_high),
        p_value=finite(v.p_value),
        n_baseline=v.n_baseline,
        n_candidate=v.n_candidate,
        reason=(
            f"{v.reason} (min effect raised from {policy.effect_for(metric):.0%} to "
            f"{effect:.0%}: {floor_note})"
            if raised
            else v.reason
        ),
        median_baseline=v.median_baseline,
        median_candidate=v.median_candidate,
        min_effect=effect,
        gating=gating,
        higher_is_better=metric in HIGHER_IS_BETTER,
    )


def no_baseline_check(
    scenario: str,
    label: str,
    reason: str,
    *,
    provider: str = "",
    variant: str = "",
    concurrency: int | None = None,
) -> Check:
    """An inconclusive, gating history check: there is nothing to compare with."""
    return Check(
        scenario=scenario,
        provider=provider,
        variant=variant,
        concurrency=concurrency,
        metric="*",
        kind="history",
        baseline=label,
        verdict="inconclusive",
        ratio=None,
        ci_low=None,
        ci_high=None,
        p_value=None,
        n_baseline=0,
        n_candidate=0,
        reason=reason,
        gating=True,
    )
