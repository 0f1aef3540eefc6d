"""The investigation's claims measured: each row of :data:`harness.claims.CLAIMS` against the
scenario of a run that names it (``claim = "..."``), decided by the row's own rule.

Pure: scenarios of a results document in, :class:`ClaimRow` values out. Per-repeat values
come from :func:`harness.analysis.cells.cell_samples` (the cells compare and history use),
medians from :func:`~harness.analysis.stats.median` and heap peaks from
:mod:`harness.analysis.memory`. A claim
no scenario names is "not measured": a scenario's name never stands in for its ``claim``.

Each side is the variant at the highest concurrency it ran, for the scenario's first
provider (providers differ by design and are never pooled). Each row says under which
conditions it was measured (:func:`conditions`: the scenario's network profile and network
faults, and TLS), from the scenario's definition as the run recorded it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.analysis import stats
from harness.analysis.ablation import variant_specs
from harness.analysis.cells import Cell as GroupKey
from harness.analysis.cells import cell_samples as scenario_samples
from harness.analysis.memory import INVESTIGATION_SIZE_BYTES, memory_row, peaks_by_variant_and_size
from harness.claims import CLAIMS, Claim
from harness.metrics import METRICS, format_value
from harness.results import timing_trials
from harness.results.contract import ScenarioDoc, is_base_trial

__all__ = [
    "ClaimCount",
    "ClaimRow",
    "ClaimVerdict",
    "claim_rows",
    "conditions",
    "network_text",
    "scenario_providers",
    "tls_text",
]

ClaimVerdict = Literal["met", "not met", "not measured"]


@dataclass(frozen=True)
class ClaimCount:
    """A count shown beside a claim's deciding metric (:attr:`Claim.also`), per upload, for
    both sides (None where not measured): it explains the verdict, never decides it."""

    metric: str
    before: float | None
    after: float | None


@dataclass(frozen=True)
class ClaimRow:
    """A claim next to what a run measured. ``before``/``after`` are in the claim metric's
    unit (per upload when the claim says so); ``metric`` is what was actually measured
    (``rss_peak_bytes`` when no profiled heap peak exists for both sides); ``change`` is the
    measured value in the rule's terms (the reduction, the speed-up, or None for a ceiling).
    ``network`` and ``tls`` are the conditions it was measured under (:func:`conditions`;
    empty when no scenario measured it); ``also`` the counts shown beside it."""

    claim: Claim
    scenario: str | None
    provider: str | None
    before_variant: str
    after_variant: str
    metric: str
    before: float | None
    after: float | None
    change: float | None
    verdict: ClaimVerdict
    how: str
    network: str = ""
    tls: str = ""
    also: tuple[ClaimCount, ...] = ()


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _rate(bytes_per_s: float) -> str:
    bits = bytes_per_s * 8
    return f"{bits / 1e6:g} Mbit/s" if bits >= 1e6 else f"{bits / 1e3:g} kbit/s"


def network_text(definition: Mapping[str, Any]) -> str:
    """The network a scenario ran on, in words: ``loopback`` without a profile, else the
    profile's name with its round trip, jitter and bandwidths (``regional (50 ms RTT)``,
    ``lte (70 ms RTT ± 10 ms, 5 Mbit/s up, 12 Mbit/s down)``); ``[[network_faults]]`` are
    named after it (``+ network faults: latency``), since they stack on the profile."""
    profile = definition.get("network")
    if isinstance(profile, Mapping):
        rtt = _number(profile.get("rtt_ms"))
        parts = [f"{rtt:g} ms RTT" if rtt is not None else "RTT unknown"]
        jitter = _number(profile.get("jitter_ms"))
        if jitter:
            parts[0] += f" ± {jitter:g} ms"
        for side in ("up", "down"):
            rate = _number(profile.get(f"{side}_bytes_per_s"))
            if rate is not None and rate > 0:
                parts.append(f"{_rate(rate)} {side}")
        text = f"{profile.get('name') or 'custom'} ({', '.join(parts)})"
    else:
        text = "loopback"
    faults = definition.get("network_faults")
    kinds = [
        str(f.get("type"))
        for f in faults if isinstance(f, Mapping)
    ] if isinstance(faults, list) else []  # fmt: skip
    if kinds:
        text += f" + network faults: {', '.join(dict.fromkeys(kinds))}"
    return text


def tls_text(definition: Mapping[str, Any]) -> str:
    """``TLS 1.3``, ``TLS 1.2`` or ``plain HTTP`` (a scenario without ``tls``)."""
    tls = definition.get("tls")
    return f"TLS {tls}" if isinstance(tls, str) and tls not in ("", "off") else "plain HTTP"


def conditions(scenario: ScenarioDoc) -> tuple[str, str]:
    """The network and the TLS a scenario's claims were measured under, from its recorded
    definition (:func:`network_text`, :func:`tls_text`)."""
    definition = scenario.get("definition")
    if not isinstance(definition, Mapping):
        definition = {}
    return network_text(definition), tls_text(definition)


def scenario_providers(scenario: ScenarioDoc) -> list[str]:
    """Providers that ran: in the scenario file's order, then any other as it ran."""
    declared = [
        str(p.get("kind"))
        for p in (scenario.get("definition") or {}).get("providers") or ()
        if isinstance(p, Mapping)
    ]
    ran = list(dict.fromkeys(str(t.get("provider") or "") for t in scenario.get("trials") or ()))
    return [p for p in declared if p in ran] + [p for p in ran if p not in declared]


def _highest(samples: Mapping[GroupKey, Any], provider: str, variant: str) -> GroupKey | None:
    keys = [k for k in samples if k[0] == provider and k[1] == variant]
    return max(keys, key=lambda k: k[2]) if keys else None


def _median(samples: Mapping[GroupKey, Mapping[str, list[float]]], key: GroupKey | None,
            metric: str) -> float | None:  # fmt: skip
    values = samples.get(key, {}).get(metric) if key is not None else None
    return stats.median(values) if values else None


def _uploads(scenario: ScenarioDoc, key: GroupKey) -> int:
    """Files per repeat of a cell: the largest record count of its timing trials."""
    return max(
        (
            len(t.get("records") or ())
            for t in timing_trials(scenario)
            if (str(t.get("provider") or ""), str(t["variant"]), int(t["concurrency"])) == key
        ),
        default=0,
    )


def _decide(claim: Claim, before: float | None, after: float | None) -> tuple[float | None, bool]:
    """The change in the rule's terms and whether the claim holds."""
    if claim.rule == "below":
        return None, after is not None and after < claim.target
    if before is None or after is None:
        return None, False
    if claim.rule == "reduction":
        change = 1 - after / before if before > 0 else None
    else:  # speedup of a time: before / after
        change = before / after if after > 0 else None
    return change, change is not None and change >= claim.target


def _heap_peaks(
    scenario: ScenarioDoc, provider: str, before: str, after: str
) -> tuple[float | None, float | None, str]:
    """Median heap peaks (memray, profiled trials with every upload ok) of both variants
    for the investigation's 50 MiB file, or the largest size both sides profiled."""
    profiled = [
        t
        for t in scenario.get("trials") or ()
        # a base-and-head run's claims are the head's
        if t.get("profiled") and not is_base_trial(t) and str(t.get("provider") or "") == provider
    ]
    peaks = peaks_by_variant_and_size(profiled, complete_only=True)
    common = set(peaks.get(before, {})) & set(peaks.get(after, {}))
    if not common:
        return None, None, ""
    size = INVESTIGATION_SIZE_BYTES if INVESTIGATION_SIZE_BYTES in common else max(common)
    row = memory_row(profiled, size_bytes=size, baseline=before, candidate=after)
    if row is None:
        return None, None, ""
    return (
        float(row.baseline_peak_bytes),
        float(row.candidate_peak_bytes),
        f"heap peak of profiled trials (memray), files of {format_value('bytes', size)}",
    )


def _measure(claim: Claim, scenario: ScenarioDoc, before: str, after: str) -> ClaimRow:
    name = str(scenario.get("name", ""))
    network, tls = conditions(scenario)
    providers = scenario_providers(scenario)
    provider = providers[0] if providers else ""
    samples = scenario_samples(scenario)
    k_before, k_after = _highest(samples, provider, before), _highest(samples, provider, after)
    where = (
        f"{provider}: {before} c={k_before[2] if k_before else '?'}, "
        f"{after} c={k_after[2] if k_after else '?'}"
    )
    metric = claim.metric
    b: float | None
    a: float | None
    if metric == "heap_peak_bytes":
        b, a, how = _heap_peaks(scenario, provider, before, after)
        if b is None or a is None:
            metric = "rss_peak_bytes"
            b, a = _median(samples, k_before, metric), _median(samples, k_after, metric)
            how = (
                f"RSS peak of timing trials, median of repeats ({where}): "
                "no profiled heap peak for both variants"
            )
    else:
        b, a = _median(samples, k_before, metric), _median(samples, k_after, metric)
        title = METRICS[metric].title
        how = f"{title}, median of repeats ({where})"
        if claim.per_upload:
            b = _per_upload(b, scenario, k_before)
            a = _per_upload(a, scenario, k_after)
            how = f"{title} per upload, median of repeats ({where})"
    also = tuple(
        ClaimCount(
            m,
            _per_upload(_median(samples, k_before, m), scenario, k_before),
            _per_upload(_median(samples, k_after, m), scenario, k_after),
        )
        for m in claim.also
    )
    if b is None or a is None:
        return ClaimRow(
            claim, name, provider, before, after, metric, b, a, None, "not measured",
            f"{before} or {after} not measured in {name!r}", network, tls, also,
        )  # fmt: skip
    change, met = _decide(claim, b, a)
    verdict: ClaimVerdict = "met" if met else "not met"
    how += _in_round_trips(scenario, metric, b, a)
    return ClaimRow(
        claim, name, provider, before, after, metric, b, a, change, verdict, how, network, tls,
        also,
    )  # fmt: skip


def _in_round_trips(scenario: ScenarioDoc, metric: str, before: float, after: float) -> str:
    """A per-upload latency's difference in the network's round trips (``; 205 ms saved per
    upload = 4.1 RTT``): what a claim on connections saves, on its mechanism (a new
    connection costs 1 RTT for TCP, one more for TLS 1.3, two more for TLS 1.2). Empty
    without a network profile of more than 0 ms RTT, or for a metric that is no latency."""
    definition = scenario.get("definition")
    profile = definition.get("network") if isinstance(definition, Mapping) else None
    rtt_ms = _number(profile.get("rtt_ms")) if isinstance(profile, Mapping) else None
    if not rtt_ms or rtt_ms <= 0 or not metric.startswith("latency_"):
        return ""
    saved = before - after
    word = "saved" if saved >= 0 else "lost"
    return (
        f"; {format_value('time', abs(saved))} {word} per upload = "
        f"{abs(saved) * 1000 / rtt_ms:.1f} RTT of {rtt_ms:g} ms"
    )


def _per_upload(value: float | None, scenario: ScenarioDoc, key: GroupKey | None) -> float | None:
    if value is None or key is None:
        return None
    uploads = _uploads(scenario, key)
    return value / uploads if uploads else None


def _named(scenario: ScenarioDoc, spec: str) -> str:
    """The name the scenario gives the uploader ``spec`` (``sync``, ``async``): a variant
    named so, else the first whose spec it is, else the spec itself."""
    specs = variant_specs(scenario)
    if specs.get(spec) == spec:
        return spec
    return next((name for name, s in specs.items() if s == spec), spec)


def claim_rows(
    scenarios: Sequence[ScenarioDoc], *, before: str = "sync", after: str = "async"
) -> list[ClaimRow]:
    """One row per claim, in the table's order: measured on the first scenario whose
    definition names it, the uploader ``before`` (or the claim's own, :attr:`Claim.before`)
    against ``after`` (specs: the variants that stand for them, whatever the scenario names
    them); "not measured" when none does."""
    named: dict[str, ScenarioDoc] = {}
    for scenario in scenarios:
        key = (scenario.get("definition") or {}).get("claim")
        if isinstance(key, str):
            named.setdefault(key, scenario)
    rows = []
    for claim in CLAIMS:
        found = named.get(claim.key)
        first = claim.before or before
        if found is None:
            rows.append(
                ClaimRow(
                    claim,
                    None,
                    None,
                    first,
                    after,
                    claim.metric,
                    None,
                    None,
                    None,
                    "not measured",
                    "no scenario in this run names this claim (claim = ...)",
                )
            )
            continue
        rows.append(_measure(claim, found, _named(found, first), _named(found, after)))
    return rows
