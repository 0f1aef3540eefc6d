"""The ablation ranking: what switching off each of the reference's five fixes costs.

Pure: a results document's scenario in, ranked :class:`AblationRow` values out (the report
renders them). A scenario is an ablation when it ran the reference with every fix on and at
least one variant with exactly one fix off (spec ``async[streaming=off]``); a variant with
every fix off comes last, unranked. Variants are known by their *names* (what trials carry);
their specs come from the definition's ``variant_specs`` (a name missing there is its own
spec), and only specs are parsed. Each row compares medians of repeats
(:func:`harness.analysis.cells.cell_samples`, :func:`harness.analysis.stats.median`) with the all-on
variant at the same provider and concurrency; the heap peak is the median of the profiled
trials. Fixes are ranked by the throughput the reference loses without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from harness.analysis import stats
from harness.analysis.cells import Cell as GroupKey
from harness.analysis.cells import cell_samples as scenario_samples
from harness.results.contract import ScenarioDoc
from uploader.api import Fixes
from uploader.variants import VariantSpec, parse_variant

__all__ = ["ALL_OFF", "AblationRow", "ablation_rows", "spec_of", "variant_specs"]

ALL_OFF = "all five off"

_Samples = Mapping[GroupKey, Mapping[str, Sequence[float]]]


@dataclass(frozen=True)
class AblationRow:
    """One fix switched off (``fix`` is the switch's name, or :data:`ALL_OFF`) against the
    all-on reference. Ratios are off / on: a throughput ratio of 0.25 means the fix makes
    the reference 4x faster; ``rank`` is 1 for the fix whose loss costs most throughput."""

    fix: str
    variant: str
    reference: str
    provider: str
    concurrency: int
    throughput_ratio: float | None
    latency_p50_ratio: float | None
    heap_peak_on: float | None
    heap_peak_off: float | None
    loop_lag_p99_on: float | None
    loop_lag_p99_off: float | None
    connections_on: float | None
    connections_off: float | None
    rank: int | None = None


def spec_of(definition: Mapping[str, object], name: str) -> str:
    """The spec a variant name stands for: the definition's ``variant_specs`` where it
    names one, else the name itself (the results contract's rule)."""
    declared = definition.get("variant_specs")
    spec = declared.get(name) if isinstance(declared, Mapping) else None
    return str(spec) if spec else name


def variant_specs(scenario: ScenarioDoc) -> dict[str, str]:
    """Name -> spec of every variant the scenario's trials carry, in the order they ran."""
    definition = scenario.get("definition") or {}
    names = dict.fromkeys(str(t.get("variant")) for t in scenario.get("trials") or ())
    return {name: spec_of(definition, name) for name in names}


def _async_fixes_off(spec: str) -> list[str] | None:
    """The switches a spec of the reference turns off; None for any other uploader."""
    try:
        parsed: VariantSpec = parse_variant(spec)
    except ValueError:
        return None
    if parsed.kind != "builtin" or parsed.name != "async":
        return None
    return [name for name in Fixes.names() if not getattr(parsed.fixes, name)]


def _median(samples: _Samples, key: GroupKey, metric: str) -> float | None:
    values = samples.get(key, {}).get(metric)
    return stats.median(values) if values else None


def _heap_peak(samples: _Samples, provider: str, variant: str) -> float | None:
    """Median heap peak of the variant's profiled trials at that provider, any concurrency."""
    values = [
        v
        for (p, name, _), metrics in samples.items()
        if p == provider and name == variant
        for v in metrics.get("heap_peak_bytes") or ()
    ]
    return stats.median(values) if values else None


def _ratio(off: float | None, on: float | None) -> float | None:
    return off / on if off is not None and on is not None and on > 0 else None


def ablation_rows(scenario: ScenarioDoc) -> list[AblationRow]:
    """The ranked rows, one per fix switched off alone, then all off; empty when the
    scenario is no ablation."""
    off_by_variant = {
        name: off
        for name, spec in variant_specs(scenario).items()
        if (off := _async_fixes_off(spec)) is not None
    }
    on_variants = [name for name, off in off_by_variant.items() if not off]
    if not on_variants:
        return []
    # "async" leaves the switches to Settings.fixes, which is all on unless a scenario's
    # settings say otherwise (the scenario format has no fixes setting), so it is all on.
    specs = variant_specs(scenario)
    reference = next((n for n in on_variants if specs[n] == "async"), on_variants[0])
    samples = scenario_samples(scenario)
    rows: list[AblationRow] = []
    for key in samples:
        provider, variant, concurrency = key
        off = off_by_variant.get(variant)
        if not off or (1 < len(off) < len(Fixes.names())):
            continue
        base = (provider, reference, concurrency)
        if base not in samples or "throughput_bytes_per_s" not in samples[base]:
            continue
        rows.append(
            AblationRow(
                fix=off[0] if len(off) == 1 else ALL_OFF,
                variant=variant,
                reference=reference,
                provider=provider,
                concurrency=concurrency,
                throughput_ratio=_ratio(
                    _median(samples, key, "throughput_bytes_per_s"),
                    _median(samples, base, "throughput_bytes_per_s"),
                ),
                latency_p50_ratio=_ratio(
                    _median(samples, key, "latency_p50_s"), _median(samples, base, "latency_p50_s")
                ),
                heap_peak_on=_heap_peak(samples, provider, reference),
                heap_peak_off=_heap_peak(samples, provider, variant),
                loop_lag_p99_on=_median(samples, base, "loop_lag_p99_s"),
                loop_lag_p99_off=_median(samples, key, "loop_lag_p99_s"),
                connections_on=_median(samples, base, "connections_opened"),
                connections_off=_median(samples, key, "connections_opened"),
            )
        )
    return _ranked(rows)


def _ranked(rows: list[AblationRow]) -> list[AblationRow]:
    """Single-fix rows by throughput lost (lowest off/on ratio first), per provider and
    concurrency; the all-off rows after them. Rows without a ratio come last, unranked."""
    out: list[AblationRow] = []
    for provider, concurrency in sorted({(r.provider, r.concurrency) for r in rows}):
        mine = [r for r in rows if (r.provider, r.concurrency) == (provider, concurrency)]
        single = [r for r in mine if r.fix != ALL_OFF]
        measured = sorted(
            (r for r in single if r.throughput_ratio is not None),
            key=lambda r: (r.throughput_ratio, r.fix),
        )
        out += [replace(r, rank=i + 1) for i, r in enumerate(measured)]
        out += [r for r in single if r.throughput_ratio is None]
        out += [r for r in mine if r.fix == ALL_OFF]
    return out
