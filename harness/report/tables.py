"""The report's tables of what was measured (cells, claims, ablation, environment), built as
pandas DataFrames and rendered with escaping on; :mod:`harness.report.checks` shows the
comparison's checks with the same :func:`html_table`.

Cells are formatted to text first (units included, by the metric table's formatter), so the
HTML never depends on pandas' float formatting, and every string from a scenario file goes
through ``to_html(escape=True)``. Column titles of metrics are the metric table's titles.
Every table with a row per variant names the row's cell: its provider when the scenario
ran several, its variant and concurrency. Verdicts are shown as the comparison gave them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from harness.analysis.ablation import AblationRow
from harness.analysis.claims import ClaimRow
from harness.metrics import METRICS
from harness.report.format import NA, fmt_count, fmt_kind, fmt_metric, fmt_ratio
from harness.report.view import Group, ScenarioData

__all__ = [
    "VERDICT_CLASSES",
    "ablation_table",
    "claims_table",
    "environment_table",
    "faults_table",
    "html_table",
    "integrity_text",
    "loop_lag_table",
    "measured_table",
    "metric_title",
    "packages_table",
    "variants_table",
]

VERDICT_CLASSES = {
    "regressed": "bad",
    "fail": "bad",
    "not met": "bad",
    "improved": "good",
    "pass": "good",
    "met": "good",
    "inconclusive": "warn",
    "not measured": "warn",
    "unchanged": "neutral",
}

_VERDICT_CELL = re.compile(
    r"<td>("
    + "|".join(re.escape(v) for v in sorted(VERDICT_CLASSES, key=len, reverse=True))
    + r")</td>"
)


def metric_title(metric: str) -> str:
    """The metric table's title; a name it does not know as it is."""
    row = METRICS.get(metric)
    return row.title if row is not None else metric


def html_table(rows: Sequence[Mapping[str, str]], columns: Sequence[str]) -> str:
    """Rows of text as an escaped HTML table, verdict words tagged with their class."""
    frame = pd.DataFrame(list(rows), columns=list(columns))
    html = frame.to_html(index=False, escape=True, border=0, classes="data", na_rep=NA)
    # pandas has escaped every cell; verdict words are our own vocabulary, safe to tag
    return _VERDICT_CELL.sub(
        lambda m: f'<td class="verdict {VERDICT_CLASSES[m.group(1)]}">{m.group(1)}</td>', html
    )


def _cell(scenario: ScenarioData, group: Group) -> dict[str, str]:
    """The columns that name a row's cell."""
    out = {"provider": group.provider} if scenario.several_providers else {}
    return {**out, "variant": group.variant, "concurrency": str(group.concurrency)}


def _ordered(scenario: ScenarioData) -> list[Group]:
    order = {v: i for i, v in enumerate(scenario.variants)}
    providers = {p: i for i, p in enumerate(scenario.providers)}
    return sorted(
        scenario.groups,
        key=lambda g: (providers.get(g.provider, len(providers)), order[g.variant], g.concurrency),
    )


def _median_range(group: Group, metric: str) -> str:
    median, spread = group.median(metric), group.spread(metric)
    if median is None or spread is None:
        return NA
    if len(group.values(metric)) < 2:
        return fmt_metric(metric, median)
    low, high = fmt_metric(metric, spread[0]), fmt_metric(metric, spread[1])
    return f"{fmt_metric(metric, median)} [{low} – {high}]"


def integrity_text(group: Group, shown: int = 3) -> str:
    """Files the provider does not hold intact, summed over every repeat: ``intact``, or
    the count and the first names (each once) with their reasons."""
    lost = group.lost_files()
    errors = group.total("integrity_errors")
    count = max(len(lost), int(errors or 0))
    if not count:
        return "intact" if errors is not None or group.trials else NA
    names = ", ".join(f"{f.name} ({f.reason})" if f.reason else f.name for f in lost[:shown])
    more = f" and {len(lost) - shown} more" if len(lost) > shown else ""
    return f"{count} lost" + (f": {names}{more}" if names else "")


def measured_table(scenario: ScenarioData) -> str:
    """Per cell: medians over repeats (with min – max for the headline metrics), and the
    files the provider does not hold intact."""
    rows = []
    for g in _ordered(scenario):
        cpu_user, cpu_sys = g.median("cpu_user_s"), g.median("cpu_sys_s")
        rows.append(
            {
                **_cell(scenario, g),
                "repeats": str(len(g.trials)),
                f"{metric_title('wall_s')} [min – max]": _median_range(g, "wall_s"),
                f"{metric_title('throughput_bytes_per_s')} [min – max]": _median_range(
                    g, "throughput_bytes_per_s"
                ),
                **{
                    metric_title(m): fmt_metric(m, g.median(m))
                    for m in (
                        "files_per_s",
                        "latency_p50_s",
                        "latency_p90_s",
                        "latency_p99_s",
                        "latency_max_s",
                        "success_rate",
                        "rss_peak_bytes",
                    )
                },
                "CPU user+sys": fmt_kind(
                    "time", None if cpu_user is None else cpu_user + (cpu_sys or 0)
                ),
                "integrity (all repeats)": integrity_text(g),
            }
        )
    return html_table(rows, list(rows[0]) if rows else ["variant"])


def variants_table(scenario: ScenarioData) -> str | None:
    """Variant names and the specs they stand for, when any name differs from its spec."""
    rows = [{"variant": v, "spec": scenario.spec_of(v)} for v in scenario.variants]
    if all(r["variant"] == r["spec"] for r in rows):
        return None
    return html_table(rows, ["variant", "spec"])


def loop_lag_table(scenario: ScenarioData) -> str | None:
    """Event-loop lag per cell; sync variants have no loop and say so."""
    rows = []
    for g in _ordered(scenario):
        p99 = g.median("loop_lag_p99_s")
        rows.append(
            {
                **_cell(scenario, g),
                metric_title("loop_lag_p99_s"): (
                    fmt_metric("loop_lag_p99_s", p99)
                    if p99 is not None
                    else f"{NA} (no event loop)"
                ),
                metric_title("loop_lag_max_s"): fmt_metric(
                    "loop_lag_max_s", g.median("loop_lag_max_s")
                ),
                metric_title("loop_blocked_fraction"): fmt_metric(
                    "loop_blocked_fraction", g.median("loop_blocked_fraction")
                ),
            }
        )
    return html_table(rows, list(rows[0])) if rows else None


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name}×{n}" for name, n in counts.items()) or "none"


def faults_table(scenario: ScenarioData) -> str | None:
    """Errors, timeouts, retries and lost files next to the faults the mock applied."""
    rows = [
        {
            **_cell(scenario, g),
            "faults applied (all repeats)": _counts(g.faults_applied()),
            "mock requests": fmt_count(g.mock_requests()),
            "statuses": _counts(g.statuses()),
            metric_title("timeout_rate"): fmt_metric("timeout_rate", g.median("timeout_rate")),
            metric_title("error_rate"): fmt_metric("error_rate", g.median("error_rate")),
            "retries (all repeats)": fmt_count(g.total("retries")),
            "integrity (all repeats)": integrity_text(g),
            metric_title("connections_opened"): fmt_metric(
                "connections_opened", g.median("connections_opened")
            ),
            "uploads": str(g.uploads()),
        }
        for g in _ordered(scenario)
    ]
    return html_table(rows, list(rows[0])) if rows else None


def _claim_value(row: ClaimRow, value: float | None) -> str:
    if row.claim.per_upload:
        return f"{value:.2f} per upload" if value is not None else NA
    return fmt_metric(row.metric, value)


def _claim_change(row: ClaimRow) -> str:
    """The measured change in the claim's own words."""
    b, a = row.before, row.after
    if b is None or a is None:
        return NA
    if row.claim.rule == "reduction" and row.change is not None:
        return f"{abs(row.change) * 100:.0f}% {'lower' if row.change >= 0 else 'higher'}"
    if row.claim.rule == "speedup" and row.change:
        return (
            f"{fmt_ratio(row.change)} faster"
            if row.change >= 1
            else f"{fmt_ratio(1 / row.change)} slower"
        )
    if METRICS[row.claim.metric].kind == "fraction":
        return f"{abs(b - a) * 100:.1f} points {'lower' if a <= b else 'higher'}"
    return f"{fmt_ratio(b / a)} fewer" if a > 0 else NA


def _claim_also(row: ClaimRow) -> str:
    """The counts shown beside the deciding metric, per upload: ``before → after`` each."""
    return "; ".join(
        f"{METRICS[f.metric].title} "
        + " → ".join(f"{v:.2f}" if v is not None else NA for v in (f.before, f.after))
        for f in row.also
    )


def _claim_conditions(row: ClaimRow) -> str:
    """The network and TLS the claim was measured under."""
    return ", ".join(x for x in (row.network, row.tls) if x) or NA


def claims_table(rows: Sequence[ClaimRow]) -> str:
    """The investigation's promises next to this run's measurements, each with the network
    and TLS it was measured under."""
    out = [
        {
            "claim": r.claim.title,
            "promised": f"{r.claim.promised_before} → {r.claim.promised_after} "
            f"({r.claim.promised_change})",
            "met when": r.claim.target_text,
            # the variants' names (a scenario may name the uploaders otherwise) are in "how"
            "measured before": _claim_value(r, r.before),
            "measured after": _claim_value(r, r.after),
            "change measured": _claim_change(r),
            "per upload, before → after": _claim_also(r),
            "verdict": r.verdict,
            "scenario": r.scenario or NA,
            "network, TLS": _claim_conditions(r),
            "how measured": r.how,
        }
        for r in rows
    ]
    return html_table(out, list(out[0]))


def _gain(ratio: float | None) -> str:
    """The fix's gain: on / off, so 4x means the fix makes the reference 4x faster."""
    return fmt_ratio(1 / ratio) if ratio is not None and ratio > 0 else NA


def _pair(metric: str, on: float | None, off: float | None) -> str:
    return f"{fmt_metric(metric, on)} → {fmt_metric(metric, off)}"


def ablation_table(rows: Sequence[AblationRow]) -> str | None:
    """The ranked ablation rows (:mod:`harness.analysis.ablation`), or None for none."""
    if not rows:
        return None
    several = len({(r.provider, r.concurrency) for r in rows}) > 1
    table = [
        {
            "rank": str(r.rank) if r.rank is not None else "",
            "fix switched off": r.fix,
            "variant": r.variant,
            **({"provider, c": f"{r.provider}, c={r.concurrency}"} if several else {}),
            "throughput gain of the fix (on / off)": _gain(r.throughput_ratio),
            "latency p50 off / on": fmt_ratio(r.latency_p50_ratio),
            "heap peak on → off": _pair("heap_peak_bytes", r.heap_peak_on, r.heap_peak_off),
            "loop lag p99 on → off": _pair("loop_lag_p99_s", r.loop_lag_p99_on, r.loop_lag_p99_off),
            "connections on → off": _pair(
                "connections_opened", r.connections_on, r.connections_off
            ),
        }
        for r in rows
    ]
    return html_table(table, list(table[0]))


def environment_table(env: Mapping[str, Any]) -> str:
    """The environment block, packages excluded (see :func:`packages_table`)."""
    rows = [
        {
            "key": str(k),
            "value": fmt_kind("bytes", v) if k == "memory_bytes" else (NA if v is None else str(v)),
        }
        for k, v in sorted(env.items())
        if k != "packages"
    ]
    return html_table(rows, ["key", "value"])


def packages_table(env: Mapping[str, Any]) -> str | None:
    packages = env.get("packages")
    if not isinstance(packages, Mapping) or not packages:
        return None
    rows = [{"package": str(k), "version": str(v)} for k, v in sorted(packages.items())]
    return html_table(rows, ["package", "version"])
