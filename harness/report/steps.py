"""The report's change points: markers on the trend plots and the "Open steps" table.

Pure, and it decides nothing new. The markers are :func:`harness.compare.steps.series_steps`
(the change-point detector, :mod:`harness.analysis.changepoints`) over the very series a
trend plot draws (:func:`harness.report.trends.history_series`), kept to the nights
comparable with this run (its environment fingerprint and scenario definition, as
compare's history checks choose them). The table's confirmed steps are the comparison's
checks of kind ``step`` when the comparison was against history (compare confirmed them);
without such a comparison, and for the steps still pending (compare only notes those), the
same function over the plotted series of the gating metrics says what is open.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.analysis.changepoints import CONFIRM, Point
from harness.compare.steps import Step, series_steps, step_size
from harness.metrics import DEFAULT_GATING_METRICS
from harness.report.format import fmt_metric, is_number
from harness.report.tables import html_table, metric_title
from harness.report.trends import HistoryKey, HistoryPoint, entry_fingerprint

__all__ = ["TABLE_METRICS", "marker_label", "open_steps_table", "trend_steps"]

# The table's metrics: compare's gating metrics that a trend carries.
TABLE_METRICS = DEFAULT_GATING_METRICS

_COLUMNS = ["cell", "metric", "step", "between", "status", "direction"]
_BETWEEN = "history step between "


def _comparable(
    points: Sequence[HistoryPoint], fingerprint: str | None, scenario_hash: str | None
) -> list[Point]:
    return [
        Point(p.run_id, p.commit, p.value)
        for p in points
        if p.fingerprint == fingerprint
        and (scenario_hash is None or p.scenario_hash in (None, scenario_hash))
    ]


def trend_steps(
    series: Mapping[HistoryKey, Sequence[HistoryPoint]], results: Mapping[str, Any]
) -> dict[HistoryKey, list[Step]]:
    """The steps of every trend series (history with this run last), in their states as of
    this run; only the nights comparable with this run enter a series.

    A step confirmed by this very night is ``open`` here, not ``new``: the page marks and
    lists both alike (a gating one is the comparison's ``step`` check), and telling them
    apart would run the detector a second time over every series with a confirmed step."""
    fingerprint = entry_fingerprint(results)
    hashes = {
        str(s.get("name", "")): str(s["hash"]) if s.get("hash") else None
        for s in results.get("scenarios") or ()
    }
    out: dict[HistoryKey, list[Step]] = {}
    for key, points in sorted(series.items()):
        mine = _comparable(points, fingerprint, hashes.get(key[0]))
        if len({p.value for p in mine}) < 2:
            continue  # the same value every night: no step
        steps = series_steps(mine, key[4])
        if steps:
            out[key] = steps
    return out


def _short(commit: str | None) -> str:
    return commit[:7] if commit else "?"


def marker_label(step: Step) -> str:
    """A trend marker's text: ``-20% (a1b2c3d..e4f5a6b)``, the size with ``?`` while the
    step is pending, then the last commit of the old level and the first of the new."""
    located = step.located
    pending = "" if step.confirmed else "?"
    return (
        f"{step_size(step.change_point.change, digits=0)}{pending} "
        f"({_short(located.last_before.commit)}..{_short(located.first_after.commit)})"
    )


def _cell(provider: object, variant: object, concurrency: object) -> str:
    return f"{provider} / {variant} / c={concurrency}"


def _direction(verdict: object) -> str:
    return "regression" if verdict == "regressed" else "improvement"


def _check_row(check: Mapping[str, Any]) -> dict[str, str]:
    metric = str(check.get("metric", ""))
    ratio = check.get("ratio")
    size = step_size(float(ratio) - 1.0) if is_number(ratio) else step_size(math.inf)
    levels = (
        f"{fmt_metric(metric, check.get('median_baseline'))} -> "
        f"{fmt_metric(metric, check.get('median_candidate'))}"
    )
    against = str(check.get("baseline", ""))
    runs = check.get("n_candidate")
    return {
        "cell": _cell(check.get("provider"), check.get("variant"), check.get("concurrency")),
        "metric": metric_title(metric),
        "step": f"{size} ({levels})",
        "between": against.removeprefix(_BETWEEN),
        "status": (
            "confirmed with this run (gates)"
            if check.get("gating")
            else f"confirmed ({runs} runs at the new level)"
        ),
        "direction": _direction(check.get("verdict")),
    }


def _step_row(key: HistoryKey, step: Step) -> dict[str, str]:
    cp = step.change_point
    status = (
        f"pending: {cp.points_after} of {CONFIRM} nights"
        if step.state == "pending"
        else f"confirmed ({cp.points_after} runs at the new level)"
    )
    return {
        "cell": _cell(key[1], key[2], key[3]),
        "metric": metric_title(step.metric),
        "step": f"{step_size(cp.change)} ({step.levels()})",
        "between": step.located.describe().removeprefix("between "),
        "status": status,
        "direction": step.direction,
    }


def open_steps_table(
    scenario: str,
    steps: Mapping[HistoryKey, Sequence[Step]],
    comparison: Mapping[str, Any] | None,
) -> str | None:
    """The open and pending steps of one scenario's gating metrics as an escaped HTML
    table (None when there is none): confirmed ones from the comparison's ``step`` checks
    when it was against history, else from ``steps``; pending ones from ``steps``."""
    from_checks = bool(comparison) and (comparison or {}).get("against") == "history"
    rows: list[tuple[tuple[str, str, int, str, int], dict[str, str]]] = []
    if from_checks:
        for check in (comparison or {}).get("checks") or ():
            if check.get("kind") == "step" and check.get("scenario") == scenario:
                concurrency = check.get("concurrency")
                where = (
                    str(check.get("provider", "")),
                    str(check.get("variant", "")),
                    int(concurrency) if is_number(concurrency) else 0,
                    str(check.get("metric", "")),
                    0,
                )
                rows.append((where, _check_row(check)))
    for key, found in steps.items():
        if key[0] != scenario or key[4] not in TABLE_METRICS:
            continue
        for step in found:
            wanted = ("pending",) if from_checks else ("pending", "new", "open")
            if step.state in wanted:
                order = 1 if step.state == "pending" else 0
                rows.append(((key[1], key[2], key[3], key[4], order), _step_row(key, step)))
    if not rows:
        return None
    rows.sort(key=lambda r: r[0])
    return html_table([row for _, row in rows], _COLUMNS)
