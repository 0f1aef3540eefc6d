"""The run summary as data (pure): one row per cell of each scenario, the threshold
outcomes, data lost, likely misconfigurations and harness-error reasons. The console
(:mod:`harness.console`) renders it; ``run --json`` prints :func:`summary_json`.

Every figure is the **median over the measured repeats** of the per-trial metric (timing
trials, :func:`harness.analysis.cells.timing_trials`). ``vs baseline`` is the ratio of
median throughputs, variant over the scenario's baseline variant at the same provider and
concurrency, or at the baseline's stand-in concurrency (higher is better). Thresholds come
from :func:`harness.analysis.thresholds.threshold_outcomes`, the one evaluator compare and
the report read too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from harness.analysis.cells import (
    Layout,
    baseline_of,
    group_cells,
    metric_values,
    timing_trials,
)
from harness.analysis.integrity import (
    DataLoss,
    Misconfiguration,
    allowed_data_loss,
    data_lost,
    likely_misconfigurations,
    lost_files_count,
)
from harness.analysis.memory import Fit, MemoryRow, memory_row, memory_slope_by_variant
from harness.analysis.stats import median, ratio_of_medians
from harness.analysis.thresholds import ThresholdOutcome, threshold_outcomes
from harness.results.contract import ResultsDoc, ScenarioDoc, TrialDoc, is_measured_trial
from harness.thresholds import Threshold

__all__ = [
    "SampleTime",
    "ScenarioSummary",
    "SummaryRow",
    "harness_error_reasons",
    "measured_upload_seconds",
    "run_seconds",
    "sample_efficiency",
    "sample_time",
    "scenario_sample_efficiency",
    "summarize_run",
    "summarize_scenario",
    "summary_json",
]


@dataclass(frozen=True)
class SummaryRow:
    """One cell (provider x variant x concurrency) of a scenario."""

    provider: str
    concurrency: int
    variant: str
    is_baseline: bool
    trials: int  # measured trials that entered the medians
    harness_errors: int
    throughput_bytes_per_s: float | None
    files_per_s: float | None
    latency_p50_s: float | None
    latency_p99_s: float | None
    success_rate: float | None
    timeout_rate: float | None
    loop_lag_p99_s: float | None
    connections_opened: float | None
    throughput_vs_baseline: float | None
    integrity_errors: int = 0  # files not held intact, summed over the cell's ok trials


@dataclass(frozen=True)
class ScenarioSummary:
    """A scenario's rows and outcomes; ``memory`` is the 50 MiB row when profiled and
    ``memory_fits`` (variant -> :class:`harness.analysis.memory.Fit`) is there when
    the profiled trials cover two sizes or more (a size sweep)."""

    name: str
    baseline: str
    rows: tuple[SummaryRow, ...]
    thresholds: tuple[ThresholdOutcome, ...] = ()
    harness_errors: int = 0
    memory: MemoryRow | None = None
    notes: tuple[str, ...] = field(default=())
    memory_fits: Mapping[str, Fit] = field(default_factory=dict)
    data_lost: tuple[DataLoss, ...] = ()
    data_lost_allowed: tuple[DataLoss, ...] = ()
    misconfigurations: tuple[Misconfiguration, ...] = ()
    harness_error_reasons: tuple[str, ...] = ()

    @property
    def thresholds_failed(self) -> int:
        return sum(1 for t in self.thresholds if t.passed is False)


def harness_error_reasons(scenario: ScenarioDoc) -> tuple[str, ...]:
    """Distinct harness-error reasons of a scenario, each with how many trials it stopped and
    which variants, most frequent first (``"3x worker killed at its deadline (variant
    hang, slow)"``). The one rule: the runner's outcome, the console and compare use it."""
    by_reason: dict[str, Counter[str]] = {}
    for t in scenario["trials"]:
        if t["status"] != "ok":
            reason = str(t.get("error") or "no reason recorded")
            by_reason.setdefault(reason, Counter())[str(t["variant"])] += 1
    ordered = sorted(by_reason.items(), key=lambda item: (-item[1].total(), item[0]))
    return tuple(
        f"{variants.total()}x {reason} (variant {', '.join(sorted(variants))})"
        for reason, variants in ordered
    )


def _median(values: Sequence[float]) -> float | None:
    return median(values) if values else None


def summarize_scenario(
    scenario: ScenarioDoc, thresholds: Sequence[Threshold] | None = None
) -> ScenarioSummary:
    """The summary of one scenario; ``thresholds`` replace the definition's (``()`` for a
    shard, whose thresholds are decided after the merge)."""
    baseline = baseline_of(scenario)
    all_cells = group_cells(t for t in scenario["trials"] if not t.get("warmup"))
    measured = group_cells(timing_trials(scenario["trials"]))
    layout = Layout.of(scenario["trials"])
    rows: list[SummaryRow] = []
    for cell, trials in all_cells.items():
        mine = measured.get(cell, [])
        ratio = None
        base_c = layout.stand_in(cell.provider, baseline, cell.concurrency)
        if cell.variant != baseline and base_c is not None:
            base = measured.get(cell._replace(variant=baseline, concurrency=base_c), [])
            base_tp = metric_values(base, "throughput_bytes_per_s")
            mine_tp = metric_values(mine, "throughput_bytes_per_s")
            if base_tp and mine_tp:
                ratio = ratio_of_medians(base_tp, mine_tp)

        def med(metric: str, trials: Sequence[TrialDoc] = mine) -> float | None:
            return _median(metric_values(trials, metric))

        rows.append(
            SummaryRow(
                provider=cell.provider,
                concurrency=cell.concurrency,
                variant=cell.variant,
                is_baseline=cell.variant == baseline,
                trials=len(mine),
                harness_errors=sum(1 for t in trials if t["status"] != "ok"),
                throughput_bytes_per_s=med("throughput_bytes_per_s"),
                files_per_s=med("files_per_s"),
                latency_p50_s=med("latency_p50_s"),
                latency_p99_s=med("latency_p99_s"),
                success_rate=med("success_rate"),
                timeout_rate=med("timeout_rate"),
                loop_lag_p99_s=med("loop_lag_p99_s"),
                connections_opened=med("connections_opened"),
                throughput_vs_baseline=ratio,
                integrity_errors=sum(lost_files_count(t) for t in trials if t["status"] == "ok"),
            )
        )
    return ScenarioSummary(
        name=scenario["name"],
        baseline=baseline,
        rows=tuple(rows),
        thresholds=threshold_outcomes(scenario, thresholds),
        harness_errors=sum(1 for t in scenario["trials"] if t["status"] != "ok"),
        memory=memory_row(scenario["trials"], baseline=baseline, candidate="async"),
        memory_fits=dict(sorted(memory_slope_by_variant(scenario["trials"]).items())),
        data_lost=tuple(data_lost(scenario)),
        data_lost_allowed=tuple(allowed_data_loss(scenario)),
        misconfigurations=tuple(likely_misconfigurations(scenario)),
        harness_error_reasons=harness_error_reasons(scenario),
    )


def summarize_run(
    doc: ResultsDoc, thresholds: Mapping[str, Sequence[Threshold]] | None = None
) -> list[ScenarioSummary]:
    """Summaries of every scenario of a results document. ``thresholds`` maps a scenario
    name to its parsed thresholds; by default each scenario's definition's."""
    return [
        summarize_scenario(s, None if thresholds is None else thresholds.get(s["name"], ()))
        for s in doc["scenarios"]
    ]


def summary_json(summaries: Sequence[ScenarioSummary]) -> list[dict[str, Any]]:
    """The summaries as plain JSON-ready data (``uploadbench run --json``)."""
    out = []
    for s in summaries:
        data = asdict(s)
        data["thresholds"] = [{**asdict(t), "verdict": t.verdict} for t in s.thresholds]
        data["data_lost"] = [{**asdict(d), "message": d.message} for d in s.data_lost]
        data["data_lost_allowed"] = [
            {**asdict(d), "message": d.message} for d in s.data_lost_allowed
        ]
        data["misconfigurations"] = [
            {**asdict(m), "message": m.message} for m in s.misconfigurations
        ]
        data["memory"] = s.memory.as_dict() if s.memory else None
        data["memory_fits"] = {variant: fit.as_dict() for variant, fit in s.memory_fits.items()}
        data["thresholds_failed"] = s.thresholds_failed
        out.append(data)
    return out


# --- sample efficiency: how much of a run's time measured uploads (issue 14) -------------


def measured_upload_seconds(trials: Iterable[TrialDoc]) -> float:
    """Sum of ``wall_s`` over the measured trials (ok, not warm-up, not profiled, of
    either revision: :func:`harness.results.contract.is_measured_trial`): the seconds of
    uploads that enter a statistic."""
    return sum(
        float(wall)
        for t in trials
        if is_measured_trial(t)
        and isinstance(wall := (t.get("metrics") or {}).get("wall_s"), int | float)
    )


def _seconds_between(started: object, finished: object) -> float | None:
    if not isinstance(started, str) or not isinstance(finished, str):
        return None
    try:
        seconds = (
            datetime.fromisoformat(finished) - datetime.fromisoformat(started)
        ).total_seconds()
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def run_seconds(doc: ResultsDoc) -> float | None:
    """The run's wall-clock seconds, ``finished_at - started_at`` (whole seconds in the
    document). A merged run: the sum of its shards' durations when ``merged_from`` records
    each shard's ``started_at`` and ``finished_at`` (the shards ran side by side, so the
    merged span would undercount), else None. None for a run that has not finished. A
    resumed run's span includes the time it lay interrupted."""
    merged = doc.get("merged_from")
    if merged:
        spans = [_seconds_between(m.get("started_at"), m.get("finished_at")) for m in merged]
        return None if any(s is None for s in spans) else sum(s for s in spans if s is not None)
    return _seconds_between(doc.get("started_at"), doc.get("finished_at"))


def sample_efficiency(doc: ResultsDoc) -> float | None:
    """Measured upload seconds / run seconds (:func:`measured_upload_seconds` over every
    scenario, :func:`run_seconds`); None when the run's duration is unknown."""
    return sample_time(doc).efficiency


def scenario_sample_efficiency(scenario: ScenarioDoc) -> float | None:
    """One scenario's measured upload seconds / the ``duration_s`` of all its trials
    (warm-ups, profiled and failed ones included: they are what the measurement cost); None
    when a trial lacks ``duration_s`` or there is none."""
    durations = [t.get("duration_s") for t in scenario["trials"]]
    if not durations or not all(isinstance(d, int | float) for d in durations):
        return None
    total = sum(float(d) for d in durations if isinstance(d, int | float))
    return measured_upload_seconds(scenario["trials"]) / total if total > 0 else None


@dataclass(frozen=True)
class SampleTime:
    """A run's sample efficiency with its parts, and per scenario (name -> ratio of its
    trials' time, :func:`scenario_sample_efficiency`)."""

    measured_s: float
    run_s: float | None
    scenarios: Mapping[str, float | None] = field(default_factory=dict)

    @property
    def efficiency(self) -> float | None:
        return None if self.run_s is None else self.measured_s / self.run_s

    @property
    def message(self) -> str:
        """The one sentence the console and the report print."""
        if self.run_s is None:
            return (
                f"sample efficiency: n/a ({self.measured_s:.1f} s of measured uploads; the "
                "run's duration is unknown: unfinished, or merged without its shards' times)"
            )
        return (
            f"sample efficiency: {self.measured_s / self.run_s:.0%} of the run's time "
            f"measured uploads ({self.measured_s:.1f} s of {self.run_s:.1f} s)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "efficiency": self.efficiency,
            "measured_upload_s": self.measured_s,
            "run_s": self.run_s,
            "scenarios": dict(self.scenarios),
        }


def sample_time(doc: ResultsDoc) -> SampleTime:
    """:func:`sample_efficiency` with its parts, and each scenario's."""
    return SampleTime(
        measured_s=sum(measured_upload_seconds(s["trials"]) for s in doc["scenarios"]),
        run_s=run_seconds(doc),
        scenarios={s["name"]: scenario_sample_efficiency(s) for s in doc["scenarios"]},
    )
