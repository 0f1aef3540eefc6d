"""Hand-written SVG figures: one trend chart per scenario and metric, and the claims'
before/after bars.

Pure, and it decides nothing. A trend chart draws the nights of
:func:`harness.report.trends.history_series` (every provider and variant, each at its
highest concurrency), and beside them only what others decided: the history check's
noise band and verdict as the comparison carries them (``median_baseline`` and the
``min_effect`` the verdict used, already raised to the run-to-run noise floor by
:func:`harness.compare.model.stat_check`), the change points of
:func:`harness.report.steps.trend_steps`, and the base and head medians of the paired
checks. A claim's bars are :class:`harness.analysis.claims.ClaimRow` values and the line
its claim's own rule draws (:mod:`harness.claims`).

Written by hand rather than with matplotlib: a nightly page has 15-30 trend charts, and
matplotlib costs 60-80 ms per chart in ticks and text layout where these take well under
a millisecond; each point carries its own ``<title>`` (the browser's tooltip: cell, value,
date, commit, run) and each line ``data-trend-provider``/``data-trend-variant`` (not the
page filters' ``data-provider``: those hide an element with the HTML ``hidden`` property,
which SVG elements lack; the filters choose whole charts by ``data-scenario``). Every
string from a scenario file or history record is escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from itertools import pairwise
from typing import Any

from markupsafe import Markup
from matplotlib.ticker import MaxNLocator

from harness.analysis.claims import ClaimRow
from harness.compare.steps import Step
from harness.metrics import METRICS, MetricKind
from harness.report.format import fmt_metric, fmt_ratio, is_number
from harness.report.steps import marker_label
from harness.report.trends import TREND_METRICS, HistoryKey, HistoryPoint

__all__ = [
    "PALETTE",
    "ClaimFigure",
    "TrendChart",
    "TrendFigures",
    "axis_unit",
    "claim_figures",
    "claims_view",
    "trend_figures",
    "trends_view",
]

# matplotlib's default cycle (tab10), so a variant has the colour it has in the other figures
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
# line dashes tell providers apart (colours tell variants apart)
_DASHES = ("", "5,3", "2,2", "7,2,2,2")

_MIB = 1024 * 1024
# An axis's unit and the factor from the metric's base unit, per metric kind.
_AXIS_UNITS: dict[MetricKind, tuple[str, float]] = {
    "time": ("ms", 1e3),
    "bytes": ("MiB", 1 / _MIB),
    "bytes_per_s": ("MiB/s", 1 / _MIB),
    "fraction": ("%", 100.0),
    "per_s": ("/s", 1.0),
    "count": ("count", 1.0),
    "number": ("", 1.0),
}

# a trend chart's size (px) and plot margins
_W, _H = 330, 170
# a line draws a dot per night up to this many nights (beyond, the line alone)
_DOTS_UP_TO = 40
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 10, 22, 26
_FONT = 'font-family="sans-serif"'


def axis_unit(metric: str) -> tuple[str, str, float]:
    """The metric table's title (``(profiled)`` when only profiled trials have it), the
    axis unit and the factor from the metric's base unit."""
    row = METRICS.get(metric)
    if row is None:
        return metric, "", 1.0
    unit, scale = _AXIS_UNITS[row.kind]
    return row.title + (" (profiled)" if row.source == "profiled" else ""), unit, scale


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate: one decimal, no trailing zero (the SVG's bulk is its numbers)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _tick(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def _when(stamp: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _short(commit: str | None) -> str:
    return commit[:7] if commit else "no commit recorded"


@dataclass(frozen=True)
class _Line:
    key: HistoryKey
    points: tuple[HistoryPoint, ...]
    color: str
    dash: str


@dataclass(frozen=True)
class TrendChart:
    """One scenario's metric night by night: the chart's SVG and what it is of."""

    scenario: str
    metric: str
    title: str
    svg: str


@dataclass(frozen=True)
class TrendFigures:
    """A scenario's trend charts, the legend they share (HTML) and one line naming the
    panels left out (empty or constant), None when none was."""

    charts: tuple[TrendChart, ...]
    legend: str
    omitted: str | None


_DAY = 86400
_SHORT_STEPS = (600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, _DAY, 2 * _DAY, 7 * _DAY, 14 * _DAY)


def _date_ticks(lo: float, hi: float, most: int = 5) -> tuple[list[datetime], bool]:
    """Round dates between two timestamps, at most ``most``: first days of months (every
    1, 2, 3, 6 or 12 months) over more than 45 days, else UTC-aligned hours or days; and
    whether they are whole days (labelled by date, else by time)."""
    if hi - lo > 45 * _DAY:
        first = datetime.fromtimestamp(lo, UTC)
        # the first 1st of a month at or after lo, as an index year * 12 + month
        month = (
            first.year * 12
            + first.month
            + (first != datetime(first.year, first.month, 1, tzinfo=UTC))
        )
        for step in (1, 2, 3, 6, 12):
            start = -(-month // step) * step if step > 1 else month
            found = []
            index = start
            while True:
                moment = datetime(
                    index // 12 - (index % 12 == 0), (index - 1) % 12 + 1, 1, tzinfo=UTC
                )
                if moment.timestamp() > hi:
                    break
                found.append(moment)
                index += step
            if len(found) <= most:
                return found, True
        return found[:: -(-len(found) // most)], True
    step = next((s for s in _SHORT_STEPS if (hi - lo) / s <= most), _SHORT_STEPS[-1])
    at = -(-lo // step) * step
    found = []
    while at <= hi:
        found.append(datetime.fromtimestamp(at, UTC))
        at += step
    return found, step >= _DAY


class _XAxis:
    """Nights placed by their ``started_at``; by their order when a stamp does not parse."""

    def __init__(self, runs: Sequence[tuple[str, str]]) -> None:
        moments = {run: _when(started) for started, run in runs}
        self.dated = bool(runs) and all(m is not None for m in moments.values())
        if self.dated:
            self.at = {run: m.timestamp() for run, m in moments.items() if m is not None}
        else:
            self.at = {run: float(i) for i, (_, run) in enumerate(runs)}
        values = list(self.at.values()) or [0.0]
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.03 or (3600.0 if self.dated else 0.5)
        self.lo, self.hi = lo - pad, hi + pad

    def __call__(self, value: float) -> float:
        return _LEFT + (value - self.lo) / (self.hi - self.lo) * (_W - _LEFT - _RIGHT)

    def ticks(self) -> list[tuple[float, str]]:
        if not self.dated:
            found = MaxNLocator(4, integer=True).tick_values(0, self.hi)
            return [(float(v), f"{v:.0f}") for v in found if self.lo <= v <= self.hi]
        try:
            moments, daily = _date_ticks(self.lo, self.hi)
        except (ValueError, OverflowError):  # a stamp near year 1 or 9999: no date ticks
            return []
        out = []
        for index, moment in enumerate(moments):
            if daily:
                label = f"{moment:%b} {moment.day}"
            else:
                label = f"{moment:%H:%M}" if index else f"{moment:%b} {moment.day} {moment:%H:%M}"
            out.append((moment.timestamp(), label))
        return out

    @property
    def label(self) -> str:
        return "night (UTC date it started)" if self.dated else "night (oldest left)"


# lines this many times apart share a log axis: on a linear one the lower would lie flat
_LOG_FROM = 8.0


class _YAxis:
    """Linear from 0, or logarithmic when every value is positive and they span more than
    :data:`_LOG_FROM` times (sync at 20 MiB/s beside async at 300: a 20% step of either
    is then the same height)."""

    def __init__(self, values: Sequence[float]) -> None:
        positive = [v for v in values if v > 0]
        self.log = len(positive) == len(values) > 0 and max(positive) > _LOG_FROM * min(positive)
        if self.log:
            self.lo, self.hi = math.log10(min(positive) / 1.2), math.log10(max(positive) * 1.2)
            ticks = [
                m * 10.0**d
                for d in range(math.floor(self.lo), math.ceil(self.hi) + 1)
                for m in (1, 2, 5)
            ]
            inside = [t for t in ticks if self.lo <= math.log10(t) <= self.hi]
            self.ticks = inside if len(inside) <= 6 else [t for t in inside if f"{t:g}"[0] == "1"]
            return
        top = max([*values, 0.0])
        bottom = min([*values, 0.0])
        if top == bottom:
            top = bottom + 1.0
        found = [
            float(v)
            for v in MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(bottom, top)
        ]
        self.lo = min(bottom, found[0])
        self.hi = max(top, found[-1])
        self.ticks = [t for t in found if self.lo <= t <= self.hi]

    def __call__(self, value: float) -> float:
        at = math.log10(max(value, 10.0**self.lo)) if self.log else value
        return _H - _BOTTOM - (at - self.lo) / (self.hi - self.lo) * (_H - _TOP - _BOTTOM)


def _history_check(
    checks: Sequence[Mapping[str, Any]], key: HistoryKey
) -> Mapping[str, Any] | None:
    """The comparison's history check of a line's cell and metric (what decided tonight)."""
    for check in checks:
        if (
            check.get("kind") == "history"
            and check.get("scenario") == key[0]
            and check.get("provider") == key[1]
            and check.get("variant") == key[2]
            and check.get("concurrency") == key[3]
            and check.get("metric") == key[4]
        ):
            return check
    return None


def _band_start(check: Mapping[str, Any], x: _XAxis) -> float:
    """Where the check's baseline nights begin: the first run it compared with
    (``compared_runs``), or the chart's left edge."""
    compared = check.get("compared_runs")
    first = str(compared[0]) if isinstance(compared, list | tuple) and compared else ""
    return x.at.get(first, x.lo)


def _paired_medians(
    paired: Mapping[str, Any] | None, key: HistoryKey
) -> tuple[float, float, Mapping[str, Any]] | None:
    """Base and head medians of a line's cell and metric from the paired checks (one
    check; a size sweep's several sizes have no one point to mark)."""
    found = [
        c
        for c in (paired or {}).get("checks") or ()
        if isinstance(c, Mapping)
        and c.get("scenario") == key[0]
        and c.get("provider") == key[1]
        and c.get("variant") == key[2]
        and c.get("concurrency") == key[3]
        and c.get("metric") == key[4]
    ]
    if len(found) != 1:
        return None
    base, head = found[0].get("base_median"), found[0].get("head_median")
    if not (is_number(base) and is_number(head)):
        return None
    return float(base), float(head), found[0]


def _revision(paired: Mapping[str, Any] | None, label: str) -> str:
    revision = ((paired or {}).get("revisions") or {}).get(label) or {}
    ref, commit = revision.get("ref"), revision.get("commit")
    return f"{label} ({ref or '?'} @ {_short(str(commit)) if commit else '?'})"


def _lines(
    scenario: str,
    providers: Sequence[str],
    variants: Sequence[str],
    series: Mapping[HistoryKey, Sequence[HistoryPoint]],
    metric: str,
) -> list[_Line]:
    """Per (provider, variant), the series at its highest concurrency with this metric."""
    mine = [k for k in series if k[0] == scenario and k[4] == metric and series[k]]
    provider_order = list(providers) + sorted({k[1] for k in mine} - set(providers))
    variant_order = list(variants) + sorted({k[2] for k in mine} - set(variants))
    lines = []
    for p_index, provider in enumerate(provider_order):
        for v_index, variant in enumerate(variant_order):
            keys = [k for k in mine if k[1] == provider and k[2] == variant]
            if not keys:
                continue
            key = max(keys, key=lambda k: k[3])
            lines.append(
                _Line(
                    key,
                    tuple(series[key]),
                    PALETTE[v_index % len(PALETTE)],
                    _DASHES[p_index % len(_DASHES)],
                )
            )
    return lines


def _constant(line: _Line) -> bool:
    values = [p.value for p in line.points]
    return max(values) - min(values) <= 1e-12 * max(1.0, abs(max(values)))


def trend_figures(
    scenario: str,
    providers: Sequence[str],
    variants: Sequence[str],
    series: Mapping[HistoryKey, Sequence[HistoryPoint]],
    *,
    run_id: str | None,
    checks: Sequence[Mapping[str, Any]] = (),
    steps: Mapping[HistoryKey, Sequence[Step]] | None = None,
    paired: Mapping[str, Any] | None = None,
) -> TrendFigures | None:
    """One chart per metric of :data:`~harness.report.trends.TREND_METRICS` with a trend
    (two nights or more, not the same value every night), every provider and variant in
    it; None when no metric of the scenario has history. ``checks`` are the comparison's
    (its history checks give the band and the regression mark), ``paired`` the
    comparison's ``paired`` part (base and head medians)."""
    charts: list[TrendChart] = []
    constant: list[str] = []
    single: list[str] = []
    legend: dict[tuple[str, str], _Line] = {}
    for metric in TREND_METRICS:
        lines = _lines(scenario, providers, variants, series, metric)
        if not lines:
            continue
        title, unit, _ = axis_unit(metric)
        if all(len(line.points) < 2 for line in lines):
            single.append(title)
            continue
        if all(_constant(line) for line in lines):
            values = ", ".join(
                f"{_cell(line.key, several=len(providers) > 1)} "
                f"{fmt_metric(metric, line.points[-1].value)}"
                for line in lines
            )
            constant.append(f"{title} ({values})")
            continue
        for line in lines:
            legend.setdefault((line.key[1], line.key[2]), line)
        svg = _trend_svg(lines, metric, run_id, checks, steps or {}, paired)
        charts.append(TrendChart(scenario, metric, f"{title} ({unit})" if unit else title, svg))
    if not charts and not constant and not single:
        return None
    omitted = []
    if constant:
        nights = max((len(v) for k, v in series.items() if k[0] == scenario), default=0)
        omitted.append(f"the same value on all {nights} nights: {'; '.join(constant)}")
    if single:
        omitted.append(f"one night only: {', '.join(single)}")
    return TrendFigures(
        tuple(charts),
        _legend(list(legend.values()), several=len({p for p, _ in legend}) > 1),
        "Not drawn (no trend to show): " + "; ".join(omitted) + "." if omitted else None,
    )


def _cell(key: HistoryKey, *, several: bool) -> str:
    return f"{key[1]} / {key[2]}" if several else key[2]


def _legend(lines: Sequence[_Line], *, several: bool) -> str:
    """The lines' styles as HTML, each entry carrying its provider and variant."""
    out = []
    for line in lines:
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        out.append(
            f'<span class="trend-key" data-trend-provider="{_e(line.key[1])}" '
            f'data-trend-variant="{_e(line.key[2])}">'
            f'<svg width="24" height="8" aria-hidden="true"><line x1="0" y1="4" x2="24" y2="4" '
            f'stroke="{line.color}" stroke-width="2"{dash}/></svg> '
            f"{_e(_cell(line.key, several=several))}</span>"
        )
    return " ".join(out)


def _night_title(
    run_id: str, lines: Sequence[_Line], metric: str, tonight: bool, bands: Sequence[str]
) -> str:
    """One night's hover text: when it ran, its commit and run, then each line's value
    that night (and, for this run, each line's noise band)."""
    points = [(line, p) for line in lines for p in line.points if p.run_id == run_id]
    first = points[0][1]
    moment = _when(first.started_at)
    when = (
        f"{moment.year:04d}-{moment:%m-%d %H:%M} UTC" if moment else first.started_at or "no date"
    )
    head = f"{when}, commit {_short(first.commit)}, {'this run' if tonight else 'run'} {run_id}"
    rows = [
        f"{_cell(line.key, several=True)} / c={line.key[3]}: {fmt_metric(metric, p.value)}"
        for line, p in points
    ]
    return "\n".join([head, *rows, *(bands if tonight else ())])


def _trend_svg(
    lines: Sequence[_Line],
    metric: str,
    run_id: str | None,
    checks: Sequence[Mapping[str, Any]],
    steps: Mapping[HistoryKey, Sequence[Step]],
    paired: Mapping[str, Any] | None,
) -> str:
    title, unit, scale = axis_unit(metric)
    runs = sorted({(p.started_at, p.run_id) for line in lines for p in line.points})
    x = _XAxis(runs)
    bands = []
    marks: list[tuple[_Line, float, float, Mapping[str, Any]]] = []
    values = [p.value * scale for line in lines for p in line.points]
    for line in lines:
        check = _history_check(checks, line.key)
        if check is not None:
            median, effect = check.get("median_baseline"), check.get("min_effect")
            if is_number(median) and is_number(effect) and effect > 0:
                bands.append((line, float(median), float(effect), check))
                values += [median * (1 + effect) * scale, median * (1 - effect) * scale]
        medians = _paired_medians(paired, line.key)
        if medians is not None:
            marks.append((line, *medians))
            values += [medians[0] * scale, medians[1] * scale]
    y = _YAxis(values)
    tonight_x = x.at.get(str(run_id)) if run_id is not None else None
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="{_e(title)} night by night" {_FONT} '
        'font-size="9">',
        # the night under the pointer shaded (the page's CSP allows inline styles)
        "<style>.nights rect:hover{fill-opacity:.07}</style>",
        f'<text x="{_LEFT}" y="13" font-size="11" font-weight="bold">'
        f"{_e(title)}{_e(_unit_text(unit, log=y.log))}</text>",
    ]
    top, bottom = _TOP, _H - _BOTTOM
    for tick in y.ticks:
        ty = _n(y(tick))
        out.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{ty}" y2="{ty}" stroke="#e4e4e4"/>'
            f'<text x="{_LEFT - 3}" y="{ty}" text-anchor="end" dy="3">{_e(_tick(tick))}</text>'
        )
    for at, label in x.ticks():
        tx = _n(x(at))
        out.append(
            f'<line x1="{tx}" x2="{tx}" y1="{bottom}" y2="{bottom + 3}" stroke="#888"/>'
            f'<text x="{tx}" y="{bottom + 12}" text-anchor="middle">{_e(label)}</text>'
        )
    out.append(
        f'<rect x="{_LEFT}" y="{top}" width="{_W - _LEFT - _RIGHT}" height="{bottom - top}" '
        'fill="none" stroke="#bbb"/>'
        f'<text x="{_W - _RIGHT}" y="{_H - 2}" text-anchor="end" fill="#666">{x.label}</text>'
    )
    for line, median, effect, check in bands:
        x0 = x(_band_start(check, x))
        x1 = x(tonight_x) + 4 if tonight_x is not None else _W - _RIGHT
        lo, hi = y(median * (1 + effect) * scale), y(median * (1 - effect) * scale)
        out.append(
            f'<rect class="noise-band" data-trend-provider="{_e(line.key[1])}" '
            f'data-trend-variant="{_e(line.key[2])}" x="{_n(x0)}" y="{_n(lo)}" '
            f'width="{_n(max(1.0, x1 - x0))}" height="{_n(max(0.5, hi - lo))}" '
            f'fill="{line.color}" fill-opacity="0.15">'
            f"<title>{_e(_band_title(line, metric, median, effect, check))}</title></rect>"
        )
    for line in lines:
        out.append(_line_svg(line, x, y, scale, run_id))
    band_text = [_band_title(line, metric, m, e, c) for line, m, e, c in bands]
    out.append(_nights_svg(lines, metric, x, run_id, band_text))
    for line in lines:
        for step in steps.get(line.key, ()):
            out.append(_step_svg(step, line, x))
    for line, base, head, check in marks:
        if tonight_x is None:
            continue
        out.append(_paired_svg(line, metric, x(tonight_x), y, scale, base, head, check, paired))
    for line in lines:
        check = _history_check(checks, line.key)
        last = line.points[-1]
        if check is None or check.get("verdict") != "regressed" or last.run_id != run_id:
            continue
        cx, cy = x(x.at[last.run_id]), y(last.value * scale)
        out.append(
            f'<path d="M{_n(cx - 4)} {_n(cy - 4)}L{_n(cx + 4)} {_n(cy + 4)}M{_n(cx - 4)} '
            f'{_n(cy + 4)}L{_n(cx + 4)} {_n(cy - 4)}" style="fill: #ff0000; stroke: #ff0000; '
            f'stroke-width: 2.5"><title>{_e(_regressed_title(line, metric, check))}</title>'
            "</path>"
        )
    out.append("</svg>")
    return "".join(out)


def _unit_text(unit: str, *, log: bool) -> str:
    parts = [p for p in (unit, "log scale" if log else "") if p]
    return f" ({', '.join(parts)})" if parts else ""


def _line_svg(line: _Line, x: _XAxis, y: _YAxis, scale: float, run_id: str | None) -> str:
    """A line's nights as a polyline; a dot per night when there are few (40 or fewer),
    and this run's point always, larger and black-edged."""
    pts = [(x(x.at[p.run_id]), y(p.value * scale), p) for p in line.points]
    dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
    path = " ".join(f"{_n(px)},{_n(py)}" for px, py, _ in pts)
    out = [
        f'<g class="trend-line" data-trend-provider="{_e(line.key[1])}" '
        f'data-trend-variant="{_e(line.key[2])}" fill="{line.color}">'
        f'<polyline points="{path}" fill="none" stroke="{line.color}" stroke-width="1.2"{dash}/>'
    ]
    few = len(pts) <= _DOTS_UP_TO
    for px, py, point in pts:
        if point.run_id == run_id:
            out.append(
                f'<circle cx="{_n(px)}" cy="{_n(py)}" r="3.2" stroke="#000" stroke-width="0.6"/>'
            )
        elif few:
            out.append(f'<circle cx="{_n(px)}" cy="{_n(py)}" r="2"/>')
    out.append("</g>")
    return "".join(out)


def _nights_svg(
    lines: Sequence[_Line], metric: str, x: _XAxis, run_id: str | None, bands: Sequence[str]
) -> str:
    """A transparent column per night, from halfway to the night before to halfway to the
    night after, whose title is the night (:func:`_night_title`): hovering anywhere above a
    night names its date, commit, run and every line's value."""
    nights = sorted({p.run_id for line in lines for p in line.points}, key=lambda r: x.at[r])
    at = [x(x.at[r]) for r in nights]
    edges = [_LEFT] + [(a + b) / 2 for a, b in pairwise(at)] + [_W - _RIGHT]
    out = ['<g class="nights" fill="#000" fill-opacity="0">']
    for index, run in enumerate(nights):
        left, right = edges[index], edges[index + 1]
        title = _night_title(run, lines, metric, run == run_id, bands)
        out.append(
            f'<rect x="{_n(left)}" y="{_TOP}" width="{_n(max(0.5, right - left))}" '
            f'height="{_H - _TOP - _BOTTOM}"><title>{_e(title)}</title></rect>'
        )
    out.append("</g>")
    return "".join(out)


def _band_title(
    line: _Line, metric: str, median: float, effect: float, check: Mapping[str, Any]
) -> str:
    return (
        f"{line.key[1]} / {line.key[2]} / c={line.key[3]}: noise band of the history check, "
        f"median {fmt_metric(metric, median)} \u00b1 {effect:.0%} (the minimum effect its "
        f"verdict used; against {check.get('baseline', 'history')}); tonight "
        f"{check.get('verdict', '?')}: {check.get('reason', '')}"
    )


def _regressed_title(line: _Line, metric: str, check: Mapping[str, Any]) -> str:
    change = (
        f"ratio {fmt_ratio(check.get('ratio'))} "
        f"[{fmt_ratio(check.get('ci_low'))} - {fmt_ratio(check.get('ci_high'))}]"
    )
    return (
        f"regressed against history: {line.key[1]} / {line.key[2]} / c={line.key[3]}, "
        f"{change}; {check.get('reason', '')}"
    )


def _step_svg(step: Step, line: _Line, x: _XAxis) -> str:
    """A vertical line between the last night of the old level and the first of the new,
    labelled with the step's size and those two commits: dashed once confirmed, dotted
    while pending."""
    before = x.at.get(step.located.last_before.run_id)
    after = x.at.get(step.located.first_after.run_id)
    if after is None:
        return ""
    at = x((before + after) / 2 if before is not None else after)
    dash = "4,2" if step.confirmed else "1,2"
    label = marker_label(step)
    return (
        f'<g class="change-point" data-trend-provider="{_e(line.key[1])}" '
        f'data-trend-variant="{_e(line.key[2])}">'
        f'<line x1="{_n(at)}" x2="{_n(at)}" y1="{_TOP}" y2="{_H - _BOTTOM}" '
        f'stroke="{line.color}" stroke-width="1" stroke-dasharray="{dash}">'
        f"<title>{_e(f'{line.key[2]}: {step.direction} step {label}, {step.state}; ')}"
        f"{_e(step.located.describe())}</title></line>"
        f'<text transform="translate({_n(at - 2)},{_TOP + 2}) rotate(-90)" text-anchor="end" '
        f'font-size="8" fill="{line.color}">{_e(label)}</text></g>'
    )


def _paired_svg(
    line: _Line,
    metric: str,
    at: float,
    y: _YAxis,
    scale: float,
    base: float,
    head: float,
    check: Mapping[str, Any],
    paired: Mapping[str, Any] | None,
) -> str:
    """This run's base (hollow diamond) and head (filled) medians, a little right of it."""
    out = [
        f'<g class="base-head" data-trend-provider="{_e(line.key[1])}" '
        f'data-trend-variant="{_e(line.key[2])}">'
    ]
    verdict = f"head against base: {check.get('verdict', '?')}"
    for label, value, fill in (("base", base, "#fff"), ("head", head, line.color)):
        cx, cy = at + 7, y(value * scale)
        out.append(
            f'<path d="M{_n(cx)} {_n(cy - 4)}L{_n(cx + 4)} {_n(cy)}L{_n(cx)} {_n(cy + 4)}'
            f'L{_n(cx - 4)} {_n(cy)}Z" fill="{fill}" stroke="{line.color}" stroke-width="1.2">'
            f"<title>{_e(f'{_revision(paired, label)}: {fmt_metric(metric, value)}; {verdict}')}"
            "</title></path>"
        )
    out.append("</g>")
    return "".join(out)


@dataclass(frozen=True)
class ClaimFigure:
    """A claim's before/after bars: the SVG and the cell it was measured in."""

    claim: str
    scenario: str | None
    provider: str | None
    verdict: str
    svg: str


_VERDICT_COLOR = {"met": "#2a7d2a", "not met": "#c62828"}


def _claim_value(row: ClaimRow, value: float) -> str:
    if row.claim.per_upload:
        return f"{value:.2f} per upload"
    return fmt_metric(row.metric, value)


def _claim_target(row: ClaimRow) -> float | None:
    """The after value the claim's rule asks for, in the row's unit (None: no before)."""
    rule, target = row.claim.rule, row.claim.target
    if rule == "below":
        return target
    if row.before is None:
        return None
    if rule == "reduction":
        return row.before * (1 - target)
    return row.before / target if target else None


def claim_figures(rows: Sequence[ClaimRow]) -> list[ClaimFigure]:
    """One small bar chart per measured claim: before and after, each bar labelled with
    its value, and a dashed line where the claim's rule puts the after value it needs."""
    out = []
    for row in rows:
        if row.before is None or row.after is None or row.verdict == "not measured":
            continue
        out.append(
            ClaimFigure(row.claim.key, row.scenario, row.provider, row.verdict, _claim_svg(row))
        )
    return out


def _fit(text: str, most: int) -> str:
    """``text`` cut to ``most`` characters with an ellipsis (the full text is in a title)."""
    return text if len(text) <= most else text[: most - 1] + "\u2026"


def _claim_svg(row: ClaimRow) -> str:
    width, height, left, right = 260, 96, 78, 92
    before, after = float(row.before or 0.0), float(row.after or 0.0)
    target = _claim_target(row)
    top = max(before, after, target if target is not None and math.isfinite(target) else 0.0)
    span = top if top > 0 else 1.0
    length = width - left - right
    color = _VERDICT_COLOR.get(row.verdict, "#777")
    drawn = target is not None and math.isfinite(target) and target >= 0
    line_at = left + (target or 0.0) / span * length if drawn else None
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" {_FONT} font-size="9" '
        f'aria-label="{_e(row.claim.title)}: {_e(row.verdict)}">',
        f'<text x="2" y="12" font-size="10.5" font-weight="bold">{_e(row.claim.title)}</text>',
        f'<text x="2" y="25" fill="{color}" font-weight="bold">{_e(row.verdict)}</text>'
        f'<text x="40" y="25" fill="#555">{_e(row.claim.target_text)}</text>',
    ]
    bars = (
        ("before", row.before_variant, before, "#9e9e9e"),
        ("after", row.after_variant, after, color),
    )
    for index, (side, variant, value, fill) in enumerate(bars):
        top_y = 34 + index * 26
        bar = max(0.0, value / span * length)
        text = _claim_value(row, value)
        # a label that would sit on the target line goes just right of it
        at = left + bar + 3
        if line_at is not None and at - 6 <= line_at <= at + 8:
            at = line_at + 3
        out.append(
            f'<text x="{left - 4}" y="{top_y + 8}" text-anchor="end">{_e(side)}</text>'
            f'<text x="{left - 4}" y="{top_y + 17}" text-anchor="end" fill="#666">'
            f"{_e(_fit(variant, 15))}</text>"
            f'<rect class="claim-bar" x="{left}" y="{top_y}" width="{_n(bar)}" height="18" '
            f'fill="{fill}"><title>{_e(f"{side} ({variant}): {text}")}</title></rect>'
            f'<text class="bar-label" x="{_n(at)}" y="{top_y + 13}">{_e(text)}</text>'
        )
    if target is not None and line_at is not None:
        tx = line_at
        out.append(
            f'<line x1="{_n(tx)}" x2="{_n(tx)}" y1="31" y2="{height - 8}" stroke="#333" '
            f'stroke-dasharray="3,2"><title>{_e(row.claim.target_text)}: after at most '
            f"{_e(_claim_value(row, target))}</title></line>"
            f'<text x="{_n(tx)}" y="{height - 1}" text-anchor="middle" fill="#333">met when '
            "after is left of this line</text>"
        )
    out.append("</svg>")
    return "".join(out)


def trends_view(found: TrendFigures | None) -> dict[str, Any] | None:
    """A scenario's trend figures for the template, the SVG and legend marked safe (this
    module escaped every string in them)."""
    if found is None:
        return None
    return {
        "charts": [
            {"metric": c.metric, "title": c.title, "svg": Markup(c.svg)}  # noqa: S704
            for c in found.charts
        ],
        "legend": Markup(found.legend),  # noqa: S704
        "omitted": found.omitted,
    }


def claims_view(rows: Sequence[ClaimRow]) -> dict[str, Any]:
    """The claims' bar charts for the template, each with the cell it was measured in, and
    one line naming the claims left without bars (None when every claim has them)."""
    figures = claim_figures(rows)
    drawn = {f.claim for f in figures}
    missing = [r.claim.title for r in rows if r.claim.key not in drawn]
    return {
        "figures": [
            {
                "claim": f.claim,
                "scenario": f.scenario,
                "provider": f.provider,
                "verdict": f.verdict,
                "svg": Markup(f.svg),  # noqa: S704 - escaped in _claim_svg
            }
            for f in figures
        ],
        "not_drawn": (
            f"No bars for {', '.join(missing)}: not measured in this run (see the table)."
            if missing
            else None
        ),
    }
