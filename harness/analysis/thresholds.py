"""The one threshold evaluator: one outcome per threshold of a scenario, with the cell it
was decided on. The run's console summary, compare (and so the exit code of both) and the
report all read :func:`threshold_outcomes`; none evaluates a threshold itself.

The statistic is the median over the measured repeats of a cell (:mod:`harness.analysis.cells`):
timing metrics from the timing trials, ``heap_peak_bytes`` from the profiled trials, the
``memory_slope`` from a fit over a size sweep's profiled trials. :mod:`harness.thresholds`
holds the grammar.

Where a threshold is decided: at every (provider, concurrency) its variant ran at, never at
a concurrency it did not run. A ratio threshold's baseline side follows the stand-in rule
(:meth:`harness.analysis.cells.Layout.stand_in`). The outcome is ``fail`` when any of those
cells fails, else ``undecided`` when any cannot be decided (no data, a zero baseline, no
honest pairing), else ``pass``; it names the cell that decided it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from harness.analysis.cells import (
    Cell,
    Layout,
    group_cells,
    metric_values,
    profiled_trials,
    timing_trials,
)
from harness.analysis.memory import memory_slope_by_variant
from harness.errors import ResultsError
from harness.metrics import PROFILED_METRICS
from harness.results.contract import ScenarioDoc
from harness.thresholds import Threshold, format_metric, parse_threshold

__all__ = [
    "CellResult",
    "ThresholdOutcome",
    "ThresholdResult",
    "ThresholdVerdict",
    "evaluate_thresholds",
    "scenario_thresholds",
    "threshold_outcomes",
]

ThresholdVerdict = Literal["pass", "fail", "undecided"]


@dataclass(frozen=True)
class ThresholdResult:
    """``passed`` is None when there is no data to decide (no repeats, or a zero baseline)."""

    threshold: str
    passed: bool | None
    measured: float | None
    detail: str


def _median_of(rows: Sequence[Mapping[str, float]], metric: str) -> tuple[float | None, int]:
    values = [
        float(row[metric])
        for row in rows
        if isinstance(row.get(metric), int | float) and math.isfinite(float(row[metric]))
    ]
    if not values:
        return None, 0
    return statistics.median(values), len(values)


def _evaluate(
    threshold: Threshold,
    rows: Sequence[Mapping[str, float]],
    base_rows: Sequence[Mapping[str, float]],
    base_label: str,
) -> ThresholdResult:
    metric = threshold.metric
    median, n = _median_of(rows, metric)
    if median is None:
        return ThresholdResult(
            threshold.text, None, None, f"no {metric} data for {threshold.variant!r}"
        )
    if threshold.baseline is None:
        limit = format_metric(metric, threshold.value)
        passed = threshold.holds(median)
        detail = (
            f"median of {n}: {format_metric(metric, median)} "
            f"({'meets' if passed else 'fails'} {threshold.op} {limit})"
        )
        return ThresholdResult(threshold.text, passed, median, detail)
    base, n_base = _median_of(base_rows, metric)
    if base is None:
        return ThresholdResult(threshold.text, None, None, f"no {metric} data for {base_label!r}")
    if base == 0:
        return ThresholdResult(
            threshold.text, None, None, f"median {metric} of {base_label!r} is 0"
        )
    ratio = median / base
    passed = threshold.holds(ratio)
    detail = (
        f"medians {format_metric(metric, median)} / {format_metric(metric, base)} "
        f"(n={n}/{n_base}) = {ratio:.3g}x "
        f"({'meets' if passed else 'fails'} {threshold.op} {threshold.value:g}x)"
    )
    return ThresholdResult(threshold.text, passed, ratio, detail)


def evaluate_thresholds(
    thresholds: Sequence[Threshold],
    per_variant: Mapping[str, Sequence[Mapping[str, float]]],
) -> list[ThresholdResult]:
    """Evaluate each threshold on the median over the metric rows of its variant (and
    baseline) in ``per_variant``: variant -> measured metric dicts of *one* cell each. A
    missing or non-finite metric in a dict is skipped. :func:`threshold_outcomes` builds
    these rows from a results scenario; this is its arithmetic."""
    return [
        _evaluate(
            t,
            per_variant.get(t.variant, ()),
            per_variant.get(t.baseline, ()) if t.baseline is not None else (),
            t.baseline or "",
        )
        for t in thresholds
    ]


@dataclass(frozen=True)
class CellResult:
    """A threshold evaluated on one cell of its variant. ``baseline_concurrency`` is where
    the ratio's baseline was measured (differs from ``concurrency`` for a stand-in)."""

    provider: str
    concurrency: int
    passed: bool | None
    measured: float | None
    detail: str
    baseline_concurrency: int | None = None


@dataclass(frozen=True)
class ThresholdOutcome:
    """One threshold's outcome. ``provider``/``concurrency`` name the cell it was decided
    on (the first failing cell, else the first undecided one, else the first cell; empty
    and None when its variant has no trials at all); ``cells`` holds every cell's result."""

    threshold: str
    variant: str
    metric: str
    baseline: str | None
    passed: bool | None
    provider: str
    concurrency: int | None
    measured: float | None
    detail: str
    cells: tuple[CellResult, ...] = ()

    @property
    def verdict(self) -> ThresholdVerdict:
        return "undecided" if self.passed is None else "pass" if self.passed else "fail"

    @property
    def is_ratio(self) -> bool:
        return self.baseline is not None


def scenario_thresholds(scenario: ScenarioDoc) -> list[Threshold]:
    """The scenario's thresholds, parsed from ``definition["thresholds"]`` with its variant
    names; :class:`ResultsError` naming the scenario when one does not parse."""
    definition = scenario.get("definition") or {}
    raw = definition.get("thresholds") or []
    name = scenario["name"]
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise ResultsError(f"scenario {name!r}: definition.thresholds is not a list of strings")
    names = definition.get("variants")
    variants = [str(v) for v in names] if isinstance(names, list) else None
    try:
        return [parse_threshold(text, variants) for text in raw]
    except ValueError as exc:
        raise ResultsError(f"scenario {name!r}: {exc}") from None


def _rows_by_cell(scenario: ScenarioDoc) -> dict[Cell, list[Mapping[str, float]]]:
    """Per cell, the metric rows thresholds read: timing trials' metrics, then one
    ``heap_peak_bytes`` row per profiled trial and a ``memory_slope`` row where the cell's
    profiled trials span a size sweep (they carry no timing key, so no timing median sees
    them)."""
    rows: dict[Cell, list[Mapping[str, float]]] = {}
    for cell, trials in group_cells(timing_trials(scenario["trials"])).items():
        rows.setdefault(cell, []).extend(
            {k: v for k, v in t["metrics"].items() if v is not None and k not in PROFILED_METRICS}
            for t in trials
        )
    for cell, trials in group_cells(profiled_trials(scenario["trials"])).items():
        mine = rows.setdefault(cell, [])
        for name in PROFILED_METRICS:
            mine.extend({name: value} for value in metric_values(trials, name))
        for fit in memory_slope_by_variant(trials).values():
            mine.append({"memory_slope": fit.slope})
    return rows


def _pick(cells: Sequence[CellResult]) -> CellResult | None:
    for wanted in (False, None):
        for result in cells:
            if result.passed is wanted:
                return result
    return cells[0] if cells else None


def _outcome(
    threshold: Threshold, layout: Layout, rows: Mapping[Cell, Sequence[Mapping[str, float]]]
) -> ThresholdOutcome:
    results: list[CellResult] = []
    for provider in layout.providers:
        for concurrency in layout.ran(provider, threshold.variant):
            mine = rows.get(Cell(provider, threshold.variant, concurrency), ())
            base_c: int | None = None
            base_rows: Sequence[Mapping[str, float]] = ()
            if threshold.baseline is not None:
                base_c = layout.stand_in(provider, threshold.baseline, concurrency)
                if base_c is None:
                    ran = layout.ran(provider, threshold.baseline)
                    where = ", ".join(f"c={c}" for c in ran)
                    why = (
                        f"{threshold.baseline!r} ran at {where}, not at c={concurrency}"
                        if ran
                        else f"{threshold.baseline!r} did not run on {provider}"
                    )
                    results.append(CellResult(provider, concurrency, None, None, why))
                    continue
                base_rows = rows.get(Cell(provider, threshold.baseline, base_c), ())
            label = threshold.baseline or ""
            if base_c is not None and base_c != concurrency:
                label = f"{label} (c={base_c})"
            r = _evaluate(threshold, mine, base_rows, label)
            results.append(
                CellResult(provider, concurrency, r.passed, r.measured, r.detail, base_c)
            )
    decided = _pick(results)
    if decided is None:
        return ThresholdOutcome(
            threshold.shown, threshold.variant, threshold.metric, threshold.baseline,
            None, "", None, None, f"{threshold.variant!r} has no trials in this run",
        )  # fmt: skip
    passed: bool | None = (
        False
        if any(r.passed is False for r in results)
        else None
        if any(r.passed is None for r in results)
        else True
    )
    others = len(results) - 1
    detail = decided.detail + (f" (and {others} more cell(s))" if others else "")
    return ThresholdOutcome(
        threshold=threshold.shown,
        variant=threshold.variant,
        metric=threshold.metric,
        baseline=threshold.baseline,
        passed=passed,
        provider=decided.provider,
        concurrency=decided.concurrency,
        measured=decided.measured,
        detail=detail,
        cells=tuple(results),
    )


def threshold_outcomes(
    scenario: ScenarioDoc, thresholds: Sequence[Threshold] | None = None
) -> tuple[ThresholdOutcome, ...]:
    """One outcome per threshold of ``scenario`` (``thresholds``, by default its
    definition's), in their order. Pure; see the module docstring for the rule."""
    checks = scenario_thresholds(scenario) if thresholds is None else list(thresholds)
    if not checks:
        return ()
    layout = Layout.of(t for t in scenario["trials"] if not t.get("warmup"))
    rows = _rows_by_cell(scenario)
    return tuple(_outcome(t, layout, rows) for t in checks)
