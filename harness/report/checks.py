"""The comparison's checks as HTML tables: the pivot of changes (history, paired and
variant checks, one table per kind), the rule checks (thresholds, data lost, any other kind)
and every check in full.

Verdicts, CIs and p-values are shown as the comparison gave them (``RunComparison.to_dict()``
checks); nothing is recomputed. A ratio reads in the metric's words (``14x faster
(11-16x)``, ``31% less``: :func:`harness.report.format.fmt_relative`), and an inconclusive
check says how many repeats would decide it (:func:`decide_text`, from the analysis
layer's :func:`harness.analysis.stats.repeats_to_decide`). A check of a kind this module
does not know is a rule check. A paired check (head against base, measured in the same
run) on the ratio scale is head/base like any other; on the difference scale (fractions,
integrity errors) the gate stores ``1 + difference``, so it is written back as the
difference (``+0.50 pp``), never as a ratio. Every row carries its cell's ``data-*``
attributes for the page's filters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import escape

from harness.analysis import stats
from harness.analysis.paired import scale_of
from harness.metrics import METRICS
from harness.report.format import (
    NA,
    fmt_change,
    fmt_count,
    fmt_metric,
    fmt_p,
    fmt_relative,
    is_number,
)
from harness.report.tables import VERDICT_CLASSES, Cell, Row, data_table, metric_title
from harness.report.view import ScenarioData

__all__ = ["PIVOT_METRICS", "checks_pivot", "checks_table", "decide_text", "gates_table"]

# Kinds of check shown in the pivot of ratios; every other kind (thresholds, data lost,
# whatever a newer comparison adds) is a rule with a pass/fail and goes to gates_table.
_STATISTICAL_KINDS = ("variant", "history", "paired")
# Kinds with a table of their own elsewhere on the page: steps against history (the
# scenario's "Open steps", harness.report.steps). checks_table still lists them.
_OWN_TABLE_KINDS = ("step",)


# The metrics a reader looks for first, in the order of the pivot's columns (the rest
# are in "all checks"): few enough that a row fits a screen.
PIVOT_METRICS = (
    "throughput_bytes_per_s",
    "wall_s",
    "latency_p50_s",
    "latency_p99_s",
    "success_rate",
    "timeout_rate",
    "connections_opened",
    "rss_peak_bytes",
)
# The pivot's tables, in this order: what gates first.
_PIVOT_GROUPS = (
    ("history", "Against history (gating metrics decide the exit code)"),
    ("paired", "Head against base, paired per round"),
    ("variant", "Each variant against the baseline variant (describes, never gates)"),
)


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


def _cv(scenario: ScenarioData | None, check: Mapping[str, Any]) -> float | None:
    """The larger coefficient of variation across repeats of the check's two cells
    (the candidate's, and the baseline variant's for a variant check)."""
    if scenario is None:
        return None
    metric = str(check.get("metric", ""))
    cells = {(str(check.get("variant", "")), check.get("concurrency"))}
    if check.get("kind") == "variant":
        cells.add((str(check.get("baseline", "")), check.get("concurrency")))
    cvs = [
        cv
        for g in scenario.groups
        if g.provider == check.get("provider")
        and (g.variant, g.concurrency) in cells
        and (cv := g.cv(metric)) is not None
    ]
    return max(cvs) if cvs else None


def decide_text(check: Mapping[str, Any], scenario: ScenarioData | None = None) -> str:
    """What would make an inconclusive check decide, from the analysis layer's sample
    size (:func:`harness.analysis.stats.repeats_to_decide`, this cell's noise and the
    check's minimum effect): ``4 repeats a side decide ±5%``. Empty when it is decided."""
    if check.get("verdict") != "inconclusive":
        return ""
    if check.get("kind") == "paired":
        return "more pairs (--max-pairs) decide it"
    metric = str(check.get("metric", ""))
    row = METRICS.get(metric)
    effect = check.get("min_effect")
    effect = float(effect) if is_number(effect) and effect > 0 else (row.min_effect if row else 0)
    if not effect:
        return ""
    ratio = check.get("ratio")
    n = stats.repeats_to_decide(
        _cv(scenario, check), effect, float(ratio) if is_number(ratio) else None
    )
    if n is None:
        return f"too noisy: over 100 repeats a side to decide ±{effect:.0%}"
    have = min(
        (int(x) for x in (check.get("n_baseline"), check.get("n_candidate")) if is_number(x)),
        default=0,
    )
    if n <= have:
        return f"{n} repeats a side should decide ±{effect:.0%}: rerun on a quieter machine"
    return f"{n} repeats a side decide ±{effect:.0%}"


def _pivot_cell(check: Mapping[str, Any], scenario: ScenarioData | None) -> Cell:
    metric, verdict = str(check.get("metric", "")), str(check.get("verdict", ""))
    ratio, low, high = check.get("ratio"), check.get("ci_low"), check.get("ci_high")
    if _difference(check):
        full = _difference_text(check) if ratio is not None else NA
        short = _difference_text(check, ci=False) if ratio is not None else NA
    else:
        full = fmt_relative(metric, ratio, low, high)
        short = fmt_relative(metric, ratio)
    note = verdict + (" (gates)" if check.get("gating") else "")
    advice = decide_text(check, scenario)
    return Cell(
        # an unchanged cell needs no interval to read: its CI lies inside the minimum
        # effect (the hover text has it)
        short if verdict == "unchanged" else full,
        cls=f"verdict {VERDICT_CLASSES.get(verdict, 'neutral')}",
        note=f"{note}: {advice}" if advice else note,
        title=f"{full}: {check.get('reason') or verdict}",
    )


def checks_pivot(
    checks: Sequence[Mapping[str, Any]], scenario: ScenarioData | None = None
) -> str | None:
    """Variant, history and paired checks, one table per kind (history first), one row
    per cell (provider, variant, concurrency) and one column per key metric: the change
    in words (``14x faster (11-16x)``, ``31% less``) over its verdict, and for an
    inconclusive one what would decide it; a paired check on the difference scale as
    the difference (``+0.50 pp``)."""
    out = []
    for kind, title in _PIVOT_GROUPS:
        rows: dict[tuple[str, str, str, str], dict[str, Cell]] = {}
        metrics_seen: set[str] = set()
        for c in checks:
            metric = str(c.get("metric", ""))
            if c.get("kind") != kind or metric not in PIVOT_METRICS:
                continue
            key = (
                str(c.get("provider", "")),
                str(c.get("variant", "")),
                _concurrency(c),
                str(c.get("baseline", "")),
            )
            # a gating and a non-gating check of one metric share a row: keep the first
            rows.setdefault(key, {}).setdefault(metric, _pivot_cell(c, scenario))
            metrics_seen.add(metric)
        if not rows:
            continue
        columns = [m for m in PIVOT_METRICS if m in metrics_seen]
        several = len({k[3] for k in rows}) > 1
        table = [
            Row(
                {
                    "provider": provider,
                    "variant": variant,
                    "c": concurrency,
                    **({"against": against} if several else {}),
                    **{metric_title(m): cells.get(m, Cell(NA)) for m in columns},
                },
                scenario=None if scenario is None else scenario.name,
                provider=provider,
                variant=variant,
            )
            for (provider, variant, concurrency, against), cells in rows.items()
        ]
        againsts = sorted({k[3] for k in rows})
        heading = title + ("" if several else f": against {againsts[0]}")
        head = ["provider", "variant", "c", *(["against"] if several else [])]
        out.append(
            f'<p class="table-title">{escape(heading)}</p>'
            + data_table(
                table,
                [*head, *(metric_title(m) for m in columns)],
                caption=None if scenario is None else f"scenario {scenario.name}, one row per cell",
            )
        )
    return "\n".join(out) if out else None


def _part(check: Mapping[str, Any], key: str) -> str | None:
    """A part of a check's cell for the filters' attributes: an empty one (a
    scenario-wide check) is not filtered on that axis."""
    value = check.get(key)
    return str(value) if value else None


def _check_row(check: Mapping[str, Any], cells: Mapping[str, str | Cell]) -> Row:
    return Row(
        cells,
        scenario=_part(check, "scenario"),
        provider=_part(check, "provider"),
        variant=_part(check, "variant"),
    )


def gates_table(checks: Sequence[Mapping[str, Any]]) -> str | None:
    """The rule checks: thresholds, data lost and any other kind but variant, history,
    paired and step (the "Open steps" table): the rule, what was measured, the verdict and
    why."""
    rows = [
        _check_row(
            c,
            {
                "kind": _kind(c),
                "provider": str(c.get("provider", "")),
                "variant": str(c.get("variant", "")),
                "c": _concurrency(c),
                "rule": str(c.get("baseline", "")),
                "measured": fmt_metric(str(c.get("metric", "")), c.get("median_candidate")),
                "verdict": str(c.get("verdict", "")),
                "reason": str(c.get("reason") or ""),
            },
        )
        for c in checks
        if c.get("kind") not in (*_STATISTICAL_KINDS, *_OWN_TABLE_KINDS)
    ]
    columns = ["kind", "provider", "variant", "c", "rule", "measured", "verdict", "reason"]
    return data_table(rows, columns) if rows else None


def checks_table(checks: Sequence[Mapping[str, Any]], scenario: ScenarioData | None = None) -> str:
    """The comparison's checks, one row per check: the medians, the change in words with
    its CI (a paired check on the difference scale: the difference head - base and its
    CI), p, the samples, the verdict, what would decide an inconclusive one, and the
    reason."""
    rows = []
    for c in checks:
        low, high = c.get("ci_low"), c.get("ci_high")
        metric = str(c.get("metric", ""))
        base, cand = c.get("median_baseline"), c.get("median_candidate")
        difference = _difference(c)
        rows.append(
            _check_row(
                c,
                {
                    "kind": _kind(c),
                    "provider": str(c.get("provider", "")),
                    "variant": str(c.get("variant", "")),
                    "c": _concurrency(c),
                    "metric": metric_title(metric),
                    "against": str(c.get("baseline", "")),
                    "median base → cand": (
                        f"{fmt_metric(metric, base)} → {fmt_metric(metric, cand)}"
                        if base is not None or cand is not None
                        else NA
                    ),
                    # in words with its interval (95%; head against base: 1 - alpha); a
                    # paired rate as its difference in points
                    "change [CI]": (
                        (_difference_text(c) if c.get("ratio") is not None else NA)
                        if difference
                        else fmt_relative(metric, c.get("ratio"), low, high)
                    ),
                    "p": fmt_p(c.get("p_value")),
                    "n (base/cand)": (
                        f"{fmt_count(c.get('n_baseline'))}/{fmt_count(c.get('n_candidate'))}"
                    ),
                    "verdict": str(c.get("verdict", "")),
                    "to decide": decide_text(c, scenario) or "",
                    "reason": str(c.get("reason") or ""),
                },
            )
        )
    columns = [
        "kind",
        "provider",
        "variant",
        "c",
        "metric",
        "against",
        "median base → cand",
        "change [CI]",
        "p",
        "n (base/cand)",
        "verdict",
        "to decide",
        "reason",
    ]
    return data_table(
        rows,
        columns,
        caption=None if scenario is None else f"scenario {scenario.name}, one row per check",
    )
