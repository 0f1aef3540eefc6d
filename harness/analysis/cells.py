"""The one grouping of trials into cells, and the one stand-in rule.

A **cell** is what has repeats in one run: a scenario's trials of one provider, variant and
concurrency (plus the file size in a size sweep). Every module that groups trials (the run
summary, compare, history, memory, the report) groups them here, so they agree on what a
cell is and which trials enter its statistics:

- timing statistics read :func:`timing_trials` only: ``status == "ok"``, not a warm-up, not
  profiled (memray's overhead makes a profiled trial's timings meaningless);
- ``heap_peak_bytes`` (and what derives from it) reads :func:`profiled_trials` only.

**The stand-in rule** (:meth:`Layout.stand_in`): a variant that ran at exactly one
concurrency of a provider (the plan runs the sequential ``sync`` at c=1 only) stands in, as
a *baseline*, at every concurrency of that provider. It is never *reported* at a concurrency
it did not run: a cell's own rows and checks carry the concurrencies its trials ran at; a
comparison against a stand-in names the stand-in's own concurrency (``sync (c=1)``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from harness.metrics import METRIC_NAMES, PROFILED_METRICS
from harness.results.contract import (
    ScenarioDoc,
    TrialDoc,
    is_profiled_trial,
    is_timing_trial,
)

__all__ = [
    "Cell",
    "Layout",
    "baseline_of",
    "cell_of",
    "cell_samples",
    "first_error",
    "group_cells",
    "group_sized_cells",
    "metric_values",
    "profiled_trials",
    "sized_cell_of",
    "timing_trials",
    "variant_order",
]

DEFAULT_BASELINE = "sync"
# Profiled trials run under memray: their timings are never used, only their heap peak.
_TIMED = tuple(m for m in METRIC_NAMES if m not in PROFILED_METRICS)


class Cell(NamedTuple):
    """(provider, variant, concurrency): the unit that has repeats in one run."""

    provider: str
    variant: str
    concurrency: int


def cell_of(trial: TrialDoc) -> Cell:
    """The cell a trial belongs to (a sweep's sizes pooled)."""
    return Cell(str(trial.get("provider") or ""), str(trial["variant"]), int(trial["concurrency"]))


def sized_cell_of(trial: TrialDoc) -> tuple[Cell, int | None]:
    """The cell and the sweep's file size (None outside a sweep)."""
    size = trial.get("file_size_bytes")
    return cell_of(trial), size if isinstance(size, int) else None


def baseline_of(scenario: ScenarioDoc) -> str:
    """The scenario's baseline variant name (``sync`` when a document lacks it)."""
    return str(scenario.get("baseline") or DEFAULT_BASELINE)


def timing_trials(trials: Iterable[TrialDoc]) -> Iterator[TrialDoc]:
    """Trials whose timings count: ``ok``, not a warm-up, not profiled."""
    yield from (trial for trial in trials if is_timing_trial(trial))


def profiled_trials(trials: Iterable[TrialDoc]) -> Iterator[TrialDoc]:
    """Trials whose heap peak counts: ``ok``, profiled, not a warm-up."""
    yield from (trial for trial in trials if is_profiled_trial(trial))


def group_cells(trials: Iterable[TrialDoc]) -> dict[Cell, list[TrialDoc]]:
    """Trials by cell, cells and trials in first-seen order."""
    grouped: dict[Cell, list[TrialDoc]] = {}
    for trial in trials:
        grouped.setdefault(cell_of(trial), []).append(trial)
    return grouped


def group_sized_cells(trials: Iterable[TrialDoc]) -> dict[tuple[Cell, int | None], list[TrialDoc]]:
    """Trials by cell and sweep file size (None outside a sweep), in first-seen order: a
    size sweep's points, for tables and plots per size."""
    grouped: dict[tuple[Cell, int | None], list[TrialDoc]] = {}
    for trial in trials:
        grouped.setdefault(sized_cell_of(trial), []).append(trial)
    return grouped


def metric_values(trials: Iterable[TrialDoc], metric: str) -> list[float]:
    """The finite values of ``metric`` over ``trials`` (nulls: not applicable, left out)."""
    values = []
    for trial in trials:
        value = (trial.get("metrics") or {}).get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            values.append(float(value))
    return values


def cell_samples(scenario: ScenarioDoc) -> dict[Cell, dict[str, list[float]]]:
    """Per-repeat values of every metric, by cell, in trial order: timing metrics from the
    timing trials, profiled-only metrics (``heap_peak_bytes``) from the profiled trials.
    Nulls (not applicable) are left out; a cell without any value is left out."""
    samples: dict[Cell, dict[str, list[float]]] = {}

    def add(trials: Iterable[TrialDoc], metrics: Sequence[str]) -> None:
        for cell, mine in group_cells(trials).items():
            for name in metrics:
                values = metric_values(mine, name)
                if values:
                    samples.setdefault(cell, {}).setdefault(name, []).extend(values)

    add(timing_trials(scenario["trials"]), _TIMED)
    add(profiled_trials(scenario["trials"]), PROFILED_METRICS)
    # a cell's metrics in the table's order, whichever trials they came from
    return {
        cell: {m: by_metric[m] for m in METRIC_NAMES if m in by_metric}
        for cell, by_metric in samples.items()
    }


def variant_order(scenario: ScenarioDoc) -> list[str]:
    """Variant names in the order their first trial appears."""
    return list(dict.fromkeys(str(t["variant"]) for t in scenario["trials"]))


@dataclass(frozen=True)
class Layout:
    """Which concurrencies each (provider, variant) ran at (every trial counts, harness
    errors too: a cell whose every trial failed still ran there, it just has no data)."""

    concurrencies: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, trials: Iterable[TrialDoc]) -> Layout:
        seen: dict[tuple[str, str], set[int]] = {}
        for trial in trials:
            cell = cell_of(trial)
            seen.setdefault((cell.provider, cell.variant), set()).add(cell.concurrency)
        return cls({key: tuple(sorted(cs)) for key, cs in seen.items()})

    @property
    def providers(self) -> list[str]:
        return list(dict.fromkeys(p for p, _ in self.concurrencies))

    def ran(self, provider: str, variant: str) -> tuple[int, ...]:
        """The concurrencies ``variant`` ran at on ``provider`` (empty when never)."""
        return self.concurrencies.get((provider, variant), ())

    def stand_in(self, provider: str, variant: str, concurrency: int) -> int | None:
        """The concurrency whose trials represent ``variant`` as a baseline at
        ``concurrency``: its own when it ran there, its only one when it ran at exactly
        one (the stand-in rule), else None (no honest pairing exists)."""
        ran = self.ran(provider, variant)
        if concurrency in ran:
            return concurrency
        if len(ran) == 1:
            return ran[0]
        return None


def first_error(trials: Sequence[TrialDoc]) -> str | None:
    """The first per-file error of ``trials`` (records in order), else a trial's error."""
    for trial in trials:
        for record in trial.get("records") or ():
            if record.get("outcome") != "ok" and record.get("error"):
                return f"{record.get('outcome')}: {record.get('error')}"
    for trial in trials:
        if trial.get("error"):
            return str(trial["error"])
    return None
