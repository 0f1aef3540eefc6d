"""What the report shows, extracted from results, comparison and history dicts.

Pure functions: they read the ``results.json`` contract (schema_version 1) and never touch
the disk. Only trials with ``status == "ok"``, ``warmup == false`` and ``profiled == false``
enter a timing statistic; profiled trials give memory only.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.report.format import fmt_bytes, fmt_fraction, fmt_ratio, fmt_seconds, is_number

__all__ = [
    "CLAIMS",
    "Claim",
    "ClaimRow",
    "Group",
    "Headline",
    "HistoryPoint",
    "ScenarioData",
    "claim_rows",
    "headline",
    "history_series",
    "is_timing_trial",
    "report_warnings",
    "scenarios_of",
]

# A coefficient of variation above this across repeats makes a 10% change undetectable
# (the smallest effect asv and benchstat care about), so the report says so.
NOISE_CV_LIMIT = 0.10
# Exact two-sided Mann-Whitney U cannot reach p < 0.05 with 3 vs 3 repeats (min p = 0.1).
MIN_REPEATS_FOR_SIGNIFICANCE = 4


def is_timing_trial(trial: Mapping[str, Any]) -> bool:
    """Whether a trial may enter a timing statistic (the contract's rule)."""
    return trial.get("status") == "ok" and not trial.get("warmup") and not trial.get("profiled")


def _num(value: object) -> float | None:
    return float(value) if is_number(value) else None


@dataclass(frozen=True)
class Group:
    """The timing trials of one (provider, variant, concurrency) in one scenario."""

    provider: str
    variant: str
    concurrency: int
    trials: tuple[Mapping[str, Any], ...]

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
        out = []
        for trial in self.trials:
            value = _num((trial.get("metrics") or {}).get(metric))
            if value is not None:
                out.append(value)
        return out

    def median(self, metric: str) -> float | None:
        values = self.values(metric)
        return statistics.median(values) if values else None

    def total(self, metric: str) -> float | None:
        values = self.values(metric)
        return sum(values) if values else None

    def spread(self, metric: str) -> tuple[float, float] | None:
        values = self.values(metric)
        return (min(values), max(values)) if values else None

    def cv(self, metric: str) -> float | None:
        """Coefficient of variation across repeats (None with fewer than 2 repeats)."""
        values = self.values(metric)
        if len(values) < 2:
            return None
        mean = statistics.fmean(values)
        return statistics.stdev(values) / mean if mean > 0 else None

    def latencies(self) -> list[float]:
        """Per-upload latency (end - start) of every successful upload, pooled over repeats."""
        out = []
        for trial in self.trials:
            for record in trial.get("records") or ():
                start, end = _num(record.get("start")), _num(record.get("end"))
                if record.get("outcome") == "ok" and start is not None and end is not None:
                    out.append(end - start)
        return out

    def uploads(self) -> int:
        """Files uploaded per repeat (the largest record count seen)."""
        return max((len(t.get("records") or ()) for t in self.trials), default=0)

    def faults_applied(self) -> dict[str, int]:
        """Faults the mock reported, summed over repeats."""
        totals: dict[str, int] = {}
        for trial in self.trials:
            faults = (trial.get("mock") or {}).get("faults_applied") or {}
            for name, count in faults.items():
                if is_number(count):
                    totals[str(name)] = totals.get(str(name), 0) + int(count)
        return dict(sorted(totals.items()))

    def statuses(self) -> dict[str, int]:
        """HTTP statuses the mock answered, summed over repeats."""
        totals: dict[str, int] = {}
        for trial in self.trials:
            by_status = (trial.get("mock") or {}).get("by_status") or {}
            for status, count in by_status.items():
                if is_number(count):
                    totals[str(status)] = totals.get(str(status), 0) + int(count)
        return dict(sorted(totals.items()))

    def mock_requests(self) -> int | None:
        counts = [
            int(r) for t in self.trials if is_number(r := (t.get("mock") or {}).get("requests"))
        ]
        return sum(counts) if counts else None


@dataclass(frozen=True)
class ScenarioData:
    """One scenario's trials, split the way the report uses them."""

    name: str
    baseline: str
    definition: Mapping[str, Any]
    groups: tuple[Group, ...]
    profiled: tuple[Mapping[str, Any], ...]
    failed: tuple[Mapping[str, Any], ...]

    @property
    def variants(self) -> list[str]:
        """Variants in display order: the baseline first, then as they first ran."""
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
    def claim(self) -> str | None:
        claim = self.definition.get("claim")
        return claim if isinstance(claim, str) else None

    @property
    def providers(self) -> list[str]:
        """Providers that ran: in the scenario file's order, then any other as it ran."""
        declared = [
            str(p.get("kind"))
            for p in self.definition.get("providers") or ()
            if isinstance(p, Mapping)
        ]
        ran = list(dict.fromkeys(g.provider for g in self.groups))
        return [p for p in declared if p in ran] + [p for p in ran if p not in declared]

    def group_at_max_concurrency(self, variant: str, provider: str | None = None) -> Group | None:
        """The variant's group at the highest concurrency it ran, for ``provider`` (default:
        the scenario's first provider; providers are never pooled, they differ by design)."""
        providers = self.providers
        wanted = provider if provider is not None else (providers[0] if providers else None)
        groups = [g for g in self.groups if g.variant == variant and g.provider == wanted]
        return max(groups, key=lambda g: g.concurrency) if groups else None

    def profiled_peak(self, variant: str, provider: str | None = None) -> float | None:
        """Median heap peak of the variant's profiled trials (of ``provider`` if given)."""
        peaks = [
            float(p)
            for t in self.profiled
            if t.get("variant") == variant
            and (provider is None or t.get("provider") == provider)
            and is_number(p := (t.get("metrics") or {}).get("heap_peak_bytes"))
        ]
        return statistics.median(peaks) if peaks else None


def scenarios_of(results: Mapping[str, Any]) -> list[ScenarioData]:
    """Every scenario of a run, its timing trials grouped by (provider, variant, concurrency)."""
    out = []
    for scenario in results.get("scenarios") or ():
        grouped: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
        profiled, failed = [], []
        for trial in scenario.get("trials") or ():
            if trial.get("status") != "ok":
                failed.append(trial)
            elif trial.get("profiled"):
                profiled.append(trial)
            elif is_timing_trial(trial):
                key = (
                    str(trial.get("provider", "")),
                    str(trial.get("variant", "")),
                    int(trial.get("concurrency") or 1),
                )
                grouped.setdefault(key, []).append(trial)
        groups = tuple(
            Group(provider, variant, concurrency, tuple(trials))
            for (provider, variant, concurrency), trials in grouped.items()
        )
        out.append(
            ScenarioData(
                name=str(scenario.get("name", "")),
                baseline=str(scenario.get("baseline") or "sync"),
                definition=scenario.get("definition") or {},
                groups=groups,
                profiled=tuple(profiled),
                failed=tuple(failed),
            )
        )
    return out


# --- claimed vs measured ----------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One row of the investigation's table: what was promised and how to check it."""

    key: str
    title: str
    promised_before: str
    promised_after: str
    promised_change: str
    # scenario-name patterns tried in order when no scenario carries a ``claim`` key
    name_patterns: tuple[str, ...]


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "memory_50mb",
        "Memory for a 50 MB file",
        "~50 MB",
        "~5 MB",
        "90% reduction",
        (r"mem\w*.?50", r"50.?mi?b"),
    ),
    Claim(
        "throughput_10_files",
        "Throughput for 10 files",
        "10 s",
        "1-2 s",
        "5-10x faster",
        (r"throughput", r"10.?files"),
    ),
    Claim(
        "latency_per_upload",
        "Latency per upload",
        "500 ms",
        "250-350 ms",
        "30-50% lower",
        (r"latency.?per.?upload", r"per.?upload", r"latency"),
    ),
    Claim("timeout_rate", "Timeout rate", "5-10%", "<1%", "below 1%", (r"timeout",)),
    Claim(
        "connection_overhead",
        "Connection overhead",
        "new connection per upload",
        "pooled",
        "connections reused",
        (r"connection", r"pool"),
    ),
)


@dataclass(frozen=True)
class ClaimRow:
    """A claim next to what this run measured (``None`` values: not measured)."""

    claim: Claim
    scenario: str | None
    matched_by: str  # "claim key", "scenario name" or ""
    before: float | None
    after: float | None
    before_text: str
    after_text: str
    change_text: str
    verdict: str  # "met", "not met", "not measured"
    note: str = ""


def _match_claims(scenarios: Sequence[ScenarioData]) -> dict[str, tuple[ScenarioData, str]]:
    """Claim key -> (scenario, how it was matched). A ``claim`` key in the scenario
    definition wins (the first scenario carrying it); a claim that no scenario carries
    falls back to the name patterns, among scenarios without a ``claim`` key, each serving
    one claim at most (``throughput-10-files-latency`` is the throughput row, not the
    latency row)."""
    matched = {s.claim: (s, "claim key") for s in reversed(scenarios) if s.claim}
    # a scenario that names its claim never stands in for another one by its name
    taken = {s.name for s in scenarios if s.claim}
    for claim in CLAIMS:
        if claim.key in matched:
            continue
        for pattern in claim.name_patterns:
            found = next(
                (
                    s
                    for s in scenarios
                    if s.name not in taken and re.search(pattern, s.name.lower())
                ),
                None,
            )
            if found is not None:
                matched[claim.key] = (found, "scenario name")
                taken.add(found.name)
                break
    return matched


def claim_rows(
    scenarios: Sequence[ScenarioData], *, before: str = "sync", after: str = "async"
) -> list[ClaimRow]:
    """The investigation's table, measured: ``before`` against ``after`` per claim."""
    rows = []
    matches = _match_claims(scenarios)
    for claim in CLAIMS:
        scenario, matched_by = matches.get(claim.key, (None, ""))
        if scenario is None:
            rows.append(
                ClaimRow(
                    claim,
                    None,
                    "",
                    None,
                    None,
                    "",
                    "",
                    "",
                    "not measured",
                    "no scenario in this run carries this claim",
                )
            )
            continue
        g_before = scenario.group_at_max_concurrency(before)
        g_after = scenario.group_at_max_concurrency(after)
        conc = (
            f"{g_before.provider if g_before else g_after.provider if g_after else '?'}: "
            f"{before} c={g_before.concurrency if g_before else '?'}, "
            f"{after} c={g_after.concurrency if g_after else '?'}"
        )
        b: float | None
        a: float | None
        if claim.key == "memory_50mb":
            first = scenario.providers[0] if scenario.providers else None
            b, a = scenario.profiled_peak(before, first), scenario.profiled_peak(after, first)
            note = "heap peak of profiled trials (memray)"
            if (b is None or a is None) and g_before and g_after:
                b, a = g_before.median("rss_peak_bytes"), g_after.median("rss_peak_bytes")
                note = "RSS peak of timing trials: no profiled trial for both variants"
            met = b is not None and a is not None and b > 0 and 1 - a / b >= 0.9
            change = _relative(b, a, "less", "more")
            texts = (fmt_bytes(b), fmt_bytes(a))
        elif claim.key == "throughput_10_files":
            b = g_before.median("wall_s") if g_before else None
            a = g_after.median("wall_s") if g_after else None
            note = f"wall time for the scenario's files, median of repeats ({conc})"
            met = b is not None and a is not None and a > 0 and b / a >= 5
            change = (
                (f"{fmt_ratio(b / a)} faster" if b >= a else f"{fmt_ratio(a / b)} slower")
                if b and a
                else ""
            )
            texts = (fmt_seconds(b), fmt_seconds(a))
        elif claim.key == "latency_per_upload":
            b = g_before.median("latency_p50_s") if g_before else None
            a = g_after.median("latency_p50_s") if g_after else None
            note = f"p50 per-upload latency, median of repeats ({conc})"
            met = b is not None and a is not None and b > 0 and 1 - a / b >= 0.3
            change = _relative(b, a, "lower", "higher")
            texts = (fmt_seconds(b), fmt_seconds(a))
        elif claim.key == "timeout_rate":
            b = g_before.median("timeout_rate") if g_before else None
            a = g_after.median("timeout_rate") if g_after else None
            note = f"timeout rate under the scenario's faults, median of repeats ({conc})"
            met = a is not None and a < 0.01
            change = (
                f"{abs(b - a) * 100:.1f} points {'lower' if a <= b else 'higher'}"
                if b is not None and a is not None
                else ""
            )
            texts = (fmt_fraction(b), fmt_fraction(a))
        else:  # connection_overhead: connections opened per upload
            b = _per_upload(g_before, "connections_opened")
            a = _per_upload(g_after, "connections_opened")
            note = f"connections the mock saw per upload, median of repeats ({conc})"
            met = a is not None and a < 1 and (b is None or a < b)
            change = f"{fmt_ratio(b / a)} fewer" if b is not None and a else ""
            texts = (
                f"{b:.2f} per upload" if b is not None else "n/a",
                f"{a:.2f} per upload" if a is not None else "n/a",
            )
        measured = b is not None and a is not None
        rows.append(
            ClaimRow(
                claim,
                scenario.name,
                matched_by,
                b,
                a,
                texts[0],
                texts[1],
                change if measured else "",
                ("met" if met else "not met") if measured else "not measured",
                note if measured else f"{before} or {after} not measured in '{scenario.name}'",
            )
        )
    return rows


def _relative(before: float | None, after: float | None, less: str, more: str) -> str:
    """``"92% less"`` or ``"15% more"``: the change from ``before`` in its own words."""
    if not before or after is None:
        return ""
    change = 1 - after / before
    return f"{abs(change) * 100:.0f}% {less if change >= 0 else more}"


def _per_upload(group: Group | None, metric: str) -> float | None:
    if group is None:
        return None
    value, uploads = group.median(metric), group.uploads()
    return value / uploads if value is not None and uploads else None


# --- headline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """The verdict line at the top of the report.

    The counts are of the checks that decide the exit code (``gating`` checks and
    thresholds); variant checks describe the before/after and are counted apart, so a naive
    variant being slower than ``sync`` (the finding) never reads as a regression.
    """

    verdict: str  # "regression", "ok", "inconclusive", "error", "not compared"
    text: str
    regressions: int
    improvements: int
    unchanged: int
    inconclusive: int
    thresholds_failed: int
    thresholds_passed: int
    exit_code: int | None
    against: str = ""
    variant_counts: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _gates(check: Mapping[str, Any], gating_known: bool) -> bool:
    if check.get("kind") == "threshold":
        return True
    return bool(check.get("gating")) if gating_known else check.get("kind") == "history"


def headline(comparison: Mapping[str, Any] | None) -> Headline:
    """Counts from the comparison's checks; the verdict follows its exit code."""
    if not comparison:
        return Headline(
            "not compared",
            "Not compared: no comparison was computed for this run",
            0,
            0,
            0,
            0,
            0,
            0,
            None,
        )
    checks = list(comparison.get("checks") or ())
    gating_known = any("gating" in c for c in checks)
    gates = [c for c in checks if _gates(c, gating_known)]

    def count(verdict: str, pool: Sequence[Mapping[str, Any]] = gates) -> int:
        return sum(1 for c in pool if c.get("verdict") == verdict)

    exit_code = comparison.get("exit_code")
    code = int(exit_code) if is_number(exit_code) else None
    regressions, failed = count("regressed"), count("fail")
    if code is None:
        code = 1 if regressions or failed else (3 if count("inconclusive") else 0)
    verdict, text = {
        0: ("ok", "No regression: every threshold holds"),
        1: ("regression", "Regression: a change for the worse is confirmed"),
        2: ("error", "Error: the comparison could not be completed"),
        3: ("inconclusive", "Inconclusive: too few samples or too much noise to decide"),
    }.get(code, ("error", f"Unknown exit code {code}"))
    variants = [c for c in checks if c.get("kind") == "variant"]
    return Headline(
        verdict,
        text,
        regressions,
        count("improved"),
        count("unchanged"),
        count("inconclusive"),
        failed,
        count("pass"),
        code,
        against=str(comparison.get("against") or ""),
        variant_counts={
            v: count(v, variants) for v in ("improved", "regressed", "unchanged", "inconclusive")
        },
        notes=tuple(str(n) for n in comparison.get("notes") or ()),
    )


# --- history ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryPoint:
    """One night's value of one metric of one (scenario, provider, variant, concurrency)."""

    run_id: str
    started_at: str
    fingerprint: str | None
    value: float


HistoryKey = tuple[str, str, str, int, str]  # scenario, provider, variant, concurrency, metric


def _history_rows(entry: Mapping[str, Any]) -> Iterable[tuple[HistoryKey, float]]:
    """Rows of one history entry: a ``harness.history`` record (``history_version`` 1: one
    scenario, ``groups`` with per-repeat ``samples``) or a whole results document."""
    if "groups" in entry:
        name = str(entry.get("scenario", ""))
        for group in entry.get("groups") or ():
            base = (
                name,
                str(group.get("provider", "")),
                str(group.get("variant", "")),
                int(group.get("concurrency") or 1),
            )
            for metric, samples in (group.get("samples") or {}).items():
                values = [float(v) for v in samples or () if is_number(v)]
                if values:
                    yield (*base, str(metric)), statistics.median(values)
    if entry.get("scenarios"):
        for scenario in scenarios_of(entry):
            for g in scenario.groups:
                for metric in HISTORY_METRICS:
                    median = g.median(metric)
                    if median is not None:
                        key = (scenario.name, g.provider, g.variant, g.concurrency)
                        yield (*key, metric), median
            peaks: dict[tuple[str, str, int], list[float]] = {}
            for trial in scenario.profiled:
                peak = (trial.get("metrics") or {}).get("heap_peak_bytes")
                if is_number(peak):
                    group = (
                        str(trial.get("provider", "")),
                        str(trial.get("variant", "")),
                        int(trial.get("concurrency") or 1),
                    )
                    peaks.setdefault(group, []).append(float(peak))
            for (provider, variant, concurrency), values in peaks.items():
                heap_key = (scenario.name, provider, variant, concurrency, "heap_peak_bytes")
                yield heap_key, statistics.median(values)


HISTORY_METRICS = (
    "throughput_bytes_per_s",
    "latency_p50_s",
    "latency_p99_s",
    "rss_peak_bytes",
    "timeout_rate",
    "heap_peak_bytes",  # profiled trials only (harness.history keeps it from those)
)


def _fingerprint(entry: Mapping[str, Any]) -> str | None:
    env = entry.get("environment")
    value = entry.get("fingerprint") or (
        env.get("fingerprint") if isinstance(env, Mapping) else None
    )
    return str(value) if value else None


def history_series(
    history: Sequence[Mapping[str, Any]] | None, results: Mapping[str, Any] | None = None
) -> dict[HistoryKey, list[HistoryPoint]]:
    """Per key, the nights in order (oldest first), with this run appended last."""
    series: dict[HistoryKey, list[HistoryPoint]] = {}
    entries = list(history or ())
    entries.sort(key=lambda e: (str(e.get("started_at", "")), str(e.get("run_id", ""))))
    if results is not None:
        run_id = results.get("run_id")
        entries = [e for e in entries if e.get("run_id") != run_id] + [results]
    for entry in entries:
        for key, value in _history_rows(entry):
            if key[4] not in HISTORY_METRICS:
                continue
            series.setdefault(key, []).append(
                HistoryPoint(
                    str(entry.get("run_id", "")),
                    str(entry.get("started_at", "")),
                    _fingerprint(entry),
                    value,
                )
            )
    return series


# --- warnings ---------------------------------------------------------------------------


def report_warnings(
    results: Mapping[str, Any],
    scenarios: Sequence[ScenarioData],
    *,
    history: Sequence[Mapping[str, Any]] | None,
    comparison: Mapping[str, Any] | None,
    extra: Iterable[str] = (),
) -> list[str]:
    """Everything a reader must know before trusting the numbers."""
    out: list[str] = [str(w) for w in extra]
    if not results.get("complete", True):
        out.append("This run is incomplete (still running, crashed or interrupted).")
    shard = results.get("shard")
    if isinstance(shard, Mapping):
        out.append(f"This is shard {shard.get('k')}/{shard.get('n')} only: merge the shards.")
    env = results.get("environment") or {}
    if env.get("git_dirty"):
        out.append("The working tree had uncommitted changes (git_dirty).")
    failed = sum(len(s.failed) for s in scenarios)
    if failed:
        out.append(
            f"{failed} trial(s) failed with a harness error and are left out of every statistic."
        )
    current = env.get("fingerprint")
    if comparison:
        base_env = comparison.get("baseline_environment")
        base_fp = comparison.get("baseline_fingerprint") or (
            base_env.get("fingerprint") if isinstance(base_env, Mapping) else None
        )
        if base_fp and current and base_fp != current:
            out.append(
                f"The baseline ran on another environment (fingerprint {base_fp}, "
                f"this run {current}): differences may come from the machine."
            )
    if history and current:
        runs = {str(e.get("run_id")): _fingerprint(e) for e in history}
        other = sum(1 for fp in runs.values() if fp and fp != current)
        if other:
            out.append(
                f"{other} of {len(runs)} earlier run(s) in history ran on another environment "
                f"fingerprint than this run ({current}): their trends are not comparable."
            )
    noisy = []
    few = []
    for scenario in scenarios:
        for group in scenario.groups:
            cv = group.cv("wall_s")
            if cv is not None and cv > NOISE_CV_LIMIT:
                noisy.append(f"{scenario.name} / {group.qualified_label} ({cv * 100:.0f}%)")
            if len(group.trials) < MIN_REPEATS_FOR_SIGNIFICANCE:
                few.append(f"{scenario.name} / {group.qualified_label} (n={len(group.trials)})")
    if noisy:
        shown = ", ".join(noisy[:8]) + (f" and {len(noisy) - 8} more" if len(noisy) > 8 else "")
        out.append(
            f"High noise: wall time varies by more than {NOISE_CV_LIMIT:.0%} (coefficient of "
            f"variation) across repeats in {shown}."
        )
    if few:
        shown = ", ".join(few[:8]) + (f" and {len(few) - 8} more" if len(few) > 8 else "")
        out.append(
            f"Too few repeats to reach significance (need {MIN_REPEATS_FOR_SIGNIFICANCE}): {shown}."
        )
    return out
