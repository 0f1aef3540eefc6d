"""The report's tables, built as pandas DataFrames and rendered with escaping on.

Cells are formatted to text first (units included), so the HTML never depends on pandas'
float formatting, and every string from a scenario file goes through ``to_html(escape=True)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from harness.report.data import ClaimRow, Group, ScenarioData
from harness.report.format import (
    NA,
    fmt_bytes,
    fmt_count,
    fmt_fraction,
    fmt_number,
    fmt_p,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    is_number,
)

__all__ = [
    "PIVOT_METRICS",
    "VERDICT_CLASSES",
    "checks_pivot",
    "checks_table",
    "claims_table",
    "environment_table",
    "faults_table",
    "loop_lag_table",
    "measured_table",
    "packages_table",
    "thresholds_table",
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


def _html(rows: Sequence[Mapping[str, str]], columns: Sequence[str]) -> str:
    frame = pd.DataFrame(list(rows), columns=list(columns))
    html = frame.to_html(index=False, escape=True, border=0, classes="data", na_rep=NA)
    # pandas has escaped every cell; verdict words are our own vocabulary, safe to tag
    return _VERDICT_CELL.sub(
        lambda m: f'<td class="verdict {VERDICT_CLASSES[m.group(1)]}">{m.group(1)}</td>', html
    )


def _median_range(group: Group, metric: str, fmt: Callable[[object], str]) -> str:
    median, spread = group.median(metric), group.spread(metric)
    if median is None or spread is None:
        return NA
    if len(group.values(metric)) < 2:
        return fmt(median)
    return f"{fmt(median)} [{fmt(spread[0])} – {fmt(spread[1])}]"


def measured_table(scenario: ScenarioData) -> str:
    """Per group: medians over repeats (with min – max for the headline metrics)."""
    order = {v: i for i, v in enumerate(scenario.variants)}
    providers = {p: i for i, p in enumerate(scenario.providers)}
    groups = sorted(
        scenario.groups, key=lambda g: (providers[g.provider], order[g.variant], g.concurrency)
    )
    rows = [
        {
            "provider": g.provider,
            "variant": g.variant,
            "concurrency": str(g.concurrency),
            "repeats": str(len(g.trials)),
            "wall [min – max]": _median_range(g, "wall_s", fmt_seconds),
            "throughput [min – max]": _median_range(g, "throughput_bytes_per_s", fmt_rate),
            "files/s": fmt_number(g.median("files_per_s")),
            "p50": fmt_seconds(g.median("latency_p50_s")),
            "p90": fmt_seconds(g.median("latency_p90_s")),
            "p99": fmt_seconds(g.median("latency_p99_s")),
            "max": fmt_seconds(g.median("latency_max_s")),
            "success": fmt_fraction(g.median("success_rate")),
            "RSS peak": fmt_bytes(g.median("rss_peak_bytes")),
            "CPU user+sys": fmt_seconds(
                None
                if g.median("cpu_user_s") is None
                else (g.median("cpu_user_s") or 0) + (g.median("cpu_sys_s") or 0)
            ),
        }
        for g in groups
    ]
    return _html(rows, list(rows[0]) if rows else ["variant"])


_METRIC_FORMAT: dict[str, Callable[[object], str]] = {
    "throughput_bytes_per_s": fmt_rate,
    "rss_peak_bytes": fmt_bytes,
    "heap_peak_bytes": fmt_bytes,
    "success_rate": fmt_fraction,
    "timeout_rate": fmt_fraction,
    "error_rate": fmt_fraction,
    "loop_blocked_fraction": fmt_fraction,
}


def _fmt_metric(metric: str, value: object) -> str:
    if metric in _METRIC_FORMAT:
        return _METRIC_FORMAT[metric](value)
    if metric.endswith("_s"):
        return fmt_seconds(value)
    return fmt_number(value)


# The metrics a reader looks for first, in the order of the pivot's columns.
PIVOT_METRICS = (
    "throughput_bytes_per_s",
    "wall_s",
    "latency_p50_s",
    "latency_p99_s",
    "success_rate",
    "timeout_rate",
    "connections_opened",
    "rss_peak_bytes",
    "loop_lag_p99_s",
)
_PIVOT_TITLES = {
    "throughput_bytes_per_s": "throughput",
    "wall_s": "wall time",
    "latency_p50_s": "latency p50",
    "latency_p99_s": "latency p99",
    "success_rate": "success",
    "timeout_rate": "timeouts",
    "connections_opened": "connections",
    "rss_peak_bytes": "RSS peak",
    "loop_lag_p99_s": "loop lag p99",
}
_VERDICT_SUFFIX = re.compile(r"<td>([^<]*?) (regressed|improved|unchanged|inconclusive)</td>")


def checks_pivot(checks: Sequence[Mapping[str, Any]]) -> str | None:
    """Variant and history checks as one row per (kind, provider, variant, concurrency)
    and one column per key metric: ``ratio [CI] verdict`` (benchstat's compact form)."""
    rows: dict[tuple[str, str, str, str, str], dict[str, str]] = {}
    metrics_seen: set[str] = set()
    for c in checks:
        metric = str(c.get("metric", ""))
        if c.get("kind") == "threshold" or metric not in PIVOT_METRICS:
            continue
        concurrency = c.get("concurrency")
        key = (
            str(c.get("kind", "")) + (" (gates)" if c.get("gating") else ""),
            str(c.get("provider", "")),
            str(c.get("variant", "")),
            NA if concurrency is None else str(concurrency),
            str(c.get("baseline", "")),
        )
        ratio, low, high = c.get("ratio"), c.get("ci_low"), c.get("ci_high")
        base, cand = c.get("median_baseline"), c.get("median_candidate")
        if ratio is None and is_number(base) and is_number(cand) and base > 0:
            ratio = cand / base  # too few samples for a verdict, not for a description
        text = fmt_ratio(ratio) if ratio is not None else ""
        if low is not None and high is not None:
            text += f" [{fmt_ratio(low)} – {fmt_ratio(high)}]"
        verdict = str(c.get("verdict", ""))
        row = rows.setdefault(key, {})
        # a gating and a non-gating check of one metric share a row: keep the first
        row.setdefault(metric, f"{text} {verdict}".strip() if text else f"- {verdict}")
        metrics_seen.add(metric)
    if not rows:
        return None
    columns = [m for m in PIVOT_METRICS if m in metrics_seen]
    titles = [_PIVOT_TITLES[m] for m in columns]
    table = [
        {
            "kind": kind,
            "provider": provider,
            "variant": variant,
            "concurrency": concurrency,
            "against": against,
            **{_PIVOT_TITLES[m]: cells.get(m, NA) for m in columns},
        }
        for (kind, provider, variant, concurrency, against), cells in rows.items()
    ]
    html = _html(table, ["kind", "provider", "variant", "concurrency", "against", *titles])
    # the ratio text before the verdict is pandas-escaped (no "<"), so this tagging is safe
    return _VERDICT_SUFFIX.sub(
        lambda m: (
            f'<td class="verdict {VERDICT_CLASSES[m.group(2)]}">{m.group(1)} {m.group(2)}</td>'
        ),
        html,
    )


def thresholds_table(checks: Sequence[Mapping[str, Any]]) -> str | None:
    """The scenario's thresholds: the rule, what was measured, pass or fail."""
    rows = []
    for c in checks:
        if c.get("kind") != "threshold":
            continue
        concurrency = c.get("concurrency")
        rows.append(
            {
                "provider": str(c.get("provider", "")),
                "variant": str(c.get("variant", "")),
                "concurrency": NA if concurrency is None else str(concurrency),
                "rule": str(c.get("baseline", "")),
                "measured": _fmt_metric(str(c.get("metric", "")), c.get("median_candidate")),
                "verdict": str(c.get("verdict", "")),
                "reason": str(c.get("reason") or ""),
            }
        )
    return _html(rows, list(rows[0])) if rows else None


def checks_table(checks: Sequence[Mapping[str, Any]]) -> str:
    """The comparison's checks: ratio candidate/baseline with its CI and the verdict."""
    rows = []
    for c in checks:
        low, high = c.get("ci_low"), c.get("ci_high")
        ci = f"[{fmt_ratio(low)}, {fmt_ratio(high)}]" if low is not None else NA
        n_base, n_cand = fmt_count(c.get("n_baseline")), fmt_count(c.get("n_candidate"))
        metric = str(c.get("metric", ""))
        base, cand = c.get("median_baseline"), c.get("median_candidate")
        values = (
            f"{_fmt_metric(metric, base)} → {_fmt_metric(metric, cand)}"
            if base is not None or cand is not None
            else NA
        )
        concurrency = c.get("concurrency")
        rows.append(
            {
                "kind": str(c.get("kind", "")) + (" (gates)" if c.get("gating") else ""),
                "provider": str(c.get("provider", "")),
                "variant": str(c.get("variant", "")),
                "concurrency": NA if concurrency is None else str(concurrency),
                "metric": metric,
                "against": str(c.get("baseline", "")),
                "median base → cand": values,
                "ratio": fmt_ratio(c.get("ratio")),
                "95% CI of ratio": ci,
                "p": fmt_p(c.get("p_value")),
                "n (base/cand)": f"{n_base}/{n_cand}",
                "verdict": str(c.get("verdict", "")),
                "reason": str(c.get("reason") or ""),
            }
        )
    return _html(rows, list(rows[0]) if rows else ["verdict"])


def loop_lag_table(scenario: ScenarioData) -> str | None:
    """Event-loop lag per group; sync variants have no loop and say so."""
    rows = []
    for g in scenario.groups:
        p99 = g.median("loop_lag_p99_s")
        rows.append(
            {
                "variant": g.variant,
                "concurrency": str(g.concurrency),
                "lag p99": fmt_seconds(p99) if p99 is not None else "n/a (no event loop)",
                "lag max": fmt_seconds(g.median("loop_lag_max_s")),
                "time blocked": fmt_fraction(g.median("loop_blocked_fraction")),
            }
        )
    return _html(rows, list(rows[0])) if rows else None


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name}×{n}" for name, n in counts.items()) or "none"


def faults_table(scenario: ScenarioData) -> str | None:
    """Errors, timeouts and retries next to the faults the mock says it applied."""
    rows = []
    for g in scenario.groups:
        rows.append(
            {
                "variant": g.variant,
                "concurrency": str(g.concurrency),
                "faults applied (all repeats)": _counts(g.faults_applied()),
                "mock requests": fmt_count(g.mock_requests()),
                "statuses": _counts(g.statuses()),
                "timeout rate": fmt_fraction(g.median("timeout_rate")),
                "error rate": fmt_fraction(g.median("error_rate")),
                "retries (all repeats)": fmt_count(g.total("retries")),
                "integrity errors": fmt_count(g.total("integrity_errors")),
                "connections opened": fmt_count(g.median("connections_opened")),
                "uploads": str(g.uploads()),
            }
        )
    return _html(rows, list(rows[0])) if rows else None


def claims_table(rows: Sequence[ClaimRow]) -> str:
    """The investigation's promises next to this run's measurements."""
    out = [
        {
            "claim": r.claim.title,
            "promised": f"{r.claim.promised_before} → {r.claim.promised_after} "
            f"({r.claim.promised_change})",
            "measured before (sync)": r.before_text or NA,
            "measured after (async)": r.after_text or NA,
            "improvement measured": r.change_text or NA,
            "verdict": r.verdict,
            "scenario": r.scenario or NA,
            "how measured": r.note
            + (" (matched by scenario name)" if r.matched_by == "scenario name" else ""),
        }
        for r in rows
    ]
    return _html(out, list(out[0]))


def environment_table(env: Mapping[str, Any]) -> str:
    """The environment block, packages excluded (see :func:`packages_table`)."""
    fmt: dict[str, Callable[[object], str]] = {"memory_bytes": fmt_bytes}
    rows = [
        {"key": str(k), "value": fmt[k](v) if k in fmt else ("n/a" if v is None else str(v))}
        for k, v in sorted(env.items())
        if k != "packages"
    ]
    return _html(rows, ["key", "value"])


def packages_table(env: Mapping[str, Any]) -> str | None:
    packages = env.get("packages")
    if not isinstance(packages, Mapping) or not packages:
        return None
    rows = [{"package": str(k), "version": str(v)} for k, v in sorted(packages.items())]
    return _html(rows, ["package", "version"])
