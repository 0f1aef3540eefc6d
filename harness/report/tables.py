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
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from markupsafe import escape

from harness.analysis.ablation import AblationRow
from harness.analysis.claims import ClaimRow
from harness.metrics import METRICS
from harness.report.format import (
    NA,
    ColumnUnit,
    column_unit,
    fmt_count,
    fmt_kind,
    fmt_metric,
    fmt_ratio,
)
from harness.report.view import Group, ScenarioData

__all__ = [
    "VERDICT_CLASSES",
    "Cell",
    "Row",
    "ablation_table",
    "claims_table",
    "data_table",
    "environment_table",
    "faults_table",
    "html_table",
    "integrity_text",
    "loop_lag_table",
    "measured_table",
    "metric_title",
    "packages_table",
    "row_attributes",
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


@dataclass(frozen=True)
class Cell:
    """A table cell with a class (``verdict bad``...) and an optional second line."""

    text: str
    cls: str = ""
    note: str = ""
    title: str = ""


@dataclass(frozen=True)
class Row:
    """A table row and the cell it describes: the page's filters hide a row whose
    scenario, provider or variant is not chosen (``data-*`` attributes; None: not
    filtered on that axis)."""

    cells: Mapping[str, str | Cell]
    scenario: str | None = None
    provider: str | None = None
    variant: str | None = None
    attrs: Mapping[str, str] = field(default_factory=dict)


def row_attributes(
    scenario: str | None = None, provider: str | None = None, variant: str | None = None
) -> str:
    """`` data-scenario="..." data-provider="..."``, escaped: what the filters read."""
    parts = [
        f' data-{name}="{escape(value)}"'
        for name, value in (("scenario", scenario), ("provider", provider), ("variant", variant))
        if value is not None
    ]
    return "".join(parts)


def _td(value: str | Cell) -> str:
    if isinstance(value, str):
        cls = VERDICT_CLASSES.get(value)
        return (
            f'<td class="verdict {cls}">{escape(value)}</td>'
            if cls
            else f"<td>{escape(value)}</td>"
        )
    attrs = (f' class="{escape(value.cls)}"' if value.cls else "") + (
        f' title="{escape(value.title)}"' if value.title else ""
    )
    note = f'<br><span class="cell-note">{escape(value.note)}</span>' if value.note else ""
    return f"<td{attrs}>{escape(value.text)}{note}</td>"


def data_table(
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    caption: str | None = None,
    table_id: str | None = None,
) -> str:
    """Rows as an escaped HTML table whose ``<tr>`` carry their cell's ``data-*``
    attributes (the filters'); verdict words get their class as in :func:`html_table`."""
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        extra = "".join(f' {escape(k)}="{escape(v)}"' for k, v in row.attrs.items())
        cells = "".join(_td(row.cells.get(c, NA)) for c in columns)
        body.append(
            f"<tr{row_attributes(row.scenario, row.provider, row.variant)}{extra}>{cells}</tr>"
        )
    ident = f' id="{escape(table_id)}"' if table_id else ""
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="data"{ident}>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>\n" + "\n".join(body) + "\n</tbody></table>"
    )


def _cell(scenario: ScenarioData, group: Group) -> dict[str, str | Cell]:
    """The columns that name a row's cell: provider (always: a scenario may name several,
    and a row must say which), variant and concurrency."""
    return {"provider": group.provider, "variant": group.variant, "c": str(group.concurrency)}


def _row(scenario: ScenarioData, group: Group, cells: Mapping[str, str | Cell]) -> Row:
    return Row(
        {**_cell(scenario, group), **cells},
        scenario=scenario.name,
        provider=group.provider,
        variant=group.variant,
    )


def _unit(scenario: ScenarioData, metric: str) -> ColumnUnit:
    return column_unit(metric, [g.median(m) for g in scenario.groups for m in (metric,)])


def _caption(scenario: ScenarioData, what: str) -> str:
    """The table's caption: which scenario its rows are cells of (``what`` is the
    section's heading already, so it is not repeated)."""
    del what
    return f"scenario {scenario.name}, one row per cell"


def _ordered(scenario: ScenarioData) -> list[Group]:
    order = {v: i for i, v in enumerate(scenario.variants)}
    providers = {p: i for i, p in enumerate(scenario.providers)}
    return sorted(
        scenario.groups,
        key=lambda g: (providers.get(g.provider, len(providers)), order[g.variant], g.concurrency),
    )


def _median_range(group: Group, metric: str, unit: ColumnUnit) -> str:
    median, spread = group.median(metric), group.spread(metric)
    if median is None or spread is None:
        return NA
    if len(group.values(metric)) < 2:
        return unit.format(median)
    return f"{unit.format(median)} [{unit.format(spread[0])} – {unit.format(spread[1])}]"


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


_MEASURED = (
    "files_per_s",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
    "latency_max_s",
    "success_rate",
    "rss_peak_bytes",
)


def measured_table(scenario: ScenarioData) -> str:
    """Per cell: medians over repeats (with min – max for the headline metrics), and the
    files the provider does not hold intact. Each column has one unit (in its title), so
    its numbers compare down the column."""
    units = {m: _unit(scenario, m) for m in ("wall_s", "throughput_bytes_per_s", *_MEASURED)}
    cpu = column_unit(
        "cpu_user_s",
        [(g.median("cpu_user_s") or 0) + (g.median("cpu_sys_s") or 0) for g in scenario.groups],
    )
    ranged = {
        m: units[m].title(metric_title(m)) + " median [min – max]"
        for m in ("wall_s", "throughput_bytes_per_s")
    }
    titles = {m: units[m].title(metric_title(m)) for m in _MEASURED}
    rows = []
    for g in _ordered(scenario):
        cpu_user, cpu_sys = g.median("cpu_user_s"), g.median("cpu_sys_s")
        cells: dict[str, str | Cell] = {
            "repeats": str(len(g.trials)),
            **{ranged[m]: _median_range(g, m, units[m]) for m in ranged},
            **{titles[m]: units[m].format(g.median(m)) for m in _MEASURED},
            cpu.title("CPU user+sys"): cpu.format(
                None if cpu_user is None else cpu_user + (cpu_sys or 0)
            ),
            "integrity (all repeats)": integrity_text(g),
        }
        rows.append(_row(scenario, g, cells))
    columns = [
        "provider",
        "variant",
        "c",
        "repeats",
        *ranged.values(),
        *titles.values(),
        cpu.title("CPU user+sys"),
        "integrity (all repeats)",
    ]
    return data_table(rows, columns, caption=_caption(scenario, "Medians of repeats"))


def variants_table(scenario: ScenarioData) -> str | None:
    """Variant names and the specs they stand for, when any name differs from its spec."""
    rows = [{"variant": v, "spec": scenario.spec_of(v)} for v in scenario.variants]
    if all(r["variant"] == r["spec"] for r in rows):
        return None
    return html_table(rows, ["variant", "spec"])


def loop_lag_table(scenario: ScenarioData) -> str | None:
    """Event-loop lag per cell (provider, variant, concurrency); sync variants have no
    loop and say so."""
    lag = [m for m in ("loop_lag_p99_s", "loop_lag_max_s")]
    units = {m: _unit(scenario, m) for m in (*lag, "loop_blocked_fraction")}
    titles = {m: units[m].title(metric_title(m)) for m in units}
    rows = []
    for g in _ordered(scenario):
        p99 = g.median("loop_lag_p99_s")
        cells: dict[str, str | Cell] = {
            titles["loop_lag_p99_s"]: (
                units["loop_lag_p99_s"].format(p99) if p99 is not None else f"{NA} (no event loop)"
            ),
            **{
                titles[m]: units[m].format(g.median(m))
                for m in ("loop_lag_max_s", "loop_blocked_fraction")
            },
        }
        rows.append(_row(scenario, g, cells))
    if not rows:
        return None
    columns = ["provider", "variant", "c", *titles.values()]
    return data_table(rows, columns, caption=_caption(scenario, "Event-loop lag"))


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name}×{n}" for name, n in counts.items()) or "none"


def faults_table(scenario: ScenarioData) -> str | None:
    """Errors, timeouts, retries and lost files next to the faults the mock applied, per
    cell (provider, variant, concurrency)."""
    rates = {m: _unit(scenario, m) for m in ("timeout_rate", "error_rate")}
    titles = {m: rates[m].title(metric_title(m)) for m in rates}
    rows = [
        _row(
            scenario,
            g,
            {
                "faults applied (all repeats)": _counts(g.faults_applied()),
                "mock requests": fmt_count(g.mock_requests()),
                "statuses": _counts(g.statuses()),
                **{titles[m]: rates[m].format(g.median(m)) for m in rates},
                "retries (all repeats)": fmt_count(g.total("retries")),
                "integrity (all repeats)": integrity_text(g),
                metric_title("connections_opened"): fmt_metric(
                    "connections_opened", g.median("connections_opened")
                ),
                "uploads": str(g.uploads()),
            },
        )
        for g in _ordered(scenario)
    ]
    if not rows:
        return None
    columns = [
        "provider",
        "variant",
        "c",
        "faults applied (all repeats)",
        "mock requests",
        "statuses",
        *titles.values(),
        "retries (all repeats)",
        "integrity (all repeats)",
        metric_title("connections_opened"),
        "uploads",
    ]
    return data_table(rows, columns, caption=_caption(scenario, "Errors, timeouts and retries"))


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


def ablation_table(rows: Sequence[AblationRow], scenario: str | None = None) -> str | None:
    """The ranked ablation rows (:mod:`harness.analysis.ablation`), or None for none; each
    row names its cell (provider, variant, concurrency) and carries it for the page's
    filters."""
    if not rows:
        return None
    cells = [
        {
            "rank": str(r.rank) if r.rank is not None else "",
            "fix switched off": r.fix,
            "provider": r.provider,
            "variant": r.variant,
            "c": str(r.concurrency),
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
    table = [
        Row(c, scenario=scenario, provider=r.provider, variant=r.variant)
        for r, c in zip(rows, cells, strict=True)
    ]
    return data_table(table, list(cells[0]))


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
