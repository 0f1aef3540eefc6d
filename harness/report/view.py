"""The report's view model: a run's scenarios with their trials grouped into cells.

A cell is one (provider, variant, concurrency) of one scenario. Its per-repeat values are
:func:`harness.analysis.cells.cell_samples`' (the samples compare and history decide on, so
every median the report prints is the median they used); its timing trials are kept
beside them for what only trials hold (per-upload records, the mock's counters, lost
files). :func:`scenarios_of` is the report's only grouping of trials. Pure: reads the
``results.json`` contract, never the disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from harness.analysis import stats
from harness.analysis.ablation import spec_of
from harness.analysis.cells import cell_samples as scenario_samples
from harness.analysis.cells import group_cells, timing_trials
from harness.analysis.claims import scenario_providers
from harness.metrics import MISSING
from harness.report.format import is_number
from harness.results.contract import ScenarioDoc, TrialDoc, is_profiled_trial

__all__ = ["Group", "LostFile", "ScenarioData", "scenarios_of"]


@dataclass(frozen=True)
class LostFile:
    """A file the provider does not hold intact, as the runner recorded it."""

    name: str
    reason: str


@dataclass(frozen=True)
class Group:
    """One cell: the timing trials of one (provider, variant, concurrency) in one scenario,
    and the per-repeat values of every metric (``samples``)."""

    provider: str
    variant: str
    concurrency: int
    trials: tuple[Mapping[str, Any], ...]
    samples: Mapping[str, Sequence[float]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``variant c=N``: for places that show the provider apart (plot legends)."""
        return f"{self.variant} c={self.concurrency}"

    @property
    def qualified_label(self) -> str:
        """``provider / variant c=N``: for text read out of its table, where ``async c=4``
        alone would not say which of several providers is meant."""
        return f"{self.provider} / {self.label}" if self.provider else self.label

    def values(self, metric: str) -> list[float]:
        """The metric of every repeat, nulls left out."""
        return list(self.samples.get(metric) or ())

    def median(self, metric: str) -> float | None:
        values = self.values(metric)
        return stats.median(values) if values else None

    def total(self, metric: str) -> float | None:
        values = self.values(metric)
        return sum(values) if values else None

    def spread(self, metric: str) -> tuple[float, float] | None:
        values = self.values(metric)
        return (min(values), max(values)) if values else None

    def cv(self, metric: str) -> float | None:
        """Coefficient of variation across repeats (None with fewer than 2 repeats)."""
        values = self.values(metric)
        return stats.coefficient_of_variation(values) if len(values) >= 2 else None

    def latencies(self) -> list[float]:
        """Per-upload latency (end - start) of every successful upload, pooled over repeats."""
        out = []
        for trial in self.trials:
            for record in trial.get("records") or ():
                start, end = record.get("start"), record.get("end")
                if record.get("outcome") == "ok" and is_number(start) and is_number(end):
                    out.append(float(end) - float(start))
        return out

    def uploads(self) -> int:
        """Files uploaded per repeat (the largest record count seen)."""
        return max((len(t.get("records") or ()) for t in self.trials), default=0)

    def lost_files(self) -> list[LostFile]:
        """Files the provider does not hold intact, over every repeat, each name once
        (with the first reason seen): the runner's ``lost_files`` of each trial."""
        seen: dict[str, str] = {}
        for trial in self.trials:
            for lost in trial.get("lost_files") or ():
                if isinstance(lost, Mapping):
                    seen.setdefault(str(lost.get("name", MISSING)), str(lost.get("reason", "")))
        return [LostFile(name, reason) for name, reason in seen.items()]

    def _mock_counts(self, key: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        for trial in self.trials:
            counts = (trial.get("mock") or {}).get(key) or {}
            for name, count in counts.items():
                if is_number(count):
                    totals[str(name)] = totals.get(str(name), 0) + int(count)
        return dict(sorted(totals.items()))

    def faults_applied(self) -> dict[str, int]:
        """Faults the mock reported, summed over repeats."""
        return self._mock_counts("faults_applied")

    def statuses(self) -> dict[str, int]:
        """HTTP statuses the mock answered, summed over repeats."""
        return self._mock_counts("by_status")

    def mock_requests(self) -> int | None:
        counts = [
            int(r) for t in self.trials if is_number(r := (t.get("mock") or {}).get("requests"))
        ]
        return sum(counts) if counts else None


@dataclass(frozen=True)
class ScenarioData:
    """One scenario's cells and its profiled and failed trials."""

    name: str
    baseline: str
    definition: Mapping[str, Any]
    groups: tuple[Group, ...]
    profiled: tuple[Mapping[str, Any], ...]
    failed: tuple[Mapping[str, Any], ...]
    providers: tuple[str, ...] = ()

    @property
    def variants(self) -> list[str]:
        """Variant names in display order: the baseline first, then as they first ran."""
        seen = [self.baseline] if any(g.variant == self.baseline for g in self.groups) else []
        for group in self.groups:
            if group.variant not in seen:
                seen.append(group.variant)
        for trial in self.profiled:
            if str(trial.get("variant")) not in seen:
                seen.append(str(trial.get("variant")))
        return seen

    @property
    def concurrencies(self) -> list[int]:
        return sorted({g.concurrency for g in self.groups})

    @property
    def several_providers(self) -> bool:
        """Whether a row must name its provider to say which cell it is."""
        return len(self.providers) > 1

    @property
    def claim(self) -> str | None:
        claim = self.definition.get("claim")
        return claim if isinstance(claim, str) else None

    def spec_of(self, variant: str) -> str:
        """The spec the variant name stands for (shown apart, never parsed here)."""
        return spec_of(self.definition, variant)


def scenarios_of(results: Mapping[str, Any]) -> list[ScenarioData]:
    """Every scenario of a run, its timing trials grouped by (provider, variant,
    concurrency), cells in the order they first ran."""
    out = []
    for scenario in results.get("scenarios") or ():
        trials = list(scenario.get("trials") or ())
        # the one grouping into cells, of the trials the contract lets into timing statistics
        grouped = group_cells(timing_trials(cast(list[TrialDoc], trials)))
        samples = (
            scenario_samples(cast(ScenarioDoc, {**scenario, "trials": trials})) if grouped else {}
        )
        groups = tuple(
            Group(provider, variant, concurrency, tuple(cell), samples.get(key, {}))
            for key, cell in grouped.items()
            for provider, variant, concurrency in [key]
        )
        out.append(
            ScenarioData(
                name=str(scenario.get("name", "")),
                baseline=str(scenario.get("baseline") or "sync"),
                definition=scenario.get("definition") or {},
                groups=groups,
                profiled=tuple(t for t in trials if is_profiled_trial(t)),
                failed=tuple(t for t in trials if t.get("status") != "ok"),
                providers=tuple(
                    scenario_providers(cast(ScenarioDoc, {**scenario, "trials": trials}))
                ),
            )
        )
    return out
