"""Steps against history: the change points of each gating metric's nightly series
(:mod:`harness.analysis.changepoints`) as checks of kind ``step``. Pure.

A night compared with the last few nights sees a step only once it is large; the change-point
detector looks at the last 100 comparable runs and says where a series moved to a new level,
so a step that each night alone left inconclusive is still reported once the nights after it
agree. Per scenario, :func:`step_checks` takes the comparable history as the history checks
choose it (:func:`harness.history.select_comparable`: same scenario hash and environment
fingerprint, older than the run, without the run itself), the last
:data:`~harness.analysis.changepoints.WINDOW` runs, and this run as the last point (made by
:func:`harness.history.summarize_run`, the function that writes history), one series per
(provider, variant, concurrency) and gating metric (:func:`series_steps`). Each change
point that matters (:func:`~harness.analysis.changepoints.metric_change_points`: at least
the metric's minimum effect) is one :class:`Step` in one state:

- ``new``: confirmed with this run (at least
  :data:`~harness.analysis.changepoints.CONFIRM` runs at the new level now, and the
  detector over the series without this run had no confirmed step of that direction there,
  within :data:`~harness.analysis.changepoints.MIN_SEGMENT` runs): a regression is a
  *gating* check ``regressed`` (exit 1), an improvement a non-gating ``improved`` one;
- ``open``: confirmed on an earlier night and not undone since: a non-gating check
  ``regressed`` or ``improved``, so every report and export shows it without failing every
  later night, and a note per open regression;
- ``closed``: confirmed, and a later confirmed step of the opposite direction brought the
  series back to (or past) its old level (no longer a change by the metric's minimum
  effect): no check;
- ``pending``: found but not yet confirmed: a note (``pending: N of 5 nights``).

The detector's seed is its default (0) whatever ``--bootstrap-seed`` says, so the report's
trend markers (:mod:`harness.report.steps`, the same :func:`series_steps` over the plotted
series) agree with the checks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.analysis.changepoints import (
    CONFIRM,
    MIN_SEGMENT,
    WINDOW,
    ChangePoint,
    Direction,
    LocatedChangePoint,
    MetricChangePoint,
    Point,
    SeriesKey,
    classify,
    metric_change_points,
    series_from_history,
)
from harness.compare.model import Check, Policy, finite
from harness.history import HistoryEntry, select_comparable, summarize_run
from harness.metrics import HIGHER_IS_BETTER, METRICS, MIN_EFFECT
from harness.results.contract import ResultsDoc

__all__ = ["Step", "StepState", "series_steps", "step_checks", "step_size"]

StepState = Literal["new", "open", "closed", "pending"]


@dataclass(frozen=True)
class Step:
    """One change point of one metric's series and what it is as of the series' last run
    (see the module docstring for the states)."""

    found: MetricChangePoint
    state: StepState
    n_before: int  # values of the old level (back to the previous change point or window)
    closed_by: LocatedChangePoint | None = None

    @property
    def metric(self) -> str:
        return self.found.metric

    @property
    def direction(self) -> Direction:
        return self.found.direction

    @property
    def change_point(self) -> ChangePoint:
        return self.found.change_point

    @property
    def located(self) -> LocatedChangePoint:
        return self.found.located

    @property
    def confirmed(self) -> bool:
        return self.change_point.confirmed

    def levels(self) -> str:
        """``8.00 MiB/s -> 6.40 MiB/s``: the medians before and after, in the metric's unit."""
        row = METRICS[self.metric]
        return f"{row.format(self.change_point.before)} -> {row.format(self.change_point.after)}"


def step_size(change: float, *, digits: int = 1) -> str:
    """A relative change as text: ``-20.0%``; a step from 0 (no ratio) as ``from 0``."""
    return f"{change:+.{digits}%}" if math.isfinite(change) else "from 0"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _relative(before: float, after: float) -> float:
    if before == 0.0:
        return 0.0 if after == 0.0 else math.copysign(math.inf, after)
    return (after - before) / abs(before)


def _undoes(step: MetricChangePoint, later: MetricChangePoint) -> bool:
    """``later`` is a confirmed step of the opposite direction that brings the series back
    to ``step``'s old level: from the old level to ``later``'s new one is no longer a step
    of ``step``'s direction (:func:`~harness.analysis.changepoints.classify`, the metric's
    minimum effect)."""
    if later.direction == step.direction or not later.change_point.confirmed:
        return False
    before, after = step.change_point.before, later.change_point.after
    net = dataclasses.replace(step.change_point, after=after, change=_relative(before, after))
    return classify(net, step.metric) != step.direction


def _same_step(a: MetricChangePoint, b: MetricChangePoint) -> bool:
    """The same step seen on two nights: same direction, index within a segment's length."""
    return a.direction == b.direction and (
        abs(a.change_point.index - b.change_point.index) < MIN_SEGMENT
    )


def series_steps(
    points: Sequence[Point], metric: str, *, tonight: str | None = None, seed: int = 0
) -> list[Step]:
    """The steps of one metric's series (oldest run first), each in its state; ``tonight``
    is the run id of the night being compared: a confirmed step is ``new`` when the series'
    last point is that run, measured, and the series without it had no confirmed step of
    that direction there (the detector is run again without it to know). Without
    ``tonight`` no step is ``new``."""
    found = metric_change_points(points, metric, seed=seed)
    measured = [i for i, p in enumerate(points) if _finite(p.value)][-WINDOW:]
    last_is_tonight = (
        tonight is not None
        and bool(points)
        and points[-1].run_id == tonight
        and _finite(points[-1].value)
    )
    earlier: list[MetricChangePoint] | None = None
    steps = []
    for n, item in enumerate(found):
        cp = item.change_point
        start = found[n - 1].change_point.index if n else -1
        n_before = sum(1 for i in measured if start <= i < cp.index)
        closer = next((later for later in found[n + 1 :] if _undoes(item, later)), None)
        state: StepState
        if not cp.confirmed:
            state = "pending"
        elif closer is not None:
            state = "closed"
        elif last_is_tonight:
            if earlier is None:
                earlier = metric_change_points(points[:-1], metric, seed=seed)
            seen = any(e.change_point.confirmed and _same_step(item, e) for e in earlier)
            state = "open" if seen else "new"
        else:
            state = "open"
        steps.append(Step(item, state, n_before, None if closer is None else closer.located))
    return steps


def _where(key: SeriesKey) -> str:
    _, provider, variant, concurrency, _ = key
    return f"{provider} / {variant} / c={concurrency}"


def _check(scenario: str, key: SeriesKey, step: Step) -> Check:
    cp = step.change_point
    _, provider, variant, concurrency, metric = key
    gating = step.state == "new" and step.direction == "regression"
    size = step_size(cp.change)
    when = (
        f"confirmed with this run: {cp.points_after} runs at the new level"
        if step.state == "new"
        else f"confirmed on an earlier night and not undone since: {cp.points_after} runs "
        "at the new level"
    )
    return Check(
        scenario=scenario,
        provider=provider,
        variant=variant,
        concurrency=concurrency,
        metric=metric,
        kind="step",
        baseline=f"history step {step.located.describe()}",
        verdict="regressed" if step.direction == "regression" else "improved",
        ratio=finite(cp.after / cp.before) if cp.before != 0.0 else None,
        ci_low=None,
        ci_high=None,
        p_value=finite(cp.p_value),
        n_baseline=step.n_before,
        n_candidate=cp.points_after,
        reason=(
            f"{step.direction} step of {size} ({step.levels()}) "
            f"{step.located.describe()}; {when} (E-Divisive means, p={cp.p_value:.3g})"
        ),
        median_baseline=finite(cp.before),
        median_candidate=finite(cp.after),
        min_effect=MIN_EFFECT[metric],
        gating=gating,
        higher_is_better=metric in HIGHER_IS_BETTER,
    )


def _note(scenario: str, key: SeriesKey, step: Step) -> str | None:
    cp = step.change_point
    what = (
        f"{_where(key)}: {step.metric} {step_size(cp.change)} ({step.levels()}) "
        f"{step.located.describe()}"
    )
    if step.state == "pending":
        return (
            f"{scenario}: possible {step.direction} step: {what}, pending: "
            f"{cp.points_after} of {CONFIRM} nights"
        )
    if step.state == "open" and step.direction == "regression":
        return f"{scenario}: open regression step: {what} ({cp.points_after} runs at the new level)"
    return None


def _tonight(record: Mapping[str, Any]) -> HistoryEntry:
    """This run's history record as the entry history would load (never written here)."""
    groups = {
        (str(g["provider"]), str(g["variant"]), int(g["concurrency"])): {
            str(metric): tuple(float(v) for v in values) for metric, values in g["samples"].items()
        }
        for g in record["groups"]
    }
    fingerprint, commit = record.get("fingerprint"), record.get("git_commit")
    return HistoryEntry(
        run_id=str(record["run_id"]),
        started_at=str(record["started_at"]),
        scenario=str(record["scenario"]),
        scenario_hash=str(record["scenario_hash"]),
        fingerprint=None if fingerprint is None else str(fingerprint),
        git_commit=None if commit is None else str(commit),
        baseline=str(record["baseline"]),
        path=Path(str(record["scenario_hash"])) / f"{record['run_id']}.json",
        groups=groups,
    )


def step_checks(
    results: ResultsDoc, history: Sequence[HistoryEntry], policy: Policy
) -> tuple[list[Check], list[str]]:
    """The step checks of every scenario of ``results`` against ``history`` (any entries:
    the comparable ones are chosen as the history checks choose them, the last
    :data:`~harness.analysis.changepoints.WINDOW`), on ``policy.gating_metrics``, and the
    notes (open regressions, pending steps). See the module docstring for the rule."""
    checks: list[Check] = []
    notes: list[str] = []
    env = results.get("environment") or {}
    fingerprint = env.get("fingerprint")
    records = summarize_run(results)
    for scenario, record in zip(results["scenarios"], records, strict=True):
        name = scenario["name"]
        chosen, _ = select_comparable(
            history,
            scenario_hash=str(scenario["hash"]),
            fingerprint=None if fingerprint is None else str(fingerprint),
            exclude_run_id=results["run_id"],
            before=str(results["started_at"]),
            last=WINDOW,
            any_environment=policy.any_environment,
        )
        if not chosen:
            continue  # the history checks already say why
        entries = [*chosen, _tonight(record)]
        series = series_from_history(entries, policy.gating_metrics)
        for key, points in sorted(series.items()):
            for step in series_steps(points, key[4], tonight=results["run_id"]):
                if step.state in ("new", "open"):
                    checks.append(_check(name, key, step))
                note = _note(name, key, step)
                if note is not None:
                    notes.append(note)
    return checks, notes
