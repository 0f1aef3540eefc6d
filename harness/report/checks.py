"""The comparison's checks as HTML tables: the pivot of ratios (variant, history and paired
checks), the rule checks (thresholds, data lost, any other kind) and every check in full.

Verdicts, CIs and p-values are shown as the comparison gave them (``RunComparison.to_dict()``
checks); nothing is recomputed. A check of a kind this module does not know is a rule check.
A paired check (head against base, measured in the same run) reads ``vs base``: on the
ratio scale its ratio is head/base like any other; on the difference scale (fractions,
integrity errors) the gate stores ``1 + difference``, so it is written back as the
difference (``+0.50 pp``), never as a ratio.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness.analysis.paired import scale_of
from harness.metrics import METRICS
from harness.report.format import NA, fmt_change, fmt_count, fmt_metric, fmt_p, fmt_ratio
from harness.report.tables import VERDICT_CLASSES, html_table, metric_title

__all__ = ["PIVOT_METRICS", "checks_pivot", "checks_table", "gates_table"]

# Kinds of check shown in the pivot of ratios; every other kind (thresholds, data lost,
# whatever a newer comparison adds) is a rule with a pass/fail and goes to gates_table.
_STATISTICAL_KINDS = ("variant", "history", "paired")
# Kinds with a table of their own elsewhere on the page: steps against history (the
# scenario's "Open steps", harness.report.steps). checks_table still lists them.
_OWN_TABLE_KINDS = ("step",)


# The metrics a reader looks for first, in the order of the pivot's columns.
PIVOT_METRICS = (
    "throughput_bytes_per_s",
    "wall_s",
    "latency_p50_s",
    "latency_p99_s",
    "success_rate",
    "timeout_rate",
    "integrity_errors",
    "connections_opened",
    "rss_peak_bytes",
    "loop_lag_p99_s",
)
_VERDICT_SUFFIX = re.compile(r"<td>([^<]*?) (regressed|improved|unchanged|inconclusive)</td>")


def _kind(check: Mapping[str, Any]) -> str:
    # "paired" alone would not say against what: the head is compared with the base
    kind = "vs base" if check.get("kind") == "paired" else str(check.get("kind", ""))
    return kind + (" (gates)" if check.get("gating") else "")


def _difference(check: Mapping[str, Any]) -> bool:
    """A paired check on the difference scale: its ratio and CI are ``1 + difference``."""
    row = METRICS.get(str(check.get("metric", "")))
    return check.get("kind") == "paired" and row is not None and scale_of(row) == "difference"


def _shifted(value: object) -> float | None:
    return None if not isinstance(value, int | float) or isinstance(value, bool) else value - 1.0


def _difference_text(check: Mapping[str, Any], *, ci: bool = True) -> str:
    """A difference-scale paired check's change (and CI) as the difference itself."""
    low, high = _shifted(check.get("ci_low")), _shifted(check.get("ci_high"))
    return fmt_change(
        str(check.get("metric", "")),
        "difference",
        _shifted(check.get("ratio")),
        (low, high) if ci and low is not None and high is not None else None,
    )


def _concurrency(check: Mapping[str, Any]) -> str:
    value = check.get("concurrency")
    return NA if value is None else str(value)


def checks_pivot(checks: Sequence[Mapping[str, Any]]) -> str | None:
    """Variant, history and paired checks as one row per (kind, provider, variant,
    concurrency, against) and one column per key metric: ``ratio [CI] verdict``
    (benchstat's compact form); a paired check on the difference scale as ``difference
    [CI] verdict``."""
    rows: dict[tuple[str, str, str, str, str], dict[str, str]] = {}
    metrics_seen: set[str] = set()
    for c in checks:
        metric = str(c.get("metric", ""))
        if c.get("kind") not in _STATISTICAL_KINDS or metric not in PIVOT_METRICS:
            continue
        key = (
            _kind(c),
            str(c.get("provider", "")),
            str(c.get("variant", "")),
            _concurrency(c),
            str(c.get("baseline", "")),
        )
        ratio, low, high = c.get("ratio"), c.get("ci_low"), c.get("ci_high")
        if _difference(c):
            text = _difference_text(c) if ratio is not None else ""
        else:
            text = fmt_ratio(ratio) if ratio is not None else ""
            if low is not None and high is not None:
                text += f" [{fmt_ratio(low)} – {fmt_ratio(high)}]"
        verdict = str(c.get("verdict", ""))
        # a gating and a non-gating check of one metric share a row: keep the first
        rows.setdefault(key, {}).setdefault(metric, f"{text or NA} {verdict}")
        metrics_seen.add(metric)
    if not rows:
        return None
    columns = [m for m in PIVOT_METRICS if m in metrics_seen]
    table = [
        {
            "kind": kind,
            "provider": provider,
            "variant": variant,
            "concurrency": concurrency,
            "against": against,
            **{metric_title(m): cells.get(m, NA) for m in columns},
        }
        for (kind, provider, variant, concurrency, against), cells in rows.items()
    ]
    titles = [metric_title(m) for m in columns]
    html = html_table(table, ["kind", "provider", "variant", "concurrency", "against", *titles])
    # the ratio text before the verdict is pandas-escaped (no "<"), so this tagging is safe
    return _VERDICT_SUFFIX.sub(
        lambda m: (
            f'<td class="verdict {VERDICT_CLASSES[m.group(2)]}">{m.group(1)} {m.group(2)}</td>'
        ),
        html,
    )


def gates_table(checks: Sequence[Mapping[str, Any]]) -> str | None:
    """The rule checks: thresholds, data lost and any other kind but variant, history,
    paired and step (the "Open steps" table): the rule, what was measured, the verdict and
    why."""
    rows = [
        {
            "kind": _kind(c),
            "provider": str(c.get("provider", "")),
            "variant": str(c.get("variant", "")),
            "concurrency": _concurrency(c),
            "rule": str(c.get("baseline", "")),
            "measured": fmt_metric(str(c.get("metric", "")), c.get("median_candidate")),
            "verdict": str(c.get("verdict", "")),
            "reason": str(c.get("reason") or ""),
        }
        for c in checks
        if c.get("kind") not in (*_STATISTICAL_KINDS, *_OWN_TABLE_KINDS)
    ]
    return html_table(rows, list(rows[0])) if rows else None


def _ci_text(check: Mapping[str, Any], low: object, high: object) -> str:
    if low is None or high is None:
        return NA
    if _difference(check):
        text = _difference_text(check)
        return text[text.index("[") :] if "[" in text else NA
    return f"[{fmt_ratio(low)}, {fmt_ratio(high)}]"


def checks_table(checks: Sequence[Mapping[str, Any]]) -> str:
    """The comparison's checks: ratio candidate/baseline with its CI and the verdict (a
    paired check on the difference scale: the difference head - base and its CI)."""
    rows = []
    for c in checks:
        low, high = c.get("ci_low"), c.get("ci_high")
        metric = str(c.get("metric", ""))
        base, cand = c.get("median_baseline"), c.get("median_candidate")
        rows.append(
            {
                "kind": _kind(c),
                "provider": str(c.get("provider", "")),
                "variant": str(c.get("variant", "")),
                "concurrency": _concurrency(c),
                "metric": metric,
                "against": str(c.get("baseline", "")),
                "median base → cand": (
                    f"{fmt_metric(metric, base)} → {fmt_metric(metric, cand)}"
                    if base is not None or cand is not None
                    else NA
                ),
                "ratio": (
                    _difference_text(c, ci=False) if _difference(c) else fmt_ratio(c.get("ratio"))
                ),
                "CI (95%; vs base: 1 - alpha)": _ci_text(c, low, high),
                "p": fmt_p(c.get("p_value")),
                "n (base/cand)": (
                    f"{fmt_count(c.get('n_baseline'))}/{fmt_count(c.get('n_candidate'))}"
                ),
                "verdict": str(c.get("verdict", "")),
                "reason": str(c.get("reason") or ""),
            }
        )
    return html_table(rows, list(rows[0]) if rows else ["verdict"])
