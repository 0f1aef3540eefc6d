"""Verdicts for a run: each variant against the scenario's baseline variant, the run against
its history (or another run), and the scenario's thresholds; plus the CI exports (JUnit XML,
a GitHub-flavoured markdown job summary, Bencher Metric Format JSON).

Everything here is a pure function of data except :func:`compare_against`, which reads the
history folder or the other run and then calls the pure :func:`compare_run`.

Defaults, chosen for a shared 2-core CI box where repeat-to-repeat noise of 5-15% is normal
(see :mod:`harness.stats` for the verdict rule):

- minimum effect (:data:`MIN_EFFECT`): 5% for throughput, files/s, wall time and median
  latency; 10% for tail latencies, memory, CPU time, retries and error/timeout rates; 20%
  for event-loop lag, which is dominated by scheduler noise; 1% for the success rate (one
  failed upload in a hundred matters); 0 for integrity errors (any is one too many).
- alpha 0.05 (two-sided Mann-Whitney U), at least 3 repeats per side, history = the last 5
  comparable runs with their repeats pooled.
- run-to-run noise: repeats within one run share its machine state (on a shared box whole
  runs shift by 10-30%), so against >= 2 history runs a check's min effect is raised to the
  95% prediction interval of one more run's median (:func:`harness.stats.run_to_run_floor`);
  the reason says so. One run (``--against RUN``) says nothing of that noise, so its checks
  take the floor from the >= 2 comparable history runs older than the run when the history
  has them; otherwise a note says the floor is unknown and false alarms are likelier.

False alarms per night matter more than per check: a smoke run has 36 gating history checks
(3 providers x 3 variants x 4 metrics), so even 1% per independent check would fail about
3 nights in 10. Measured A/A (same code, ``scenarios/smoke.toml --repeats 5``, 12 runs,
runs 3-12 compared, loaded shared 2-core box, 2026-11-28; ``python benchmarks/aa_ab.py aa``
runs the history half of this experiment):

- against history (last 5): 1 of 360 gating checks flagged (0.3%), 0 of 10 nights exit 1;
- against the previous run, floor from history: 0 of 360 (0%), 0 of 10 nights;
- against the previous run without a floor (no history): 17 of 360 (4.7%), 2 of 10 nights.

The price: with 5 history runs the floor was a median 12% for throughput and 17% for
latency (up to 95% for the noisiest groups), so one night does not flag a 10% slowdown
there. At smoke's own 2 repeats every check is inconclusive (fewer than 3 per side).

What gates the exit code (DESIGN.md): thresholds, and history checks on the *gating
metrics* (:data:`DEFAULT_GATING_METRICS`, or those chosen with ``--metric``). Variant checks
describe the before/after and never gate: a naive variant being slower than ``sync`` is the
finding, not a failure; state such expectations as thresholds (``async/sync.throughput >
5x``).

Exit 1 when a gating check regressed or a threshold failed. Else 3 when a gating check is
inconclusive in a way that could hide a regression: no comparable history (a gate without
a baseline cannot pass honestly), too few repeats, or a CI reaching past the min-effect
boundary on the worse side (a CI straddling only the better side's boundary rules a
regression out, so it does not hold the gate). Else 0. Errors are raised, never turned into
a code here.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree as ET

import numpy as np

from harness import stats
from harness.errors import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION, ResultsError
from harness.history import (
    GroupKey,
    HistoryEntry,
    history_root,
    load_history,
    scenario_samples,
    select_comparable,
)
from harness.metrics import DEFAULT_GATING_METRICS, HIGHER_IS_BETTER, METRIC_NAMES, MIN_EFFECT
from harness.results import load_results, timing_trials

__all__ = [
    "DEFAULT_GATING_METRICS",
    "HIGHER_IS_BETTER",
    "MIN_EFFECT",
    "Check",
    "CheckKind",
    "CheckVerdict",
    "Policy",
    "RunComparison",
    "compare_against",
    "compare_run",
    "compare_variants",
    "exit_code_for",
    "threshold_checks",
    "to_bmf",
    "to_junit_xml",
    "to_markdown",
]

CheckKind = Literal["variant", "history", "threshold"]
CheckVerdict = Literal["regressed", "improved", "unchanged", "inconclusive", "pass", "fail"]

# BMF "measure" names: the results contract's metric names are already unit-suffixed.
_BMF_METRICS: tuple[str, ...] = tuple(m for m in METRIC_NAMES if m != "heap_peak_bytes")


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
    """All checks of one run, their counts and the exit code they imply."""

    run_id: str
    against: str
    checks: tuple[Check, ...]
    exit_code: int
    notes: tuple[str, ...] = ()

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
    def lines(self) -> list[str]:
        """Plain-text lines for a terminal: the headline, each gating check that is not
        plainly fine, and the notes."""
        s = self.summary
        out = [
            f"compared with {self.against}: {s['regressed']} regressed, {s['improved']} "
            f"improved, {s['unchanged']} unchanged, {s['inconclusive']} inconclusive; "
            f"thresholds {s['pass']} passed, {s['fail']} failed -> exit {self.exit_code}"
        ]
        for check in self.checks:
            if check.gating and check.verdict not in ("pass", "unchanged", "improved"):
                out.append(
                    f"  {check.verdict}: {check.label}: {check.metric} vs {check.baseline}: "
                    f"{check.reason}"
                )
        out.extend(f"  note: {note}" for note in self.notes)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable, in a deterministic order (the report's input)."""
        return {
            "run_id": self.run_id,
            "against": self.against,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "notes": list(self.notes),
            "checks": [c.to_dict() for c in self.checks],
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _stat_check(
    *,
    scenario: str,
    key: GroupKey,
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
        ratio=_finite(v.ratio),
        ci_low=_finite(v.ci_low),
        ci_high=_finite(v.ci_high),
        p_value=_finite(v.p_value),
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


def _variant_order(scenario: Mapping[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for trial in scenario["trials"]:
        seen.setdefault(str(trial["variant"]), None)
    return list(seen)


class _Layout:
    """Which concurrencies each (provider, variant) ran at. A variant run at one concurrency
    only (the plan runs the sequential ``sync`` baseline at c=1) stands in for itself at
    every concurrency of its provider -- the same pairing as :mod:`harness.summary`, which
    also decides where thresholds are checked (:meth:`threshold_groups`)."""

    def __init__(self, trials: Iterable[Mapping[str, Any]]) -> None:
        self.concurrencies: dict[tuple[str, str], set[int]] = {}
        for trial in trials:
            provider = str(trial.get("provider") or "")
            key = (provider, str(trial["variant"]))
            self.concurrencies.setdefault(key, set()).add(int(trial["concurrency"]))

    def resolve(self, provider: str, variant: str, concurrency: int) -> int:
        """The concurrency whose trials represent ``variant`` at ``concurrency``."""
        ran = self.concurrencies.get((provider, variant), set())
        if concurrency not in ran and len(ran) == 1:
            return next(iter(ran))
        return concurrency

    def threshold_groups(self, baseline: str) -> list[tuple[str, int]]:
        """Where thresholds are checked, as :mod:`harness.summary` checks them: each
        provider at each concurrency its non-baseline variants ran at (the baseline stands
        in there); the baseline's own concurrencies when it ran alone. A baseline run at
        c=1 beside variants at c=4 is therefore checked at c=4 only: a c=1 group would
        copy the c=4 variants' data into checks that no trial measured."""
        groups: set[tuple[str, int]] = set()
        for provider in {p for p, _ in self.concurrencies}:
            mine = {v: cs for (p, v), cs in self.concurrencies.items() if p == provider}
            others = [cs for v, cs in mine.items() if v != baseline] or list(mine.values())
            groups.update((provider, c) for cs in others for c in cs)
        return sorted(groups)


def compare_variants(scenario: Mapping[str, Any], policy: Policy | None = None) -> list[Check]:
    """Each variant against the scenario's baseline variant (default ``sync``), per
    provider, concurrency and metric. Metrics without data on both sides (e.g. loop lag of
    a sync variant) are not applicable and yield no check. A baseline run at a single
    concurrency is compared with every concurrency (its label then says ``sync (c=1)``).
    Never gating."""
    policy = policy or Policy()
    name = str(scenario["name"])
    base_variant = str(scenario.get("baseline") or "sync")
    samples = scenario_samples(scenario)
    layout = _Layout(scenario["trials"])
    order = {v: i for i, v in enumerate(_variant_order(scenario))}
    checks: list[Check] = []
    for key in sorted(samples, key=lambda k: (k[0], k[2], order.get(k[1], 0))):
        provider, variant, concurrency = key
        if variant == base_variant:
            continue
        base_c = layout.resolve(provider, base_variant, concurrency)
        base = samples.get((provider, base_variant, base_c))
        if base is None:
            continue
        label = base_variant if base_c == concurrency else f"{base_variant} (c={base_c})"
        for metric in policy.checked_metrics():
            cand_values, base_values = samples[key].get(metric), base.get(metric)
            if not cand_values or not base_values:
                continue
            checks.append(
                _stat_check(
                    scenario=name,
                    key=key,
                    metric=metric,
                    kind="variant",
                    baseline_label=label,
                    baseline=base_values,
                    candidate=cand_values,
                    policy=policy,
                    gating=False,
                )
            )
    return checks


def _threshold_texts(scenario: Mapping[str, Any]) -> list[str]:
    definition = scenario.get("definition") or {}
    raw = definition.get("thresholds") or []
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise ResultsError(f"scenario {scenario['name']!r}: definition.thresholds is not a list")
    return list(raw)


def threshold_checks(scenario: Mapping[str, Any]) -> list[Check]:
    """The scenario's thresholds (``harness.thresholds``), evaluated per provider and
    concurrency on the timing trials plus the profiled trials' memory rows
    (``harness.memory.memory_metric_rows``), pairing a single-concurrency baseline with every
    concurrency as :mod:`harness.summary` does. Always gating; no data -> inconclusive."""
    texts = _threshold_texts(scenario)
    if not texts:
        return []
    from harness.analysis.thresholds import evaluate_thresholds
    from harness.memory import memory_metric_rows
    from harness.thresholds import parse_threshold

    name = str(scenario["name"])
    try:
        thresholds = [parse_threshold(text) for text in texts]
    except ValueError as exc:
        raise ResultsError(f"scenario {name!r}: {exc}") from None

    def cell_of(trial: Mapping[str, Any]) -> tuple[str, str, int]:
        return str(trial.get("provider") or ""), str(trial["variant"]), int(trial["concurrency"])

    layout = _Layout(scenario["trials"])
    timing: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    for trial in timing_trials(scenario):
        timing.setdefault(cell_of(trial), []).append(trial)
    profiled: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    for trial in scenario["trials"]:
        if trial.get("profiled") and trial.get("status") == "ok":
            profiled.setdefault(cell_of(trial), []).append(trial)
    baseline = str(scenario.get("baseline") or "sync")
    groups: dict[tuple[str, int], dict[str, list[dict[str, float]]]] = {}
    for provider, concurrency in layout.threshold_groups(baseline):
        per_variant: dict[str, list[dict[str, float]]] = {}
        for variant in sorted({v for p, v in layout.concurrencies if p == provider}):
            cell = (provider, variant, layout.resolve(provider, variant, concurrency))
            rows = [dict(t["metrics"]) for t in timing.get(cell, [])]
            for extra in memory_metric_rows(profiled.get(cell, [])).values():
                rows.extend(extra)
            per_variant[variant] = rows
        groups[(provider, concurrency)] = per_variant
    checks = []
    for provider, concurrency in sorted(groups):
        results = evaluate_thresholds(thresholds, groups[(provider, concurrency)])
        for threshold, result in zip(thresholds, results, strict=True):
            verdict: CheckVerdict = (
                "inconclusive" if result.passed is None else "pass" if result.passed else "fail"
            )
            checks.append(
                Check(
                    scenario=name,
                    provider=provider,
                    variant=threshold.variant,
                    concurrency=concurrency,
                    metric=threshold.metric,
                    kind="threshold",
                    baseline=threshold.text,
                    verdict=verdict,
                    ratio=_finite(result.measured) if threshold.is_ratio else None,
                    ci_low=None,
                    ci_high=None,
                    p_value=None,
                    n_baseline=0,
                    n_candidate=0,
                    reason=f"{threshold.text}: {result.detail}",
                    median_candidate=_finite(result.measured),
                    gating=True,
                )
            )
    return checks


_Runs = Sequence[Mapping[GroupKey, Mapping[str, Sequence[float]]]]


def _baseline_checks(
    scenario: Mapping[str, Any],
    runs: _Runs,
    label: str,
    policy: Policy,
    noise_runs: _Runs | None = None,
) -> list[Check]:
    """History-kind checks of ``scenario`` against the pooled repeats of ``runs`` (one per
    earlier run), the min effect raised to the run-to-run noise of ``noise_runs`` (default:
    ``runs``) where they hold >= 2 runs of a group."""
    floor_runs = runs if noise_runs is None else noise_runs
    name = str(scenario["name"])
    samples = scenario_samples(scenario)
    order = {v: i for i, v in enumerate(_variant_order(scenario))}
    gating_metrics = set(policy.metrics or policy.gating_metrics)
    checks: list[Check] = []
    for key in sorted(samples, key=lambda k: (k[0], k[2], order.get(k[1], 0))):
        per_run = [run[key] for run in runs if key in run]
        if not per_run:
            provider, variant, concurrency = key
            checks.append(
                _no_baseline_check(
                    scenario,
                    label,
                    f"{label} has no trials of this variant",
                    provider=provider,
                    variant=variant,
                    concurrency=concurrency,
                )
            )
            continue
        for metric in policy.checked_metrics():
            cand_values = samples[key].get(metric)
            run_values = [list(run[metric]) for run in per_run if run.get(metric)]
            if not cand_values or not run_values:
                continue
            floor = None
            noise_values = [
                list(run[key][metric]) for run in floor_runs if run.get(key, {}).get(metric)
            ]
            if policy.history_floor and len(noise_values) >= 2:
                floor = stats.run_to_run_floor([stats.median(v) for v in noise_values])
            checks.append(
                _stat_check(
                    scenario=name,
                    key=key,
                    metric=metric,
                    kind="history",
                    baseline_label=label,
                    baseline=[x for values in run_values for x in values],
                    candidate=cand_values,
                    policy=policy,
                    gating=metric in gating_metrics,
                    floor=floor,
                    floor_note=f"run-to-run noise of {len(noise_values)} "
                    + ("earlier runs" if noise_runs is None else "history runs"),
                )
            )
    return checks


def _noise_runs(
    scenario: Mapping[str, Any],
    history: Sequence[HistoryEntry] | None,
    fingerprint: str | None,
    run_id: str,
    before: str,
    policy: Policy,
) -> tuple[_Runs | None, str]:
    """The history runs whose spread sets a run-vs-run check's floor, and a note saying so.
    None when there are fewer than 2 (the floor then stays unknown)."""
    if not policy.history_floor:
        return None, "run-to-run noise floor off"
    chosen: list[HistoryEntry] = []
    why = "no history"
    if history:
        chosen, why = select_comparable(
            history,
            scenario_hash=str(scenario["hash"]),
            fingerprint=fingerprint,
            exclude_run_id=run_id,
            before=before,
            last=policy.last,
            any_environment=policy.any_environment,
        )
    if len(chosen) < 2:
        return None, (
            f"run-to-run noise unknown ({why}; a floor needs 2 comparable history runs): "
            "min effects not raised, expect more false alarms than against history"
        )
    runs = [{k: dict(v) for k, v in entry.groups.items()} for entry in chosen]
    return runs, f"min effects raised to the run-to-run noise of {len(chosen)} history runs"


def _no_baseline_check(
    scenario: Mapping[str, Any],
    label: str,
    reason: str,
    *,
    provider: str = "",
    variant: str = "",
    concurrency: int | None = None,
) -> Check:
    """An inconclusive, gating history check: there is nothing to compare with."""
    return Check(
        scenario=str(scenario["name"]),
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


def exit_code_for(checks: Iterable[Check]) -> int:
    """1 when a gating check regressed or failed; else 3 when a gating check is
    :attr:`Check.undecided` (could hide a regression); else 0 (DESIGN.md exit codes)."""
    gating = [c for c in checks if c.gating]
    if any(c.failed for c in gating):
        return EXIT_REGRESSION
    if any(c.undecided for c in gating):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def compare_run(
    results: Mapping[str, Any],
    *,
    history: Sequence[HistoryEntry] | None = None,
    baseline_run: Mapping[str, Any] | None = None,
    policy: Policy | None = None,
    notes: Sequence[str] = (),
    variant_checks: bool = True,
    noise_history: Sequence[HistoryEntry] | None = None,
) -> RunComparison:
    """Thresholds, variant checks (unless ``variant_checks`` is false), and (when given)
    checks against ``history`` entries or against ``baseline_run``, for every scenario of
    ``results``. Pure.

    History entries must be comparable (same scenario hash and environment fingerprint,
    :func:`harness.history.select_comparable` picks them); a scenario without any gets one
    inconclusive gating check saying why. ``baseline_run`` must share the environment
    fingerprint unless ``policy.any_environment``: :class:`ResultsError` otherwise. One run
    says nothing of run-to-run noise, so checks against it take their min-effect floor from
    the comparable runs of ``noise_history`` (same scenario hash and fingerprint, older than
    the run, the last ``policy.last``); without >= 2 such runs a note says the
    floor is unknown and the plain min effects apply.
    """
    policy = policy or Policy()
    run_id = str(results["run_id"])
    fingerprint = (results.get("environment") or {}).get("fingerprint")
    all_notes = list(notes)
    against = "none"
    other_scenarios: dict[str, Mapping[str, Any]] = {}
    if baseline_run is not None:
        against = str(baseline_run["run_id"])
        other_fp = (baseline_run.get("environment") or {}).get("fingerprint")
        if other_fp != fingerprint and not policy.any_environment:
            raise ResultsError(
                f"run {against} ran in another environment (fingerprint {other_fp}; run "
                f"{run_id}: {fingerprint}): timings across machines or package versions are "
                "not comparable (--any-environment to compare anyway)"
            )
        other_scenarios = {str(s["name"]): s for s in baseline_run["scenarios"]}
    elif history is not None:
        against = "history"

    checks: list[Check] = []
    for scenario in results["scenarios"]:
        checks.extend(threshold_checks(scenario))
        if variant_checks:
            checks.extend(compare_variants(scenario, policy))
        if baseline_run is not None:
            label = f"run {against}"
            other = other_scenarios.get(str(scenario["name"]))
            if other is None:
                checks.append(_no_baseline_check(scenario, label, f"{label} lacks this scenario"))
            elif other["hash"] != scenario["hash"]:
                checks.append(
                    _no_baseline_check(
                        scenario,
                        label,
                        f"{label} ran another definition of this scenario (hash "
                        f"{str(other['hash'])[:12]} vs {str(scenario['hash'])[:12]})",
                    )
                )
            else:
                noise, why = _noise_runs(
                    scenario, noise_history, fingerprint, run_id, str(results["started_at"]), policy
                )
                all_notes.append(f"{scenario['name']}: {label}: {why}")
                checks.extend(
                    _baseline_checks(scenario, [scenario_samples(other)], label, policy, noise)
                )
        elif history is not None:
            chosen, why = select_comparable(
                history,
                scenario_hash=str(scenario["hash"]),
                fingerprint=fingerprint,
                exclude_run_id=run_id,
                before=str(results["started_at"]),
                last=policy.last,
                any_environment=policy.any_environment,
            )
            all_notes.append(f"{scenario['name']}: history: {why}")
            if not chosen:
                checks.append(
                    _no_baseline_check(scenario, "history", f"no comparable history: {why}")
                )
                continue
            label = f"history ({len(chosen)} runs: {chosen[0].run_id}..{chosen[-1].run_id})"
            runs = [{k: dict(v) for k, v in entry.groups.items()} for entry in chosen]
            checks.extend(_baseline_checks(scenario, runs, label, policy))
    return RunComparison(
        run_id=run_id,
        against=against,
        checks=tuple(checks),
        exit_code=exit_code_for(checks),
        notes=tuple(all_notes),
    )


def compare_against(
    results: Mapping[str, Any],
    against: str | None,
    *,
    reports_dir: Path,
    policy: Policy | None = None,
) -> RunComparison:
    """Read what ``against`` names and compare: ``"history"`` (``reports_dir/history``),
    a run (folder, results.json, run id or ``latest``), or None for thresholds and variant
    checks only. Skipped corrupt history files become notes."""
    if against is None:
        return compare_run(results, policy=policy)
    if against == "history":
        loaded = load_history(history_root(reports_dir))
        return compare_run(results, history=loaded.entries, policy=policy, notes=loaded.warnings)
    other = load_results(against, reports_dir=reports_dir)
    if other["run_id"] == results["run_id"]:
        raise ResultsError(f"{against}: is run {other['run_id']} itself; compare with another run")
    loaded = load_history(history_root(reports_dir))
    return compare_run(
        results,
        baseline_run=other,
        policy=policy,
        notes=loaded.warnings,
        noise_history=loaded.entries,
    )


# ---------------------------------------------------------------- exports


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _ci(check: Check) -> str:
    if check.ci_low is None or check.ci_high is None:
        return "–"
    return f"[{check.ci_low:.3f}, {check.ci_high:.3f}]"


def to_junit_xml(comparison: RunComparison) -> str:
    """JUnit XML: one testcase per check. Failures are exactly what makes the exit code 1
    (gating regressions, failed thresholds); inconclusive checks are skipped; a non-gating
    regression (a variant slower than the baseline variant: the finding, not a fault)
    passes with the verdict in its output, so CI dashboards agree with the gate."""
    checks = comparison.checks
    failures = sum(c.failed and c.gating for c in checks)
    skipped = sum(c.verdict == "inconclusive" for c in checks)
    counts = {"tests": str(len(checks)), "failures": str(failures), "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": "uploadbench", **counts, "errors": "0"})
    suite_name = f"uploadbench compare {comparison.run_id} against {comparison.against}"
    suite = ET.SubElement(root, "testsuite", {"name": suite_name, **counts, "errors": "0"})
    for check in checks:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": check.label or check.scenario,
                "name": f"{check.kind}: {check.metric} vs {check.baseline}",
            },
        )
        message = f"{check.verdict}: {check.reason}"
        if check.failed and check.gating:
            failure = ET.SubElement(case, "failure", {"message": message, "type": check.verdict})
            failure.text = message
        elif check.verdict == "inconclusive":
            ET.SubElement(case, "skipped", {"message": message})
        else:
            note = "" if check.gating else " (not gating)"
            ET.SubElement(case, "system-out").text = f"{check.verdict}{note}: {check.reason}"
    ET.indent(root)
    body: str = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"


def _md(text: str) -> str:
    # Scenario names and variant specs are user text: keep them from breaking the table
    # or injecting HTML into the job summary.
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\n", " ")
    )


_ICON = {
    "regressed": "🔴 regressed",
    "fail": "🔴 fail",
    "improved": "🟢 improved",
    "pass": "🟢 pass",
    "unchanged": "⚪ unchanged",
    "inconclusive": "🟡 inconclusive",
}


def _md_table(checks: Sequence[Check]) -> list[str]:
    lines = [
        "| where | kind | metric | against | verdict | ratio | 95% CI | p | n | reason |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in checks:
        n = f"{c.n_baseline}/{c.n_candidate}" if c.kind != "threshold" else "–"
        lines.append(
            f"| {_md(c.label)} | {c.kind} | `{_md(c.metric)}` | {_md(c.baseline)} | "
            f"{_ICON[c.verdict]} | {_fmt(c.ratio)} | {_ci(c)} | {_fmt(c.p_value, 2)} | {n} | "
            f"{_md(c.reason)} |"
        )
    return lines


def to_markdown(comparison: RunComparison) -> str:
    """A GitHub job summary: the headline, every gating check that is not plainly fine,
    then all checks in a collapsed section."""
    s = comparison.summary
    status = {
        EXIT_OK: "✅ ok",
        EXIT_REGRESSION: "❌ regression or failed threshold",
        EXIT_INCONCLUSIVE: "🟡 inconclusive",
    }.get(comparison.exit_code, "?")
    lines = [
        f"## uploadbench: {status} (exit {comparison.exit_code})",
        "",
        f"Run `{_md(comparison.run_id)}` against {_md(comparison.against)}: "
        f"{s['regressed']} regressed, {s['improved']} improved, {s['unchanged']} unchanged, "
        f"{s['inconclusive']} inconclusive; thresholds {s['pass']} passed, {s['fail']} failed.",
        "",
    ]
    attention = [
        c for c in comparison.checks if c.gating and c.verdict not in ("pass", "unchanged")
    ]
    if attention:
        lines += ["### Gating checks that need a look", "", *_md_table(attention), ""]
    others = [
        c for c in comparison.checks if c.verdict in ("regressed", "improved") and not c.gating
    ]
    if others:
        lines += ["### Other changes (not gating)", "", *_md_table(others), ""]
    if comparison.notes:
        lines += ["### Notes", "", *[f"- {_md(n)}" for n in comparison.notes], ""]
    if comparison.checks:
        lines += [
            f"<details><summary>All {len(comparison.checks)} checks</summary>",
            "",
            *_md_table(comparison.checks),
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def to_bmf(results: Mapping[str, Any]) -> str:
    """Bencher Metric Format JSON: one benchmark per ``scenario/provider/variant/c=N``, one
    measure per metric: the median over repeats with the smallest and largest repeat as
    ``lower_value``/``upper_value``. Heap peaks come from profiled trials, timings never."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for scenario in results["scenarios"]:
        samples = scenario_samples(scenario)
        order = {v: i for i, v in enumerate(_variant_order(scenario))}
        for key in sorted(samples, key=lambda k: (k[0], k[2], order.get(k[1], 0))):
            provider, variant, concurrency = key
            name = "/".join(p for p in (str(scenario["name"]), provider, variant) if p)
            measures: dict[str, dict[str, float]] = {}
            for metric in (*_BMF_METRICS, "heap_peak_bytes"):
                values = samples[key].get(metric)
                if values:
                    measures[metric] = {
                        "value": stats.median(values),
                        "lower_value": min(values),
                        "upper_value": max(values),
                    }
            if measures:
                out[f"{name}/c={concurrency}"] = measures
    return json.dumps(out, indent=1, allow_nan=False) + "\n"
