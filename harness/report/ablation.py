"""The ablation ranking: what switching off each of the reference's five fixes costs.

Pure: a :class:`~harness.report.data.ScenarioData` in, rows or an HTML table out. A
scenario is an ablation when it ran the reference with every fix on and at least one
variant with exactly one fix off (``async[streaming=off]``); a variant with every fix off
is shown last, unranked. Each row compares medians of repeats with the all-on variant at
the same provider and concurrency; the profiled heap peak is the median of the profiled
trials. Fixes are ranked by the throughput the reference loses without them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from harness.report.data import Group, ScenarioData
from harness.report.format import NA, fmt_bytes, fmt_count, fmt_ratio, fmt_seconds
from uploader.api import Fixes
from uploader.variants import VariantSpec, parse_variant

__all__ = ["AblationRow", "ablation_rows", "ablation_table"]

ALL_OFF = "all five off"


@dataclass(frozen=True)
class AblationRow:
    """One fix switched off (``fix`` is the switch's name, or :data:`ALL_OFF`) against the
    all-on reference. Ratios are off / on: a throughput ratio of 0.25 means the fix makes
    the reference 4x faster; ``rank`` is 1 for the fix whose loss costs most throughput."""

    fix: str
    variant: str
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


def _spec(variant: str) -> VariantSpec | None:
    try:
        spec = parse_variant(variant)
    except ValueError:
        return None
    return spec if spec.kind == "builtin" and spec.name == "async" else None


def _fixes_off(spec: VariantSpec) -> list[str]:
    return [name for name in Fixes.names() if not getattr(spec.fixes, name)]


def _ratio(off: float | None, on: float | None) -> float | None:
    return off / on if off is not None and on is not None and on > 0 else None


def ablation_rows(scenario: ScenarioData) -> list[AblationRow]:
    """The ranked rows, one per fix switched off alone, then all off; empty when the
    scenario is no ablation."""
    specs = {v: s for v in scenario.variants if (s := _spec(v)) is not None}
    on_variants = [v for v, s in specs.items() if not _fixes_off(s)]
    if not on_variants:
        return []
    # "async" leaves the switches to Settings.fixes, which is all on unless a scenario's
    # settings say otherwise (the scenario format has no fixes setting), so it is all on.
    on_variant = "async" if "async" in on_variants else on_variants[0]
    rows: list[AblationRow] = []
    for group in scenario.groups:
        spec = specs.get(group.variant)
        if spec is None:
            continue
        off = _fixes_off(spec)
        if not off or (1 < len(off) < len(Fixes.names())):
            continue
        base = _matching(scenario.groups, on_variant, group)
        if base is None:
            continue
        rows.append(
            AblationRow(
                fix=off[0] if len(off) == 1 else ALL_OFF,
                variant=group.variant,
                provider=group.provider,
                concurrency=group.concurrency,
                throughput_ratio=_ratio(
                    group.median("throughput_bytes_per_s"), base.median("throughput_bytes_per_s")
                ),
                latency_p50_ratio=_ratio(
                    group.median("latency_p50_s"), base.median("latency_p50_s")
                ),
                heap_peak_on=scenario.profiled_peak(on_variant, group.provider),
                heap_peak_off=scenario.profiled_peak(group.variant, group.provider),
                loop_lag_p99_on=base.median("loop_lag_p99_s"),
                loop_lag_p99_off=group.median("loop_lag_p99_s"),
                connections_on=base.median("connections_opened"),
                connections_off=group.median("connections_opened"),
            )
        )
    return _ranked(rows)


def _matching(groups: Sequence[Group], variant: str, like: Group) -> Group | None:
    for group in groups:
        if (
            group.variant == variant
            and group.provider == like.provider
            and group.concurrency == like.concurrency
        ):
            return group
    return None


def _ranked(rows: list[AblationRow]) -> list[AblationRow]:
    """Single-fix rows by throughput lost (lowest off/on ratio first), per provider and
    concurrency; the all-off rows after them. Rows without a ratio come last, unranked."""
    out: list[AblationRow] = []
    keys = sorted({(r.provider, r.concurrency) for r in rows})
    for provider, concurrency in keys:
        mine = [r for r in rows if (r.provider, r.concurrency) == (provider, concurrency)]
        single = [r for r in mine if r.fix != ALL_OFF]
        measured = sorted(
            (r for r in single if r.throughput_ratio is not None),
            key=lambda r: (r.throughput_ratio, r.fix),
        )
        out += [_with_rank(r, i + 1) for i, r in enumerate(measured)]
        out += [r for r in single if r.throughput_ratio is None]
        out += [r for r in mine if r.fix == ALL_OFF]
    return out


def _with_rank(row: AblationRow, rank: int) -> AblationRow:
    return AblationRow(**{**row.__dict__, "rank": rank})


def _gain(ratio: float | None) -> str:
    """The fix's gain: on / off, so 4x means the fix makes the reference 4x faster."""
    if ratio is None or ratio <= 0:
        return NA
    return fmt_ratio(1 / ratio)


def _pair(on: float | None, off: float | None, fmt: Callable[[object], str]) -> str:
    return f"{fmt(on)} → {fmt(off)}"


def ablation_table(scenario: ScenarioData) -> str | None:
    """The ranked table as HTML (pandas escapes every cell), or None for no ablation."""
    rows = ablation_rows(scenario)
    if not rows:
        return None
    several = len({(r.provider, r.concurrency) for r in rows}) > 1
    table = [
        {
            "rank": str(r.rank) if r.rank is not None else "",
            "fix switched off": r.fix,
            **({"provider, c": f"{r.provider}, c={r.concurrency}"} if several else {}),
            "throughput gain of the fix (on / off)": _gain(r.throughput_ratio),
            "latency p50 off / on": fmt_ratio(r.latency_p50_ratio),
            "heap peak on → off": _pair(r.heap_peak_on, r.heap_peak_off, fmt_bytes),
            "loop lag p99 on → off": _pair(r.loop_lag_p99_on, r.loop_lag_p99_off, fmt_seconds),
            "connections on → off": _pair(r.connections_on, r.connections_off, fmt_count),
        }
        for r in rows
    ]
    frame = pd.DataFrame(table, columns=list(table[0]))
    html: str = frame.to_html(index=False, escape=True, border=0, classes="data", na_rep=NA)
    return html
