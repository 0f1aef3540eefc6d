"""Calibration (``uploadbench calibrate``): A/A runs of unchanged code measure each
metric's noise, say how many repeats would detect a given change, and count how often the
verdict rule cries wolf.

Methods (each printed with the numbers):

- noise: coefficient of variation (std/mean) and robust CV (normal-scaled MAD/median) of
  the per-repeat values pooled over all runs;
- repeats needed to detect ``effect`` (default 10%) at ``alpha`` 0.05 with ``power``
  80%: a normal approximation for the two-sided Mann-Whitney U test (``n = 2 (z_a + z_b)^2
  (cv/effect)^2 / (3/pi)``), and a bootstrap simulation from the observed samples that
  also applies the metric's minimum effect
  (:func:`harness.analysis.stats.repeats_needed_simulated`);
- false alarms: every pair of runs compared as run-vs-run (``compare --against RUN``); the
  share of checks that say regressed or improved although nothing changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.analysis import stats
from harness.analysis.cells import Cell, cell_samples
from harness.errors import ResultsError
from harness.metrics import DEFAULT_GATING_METRICS, MISSING
from harness.results.contract import ResultsDoc

if TYPE_CHECKING:
    from harness.analysis.paired import PairedNoise
    from harness.compare import Policy

__all__ = ["Calibration", "MetricNoise", "calibrate", "render", "render_paired"]


@dataclass(frozen=True)
class MetricNoise:
    """Noise of one metric of one (provider, variant, concurrency) over the A/A runs."""

    scenario: str
    provider: str
    variant: str
    concurrency: int
    metric: str
    n: int
    median: float
    cv: float | None
    robust_cv: float | None
    repeats_normal: int | None
    repeats_simulated: int | None
    min_effect: float


@dataclass(frozen=True)
class Calibration:
    """The A/A analysis of a set of runs of the same scenarios in the same environment."""

    runs: tuple[str, ...]
    effect: float
    alpha: float
    power: float
    metrics: tuple[MetricNoise, ...]
    comparisons: int
    checks: int
    flagged: int
    gating_checks: int
    gating_flagged: int

    @property
    def false_alarm_rate(self) -> float | None:
        return self.flagged / self.checks if self.checks else None

    @property
    def gating_false_alarm_rate(self) -> float | None:
        return self.gating_flagged / self.gating_checks if self.gating_checks else None

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["false_alarm_rate"] = self.false_alarm_rate
        doc["gating_false_alarm_rate"] = self.gating_false_alarm_rate
        return doc


def _check_same(docs: Sequence[ResultsDoc]) -> None:
    if len(docs) < 2:
        raise ResultsError("calibration needs at least 2 runs of the same scenario")
    fingerprints = {(d.get("environment") or {}).get("fingerprint") for d in docs}
    if len(fingerprints) > 1:
        raise ResultsError(
            f"the runs come from different environments ({', '.join(map(str, fingerprints))}):"
            " an A/A comparison needs one"
        )
    hashes = [sorted(str(s["hash"]) for s in d["scenarios"]) for d in docs]
    if any(h != hashes[0] for h in hashes):
        raise ResultsError("the runs do not hold the same scenario definitions (hashes differ)")


def calibrate(
    docs: Sequence[ResultsDoc],
    *,
    effect: float = 0.10,
    alpha: float = 0.05,
    power: float = 0.80,
    policy: Policy | None = None,
    rng: np.random.Generator,
    simulations: int = 300,
    simulate: Sequence[str] = DEFAULT_GATING_METRICS,
) -> Calibration:
    """A/A analysis of ``docs`` (runs of unchanged code); pure. See the module docstring.

    The (slower) simulation runs for the metrics in ``simulate`` only; the others get the
    normal approximation."""
    # Calibration measures the verdict rule of harness.compare; imported here because
    # compare builds on this layer, not the other way round.
    from harness.compare import Policy, compare_run

    _check_same(docs)
    policy = policy or Policy(alpha=alpha)
    noise_rows: list[MetricNoise] = []
    for scenario in docs[0]["scenarios"]:
        pooled: dict[Cell, dict[str, list[float]]] = {}
        for doc in docs:
            match = next(s for s in doc["scenarios"] if s["hash"] == scenario["hash"])
            for key, metrics in cell_samples(match).items():
                for metric, repeats in metrics.items():
                    pooled.setdefault(key, {}).setdefault(metric, []).extend(repeats)
        for key in sorted(pooled):
            provider, variant, concurrency = key
            for metric in policy.checked_metrics():
                values = pooled[key].get(metric)
                if not values:
                    continue
                noise = stats.noise(values)
                cv = noise.cv
                needed_normal = (
                    stats.repeats_needed_normal(cv, effect, alpha=alpha, power=power)
                    if cv is not None
                    else None
                )
                needed_sim = (
                    stats.repeats_needed_simulated(
                        values,
                        effect=effect,
                        rng=rng,
                        alpha=alpha,
                        power=power,
                        min_effect=policy.effect_for(metric),
                        simulations=simulations,
                    )
                    if metric in simulate and len(values) >= 2 and noise.median != 0.0
                    else None
                )
                noise_rows.append(
                    MetricNoise(
                        scenario=str(scenario["name"]),
                        provider=provider,
                        variant=variant,
                        concurrency=concurrency,
                        metric=metric,
                        n=noise.n,
                        median=noise.median,
                        cv=cv,
                        robust_cv=noise.robust_cv,
                        repeats_normal=needed_normal,
                        repeats_simulated=needed_sim,
                        min_effect=policy.effect_for(metric),
                    )
                )
    comparisons = checks = flagged = gating_checks = gating_flagged = 0
    for base, cand in itertools.combinations(docs, 2):
        result = compare_run(cand, baseline_run=base, policy=policy, variant_checks=False)
        comparisons += 1
        for check in result.checks:
            if check.kind != "history" or check.metric == "*":
                continue
            hit = check.verdict in ("regressed", "improved")
            checks += 1
            flagged += hit
            if check.gating:
                gating_checks += 1
                gating_flagged += hit
    return Calibration(
        runs=tuple(str(d["run_id"]) for d in docs),
        effect=effect,
        alpha=alpha,
        power=power,
        metrics=tuple(noise_rows),
        comparisons=comparisons,
        checks=checks,
        flagged=flagged,
        gating_checks=gating_checks,
        gating_flagged=gating_flagged,
    )


def _pct(value: float | None) -> str:
    return MISSING if value is None else f"{value * 100:.1f}%"


def render(calibration: Calibration, metrics: Sequence[str]) -> list[str]:
    """Plain-text lines: the A/A false-alarm count and one line per metric of interest."""
    c = calibration
    lines = [
        f"A/A over runs {', '.join(c.runs)}: {c.comparisons} run-vs-run comparisons, "
        f"{c.flagged} of {c.checks} checks flagged ({_pct(c.false_alarm_rate)}); gating "
        f"metrics {c.gating_flagged} of {c.gating_checks} ({_pct(c.gating_false_alarm_rate)})",
        f"repeats per side to detect a {c.effect:.0%} change at alpha {c.alpha} with "
        f"{c.power:.0%} power: 'normal' = normal approximation for the Mann-Whitney U test, "
        "'sim' = bootstrap simulation from these samples with the metric's min effect",
    ]
    for row in c.metrics:
        if row.metric not in metrics:
            continue
        sim = "n/a (> 50)" if row.repeats_simulated is None else str(row.repeats_simulated)
        if row.min_effect >= c.effect:
            sim += f" (min effect {row.min_effect:.0%} >= {c.effect:.0%})"
        lines.append(
            f"  {row.scenario} / {row.provider} / {row.variant} / c={row.concurrency} "
            f"{row.metric}: n={row.n} median={row.median:.4g} CV={_pct(row.cv)} "
            f"robust CV={_pct(row.robust_cv)} -> normal {row.repeats_normal}, sim {sim}"
        )
    return lines


def render_paired(
    noises: Sequence[PairedNoise],
    *,
    effects: tuple[float, float] = (0.05, 0.10),
    alpha: float = 0.05,
    power: float = 0.80,
) -> list[str]:
    """Plain-text lines for a paired A/A run (base and head of identical code,
    :func:`harness.analysis.paired.paired_noise`): a line saying how the numbers were
    computed, then per cell and gating metric ``cell metric: paired sd x%, pairs to detect
    5%: N, 10%: M`` (:func:`harness.analysis.paired.pairs_needed`). On the difference scale
    (fractions) the sd and the changes are in percentage points."""
    small, large = effects
    lines = [
        f"paired noise: sd of the pairs' log-ratios (fractions: differences); pairs to "
        f"detect a change at alpha {alpha} with {power:.0%} power (normal approximation; "
        "a run's Bonferroni alpha needs more)"
    ]
    for row in noises:
        n_small = row.pairs_to_detect(small, alpha=alpha, power=power)
        n_large = row.pairs_to_detect(large, alpha=alpha, power=power)
        lines.append(
            f"  {row.cell} {row.metric}: paired sd {_pct(row.sd)}, pairs to detect "
            f"{small:.0%}: {n_small}, {large:.0%}: {n_large} ({row.n_pairs} pairs in "
            f"{row.n_processes} process(es))"
        )
    return lines
