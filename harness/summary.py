"""The per-scenario summary a run prints: data from a results document (pure), then a rich
table or JSON.

Every figure is the **median over the measured repeats** of the per-trial metric (only
trials with ``status == "ok"``, not warm-ups, not profiled: :func:`harness.results.timing_trials`),
grouped by provider, concurrency and variant. ``vs baseline`` is the ratio of median
throughputs, variant over the scenario's baseline variant at the same provider and
concurrency (higher is better). Thresholds are evaluated per provider and concurrency with
:func:`harness.thresholds.evaluate_thresholds`, memory thresholds on the profiled trials
(:func:`harness.memory.memory_metric_rows`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.analysis.thresholds import evaluate_thresholds
from harness.memory import memory_metric_rows, memory_row, memory_slope_by_variant
from harness.results import timing_trials
from harness.stats import median, ratio_of_medians
from harness.thresholds import Threshold, parse_threshold

__all__ = [
    "ScenarioSummary",
    "SummaryRow",
    "ThresholdOutcome",
    "render_summary",
    "summarize_run",
    "summary_json",
]


@dataclass(frozen=True)
class SummaryRow:
    """One provider x concurrency x variant group of a scenario."""

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


@dataclass(frozen=True)
class ThresholdOutcome:
    """A threshold checked on one provider x concurrency group; ``passed`` is None when it
    could not be measured."""

    threshold: str
    provider: str
    concurrency: int
    passed: bool | None
    measured: float | None
    detail: str


@dataclass(frozen=True)
class ScenarioSummary:
    """A scenario's rows, threshold outcomes, the 50 MiB memory row when profiled, and
    ``memory_fits`` (variant -> :meth:`harness.memory.Fit.as_dict`) when the profiled trials
    cover two sizes or more (a size sweep)."""

    name: str
    baseline: str
    rows: tuple[SummaryRow, ...]
    thresholds: tuple[ThresholdOutcome, ...] = ()
    harness_errors: int = 0
    memory: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())
    memory_fits: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def thresholds_failed(self) -> int:
        return sum(1 for t in self.thresholds if t.passed is False)


def _median_of(trials: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    values = [
        float(v)
        for t in trials
        if isinstance(v := t["metrics"].get(metric), int | float) and math.isfinite(v)
    ]
    return median(values) if values else None


def _values(trials: Sequence[Mapping[str, Any]], metric: str) -> list[float]:
    return [float(v) for t in trials if isinstance(v := t["metrics"].get(metric), int | float)]


def _threshold_groups(rows: Sequence[SummaryRow]) -> list[tuple[str, int]]:
    """Where thresholds are checked: each provider at each concurrency its non-baseline
    variants ran at (the baseline stands in there); the baseline's own if it ran alone."""
    groups: set[tuple[str, int]] = set()
    for provider in {r.provider for r in rows}:
        mine = [r for r in rows if r.provider == provider]
        candidates = [r for r in mine if not r.is_baseline] or mine
        groups.update((provider, r.concurrency) for r in candidates)
    return sorted(groups)


def _thresholds_of(scenario: Mapping[str, Any]) -> list[Threshold]:
    raw = (scenario.get("definition") or {}).get("thresholds") or []
    variants = (scenario.get("definition") or {}).get("variants")
    return [parse_threshold(str(text), variants) for text in raw]


def _summarize_scenario(
    scenario: Mapping[str, Any], thresholds: Sequence[Threshold] | None
) -> ScenarioSummary:
    baseline = str(scenario.get("baseline") or "sync")
    measured: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    errors: dict[tuple[str, int, str], int] = defaultdict(int)
    order: list[tuple[str, int, str]] = []
    for trial in scenario["trials"]:
        ident = (str(trial.get("provider")), int(trial["concurrency"]), str(trial["variant"]))
        if ident not in order:
            order.append(ident)
        if trial["status"] != "ok":
            errors[ident] += 1
    for trial in timing_trials(scenario):
        group = (str(trial.get("provider")), int(trial["concurrency"]))
        measured[group][str(trial["variant"])].append(trial)
    concs: dict[tuple[str, str], set[int]] = defaultdict(set)
    for provider, concurrency, variant in order:
        concs[(provider, variant)].add(concurrency)

    def cell(provider: str, concurrency: int, variant: str) -> list[dict[str, Any]]:
        # A variant that runs at one concurrency only (the sequential sync baseline runs at
        # c=1) stands in at every concurrency of its provider.
        only = concs[(provider, variant)]
        if concurrency not in only and len(only) == 1:
            concurrency = next(iter(only))
        return measured[(provider, concurrency)].get(variant, [])

    rows: list[SummaryRow] = []
    for provider, concurrency, variant in order:
        trials = cell(provider, concurrency, variant)
        base = cell(provider, concurrency, baseline)
        ratio = None
        base_tp = _values(base, "throughput_bytes_per_s")
        mine_tp = _values(trials, "throughput_bytes_per_s")
        if variant != baseline and base_tp and mine_tp:
            ratio = ratio_of_medians(base_tp, mine_tp)
        rows.append(
            SummaryRow(
                provider=provider,
                concurrency=concurrency,
                variant=variant,
                is_baseline=variant == baseline,
                trials=len(trials),
                harness_errors=errors[(provider, concurrency, variant)],
                throughput_bytes_per_s=_median_of(trials, "throughput_bytes_per_s"),
                files_per_s=_median_of(trials, "files_per_s"),
                latency_p50_s=_median_of(trials, "latency_p50_s"),
                latency_p99_s=_median_of(trials, "latency_p99_s"),
                success_rate=_median_of(trials, "success_rate"),
                timeout_rate=_median_of(trials, "timeout_rate"),
                loop_lag_p99_s=_median_of(trials, "loop_lag_p99_s"),
                connections_opened=_median_of(trials, "connections_opened"),
                throughput_vs_baseline=ratio,
            )
        )

    checks = list(thresholds) if thresholds is not None else _thresholds_of(scenario)
    outcomes: list[ThresholdOutcome] = []
    if checks:
        profiled = [t for t in scenario["trials"] if t.get("profiled") and t["status"] == "ok"]
        variants = sorted({r.variant for r in rows})
        for provider, concurrency in _threshold_groups(rows):
            per_variant: dict[str, list[Mapping[str, float]]] = {
                variant: [t["metrics"] for t in cell(provider, concurrency, variant)]
                for variant in variants
            }
            mine = [
                t
                for t in profiled
                if t.get("provider") == provider and t.get("concurrency") == concurrency
            ]
            for variant, extra in memory_metric_rows(mine).items():
                per_variant.setdefault(variant, []).extend(extra)
            for result in evaluate_thresholds(checks, per_variant):
                outcomes.append(
                    ThresholdOutcome(
                        threshold=result.threshold,
                        provider=provider,
                        concurrency=concurrency,
                        passed=result.passed,
                        measured=result.measured,
                        detail=result.detail,
                    )
                )

    memory = memory_row(scenario["trials"], baseline=baseline, candidate="async")
    return ScenarioSummary(
        name=str(scenario["name"]),
        baseline=baseline,
        rows=tuple(rows),
        thresholds=tuple(outcomes),
        harness_errors=sum(errors.values()),
        memory=memory.as_dict() if memory else None,
        memory_fits={
            variant: fit.as_dict()
            for variant, fit in sorted(memory_slope_by_variant(scenario["trials"]).items())
        },
    )


def summarize_run(
    doc: Mapping[str, Any],
    thresholds: Mapping[str, Sequence[Threshold]] | None = None,
) -> list[ScenarioSummary]:
    """Summaries of every scenario of a results document. ``thresholds`` maps a scenario
    name to its parsed thresholds; by default they are read from each scenario's
    ``definition["thresholds"]``."""
    return [
        _summarize_scenario(s, None if thresholds is None else thresholds.get(s["name"], ()))
        for s in doc["scenarios"]
    ]


def summary_json(summaries: Sequence[ScenarioSummary]) -> list[dict[str, Any]]:
    """The summaries as plain JSON-ready data (``uploadbench run --json``)."""
    return [
        {**asdict(s), "rows": [asdict(r) for r in s.rows], "thresholds_failed": s.thresholds_failed}
        for s in summaries
    ]


def _mib_s(value: float | None) -> str:
    return "-" if value is None else f"{value / (1024 * 1024):.1f}"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _ratio(row: SummaryRow) -> str:
    if row.is_baseline:
        return "baseline"
    return "-" if row.throughput_vs_baseline is None else f"{row.throughput_vs_baseline:.2f}x"


def render_summary(summaries: Sequence[ScenarioSummary], console: Console) -> None:
    """Print one table per scenario, then its thresholds and the memory row."""
    # Names come from scenario files and variant specs ("async[pooling=off]"): rich would
    # read their brackets as markup and drop them, so every such string is escaped.
    for summary in summaries:
        name, baseline = escape(summary.name), escape(summary.baseline)
        table = Table(title=f"{name} (baseline {baseline})", title_justify="left")
        for header in ("provider", "variant", "c", "n"):
            table.add_column(header)
        for header in ("MiB/s", "lat p50", "lat p99", "ok", "timeouts", "lag p99", "conns"):
            table.add_column(header, justify="right")
        table.add_column("vs baseline", justify="right")
        for row in summary.rows:
            n = str(row.trials) + (f" ({row.harness_errors} err)" if row.harness_errors else "")
            table.add_row(
                escape(row.provider),
                escape(row.variant),
                str(row.concurrency),
                n,
                _mib_s(row.throughput_bytes_per_s),
                _secs(row.latency_p50_s),
                _secs(row.latency_p99_s),
                _pct(row.success_rate),
                _pct(row.timeout_rate),
                _secs(row.loop_lag_p99_s),
                "-" if row.connections_opened is None else f"{row.connections_opened:.0f}",
                _ratio(row),
            )
        console.print(table)
        for variant in dict.fromkeys(r.variant for r in summary.rows if not r.is_baseline):
            ratios = [
                f"{r.throughput_vs_baseline:.2f}x ({escape(r.provider)}, c={r.concurrency})"
                for r in summary.rows
                if r.variant == variant and r.throughput_vs_baseline is not None
            ]
            if ratios:
                console.print(
                    f"  throughput {escape(variant)}/{baseline}: {', '.join(ratios)}",
                    highlight=False,
                )
        for check in summary.thresholds:
            mark = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[yellow]n/a[/]"}
            console.print(
                f"  {mark[check.passed]} {escape(check.threshold)} [dim]({escape(check.provider)}, "
                f"c={check.concurrency}: {escape(check.detail)})[/]",
                highlight=False,
            )
        if summary.memory:
            m = summary.memory
            console.print(
                f"  memory for {m['size_bytes'] / 2**20:.0f} MiB: {escape(m['baseline'])} "
                f"{m['baseline_peak_bytes'] / 2**20:.1f} MiB, {escape(m['candidate'])} "
                f"{m['candidate_peak_bytes'] / 2**20:.1f} MiB "
                f"({m['reduction_pct']:.0f}% less)",
                highlight=False,
            )
        if summary.memory_fits:
            slopes = ", ".join(
                f"{escape(variant)} {fit['slope']:.4f}"
                for variant, fit in summary.memory_fits.items()
            )
            console.print(f"  memory slope (heap peak per byte of file): {slopes}", highlight=False)
        if summary.harness_errors:
            console.print(
                f"  [red]{summary.harness_errors} trial(s) failed in the harness[/] "
                "(see the trial errors in results.json)"
            )
