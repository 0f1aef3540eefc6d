"""The report's pooling-gain section (issue 16): the curve over RTT with one line per TLS
setting, and its numbers as a table beside it.

It decides nothing: the rows, their figures and whether each meets the issue's expectation
come from :func:`harness.analysis.pooling.pooling_gains`. The figure is drawn by the page's
one :class:`~harness.report.plots.Plotter` (its rc settings, hash salt and numbering), so its
SVG ids never collide with the other figures of the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib
from markupsafe import Markup

from harness.analysis.pooling import (
    HANDSHAKE_RTTS,
    LAN_CEILING_S,
    TOLERANCE,
    PoolingFit,
    PoolingGain,
    pooling_fits,
    pooling_gains,
)
from harness.report.format import NA, fmt_count, fmt_metric
from harness.report.plots import _RC, Plotter, _label
from harness.report.tables import html_table
from harness.results.contract import ScenarioDoc

__all__ = [
    "PoolingSection",
    "pooling_curve",
    "pooling_fit_table",
    "pooling_section",
    "pooling_table",
]

# One colour per TLS setting, the same in the curve and its reference lines.
_COLORS: Mapping[str, str] = {"off": "C0", "1.3": "C1", "1.2": "C3"}
_MARKERS: Mapping[str, str] = {"off": "o", "1.3": "s", "1.2": "^"}
# the metric whose formatter writes the table's latencies and differences
_TIME = "latency_p50_s"


def _tls_label(tls: str) -> str:
    return "plain TCP" if tls == "off" else f"TLS {tls}"


def _series_key(row: PoolingGain, several: bool) -> tuple[str, str, int, str]:
    """A line of the curve: its TLS setting, and provider, concurrency and variant pair
    when the rows have several of them (they are never pooled into one line)."""
    if not several:
        return row.tls, "", 0, ""
    return row.tls, row.provider, row.concurrency, f"{row.pooled} / {row.unpooled}"


def _several(rows: Sequence[PoolingGain]) -> bool:
    return len({(r.provider, r.concurrency, r.pooled, r.unpooled) for r in rows}) > 1


def pooling_curve(plotter: Plotter, rows: Sequence[PoolingGain]) -> str | None:
    """The per-upload p50 difference (ms) against RTT (ms), one line per TLS setting
    (error bars: the 95 % bootstrap interval), and faint dotted lines for the ideal gain of
    two connections per upload at 1, 2 and 3 round trips each. None without a figure."""
    points = [r for r in rows if r.difference_s is not None]
    if not points:
        return None
    several = _several(points)
    series: dict[tuple[str, str, int, str], list[PoolingGain]] = {}
    for row in points:
        series.setdefault(_series_key(row, several), []).append(row)
    rtts = sorted({r.rtt_ms for r in points})
    with matplotlib.rc_context(_RC):
        fig, (ax,) = plotter._figure(height=3.2)
        top = max(rtts)
        for tls, rtts_each in HANDSHAKE_RTTS.items():
            if top <= 0 or not any(r.tls == tls for r in points):
                continue
            per_upload = 2 * rtts_each
            ax.plot(
                [0.0, top],
                [0.0, per_upload * top],
                color=_COLORS.get(tls, "C7"),
                linestyle=":",
                linewidth=1,
                alpha=0.45,
                label=_label(f"ideal {per_upload} RTT per upload ({_tls_label(tls)})"),
            )
        for (tls, provider, concurrency, pair), mine in series.items():
            mine = sorted(mine, key=lambda r: r.rtt_ms)
            xs = [r.rtt_ms for r in mine]
            ys = [float(r.difference_s or 0.0) * 1e3 for r in mine]
            low = [
                y - r.ci_low_s * 1e3 if r.ci_low_s is not None else 0.0
                for y, r in zip(ys, mine, strict=True)
            ]
            high = [
                r.ci_high_s * 1e3 - y if r.ci_high_s is not None else 0.0
                for y, r in zip(ys, mine, strict=True)
            ]
            name = _tls_label(tls)
            if several:
                name += f", {provider} c={concurrency} ({pair})"
            ax.errorbar(
                xs,
                ys,
                yerr=[[max(v, 0.0) for v in low], [max(v, 0.0) for v in high]],
                marker=_MARKERS.get(tls, "D"),
                capsize=3,
                color=_COLORS.get(tls, "C7"),
                label=_label(name),
            )
        ax.set_xticks(rtts)
        ax.set_xlabel("round-trip time (ms)")
        ax.set_ylabel("p50 gain per upload (ms)")
        ax.set_xlim(left=min(0.0, rtts[0]) - 0.03 * max(top, 1.0))
        ax.legend(fontsize=7, loc="upper left")
        return plotter._svg(fig)


def _rtt(value: float) -> str:
    return f"{value:g} ms"


def _expected(row: PoolingGain) -> str:
    """The issue's expectation, short: ``< 5 ms`` at 0 ms, ``2 ± 25%`` round trips per
    connection above it."""
    if row.rtt_ms <= 0:
        if row.tls != "off":
            return "none (handshake CPU, no round trip)"
        return f"< {fmt_metric(_TIME, LAN_CEILING_S)}"
    expected = row.expected_rtt_per_connection
    return NA if expected is None else f"{expected} ± {TOLERANCE:.0%}"


def pooling_table(rows: Sequence[PoolingGain]) -> str | None:
    """The curve's numbers, compact enough to sit beside it: per point both p50s, their
    difference with its 95 % interval, the connections each unpooled upload opened, round
    trips per connection and the issue's expectation with its verdict (met / not met /
    not measured), and the scenario. None without rows."""
    if not rows:
        return None
    several = _several(rows)
    table = []
    for r in rows:
        cell = (
            {
                "provider": r.provider,
                "c": str(r.concurrency),
                "variants": f"{r.pooled} / {r.unpooled}",
            }
            if several
            else {}
        )
        interval = (
            f" ({fmt_metric(_TIME, r.ci_low_s)} – {fmt_metric(_TIME, r.ci_high_s)})"
            if r.ci_low_s is not None and r.ci_high_s is not None
            else ""
        )
        per_connection = f"{r.rtt_per_connection:.2f}" if r.rtt_per_connection is not None else NA
        table.append(
            {
                "TLS": _tls_label(r.tls),
                "RTT": _rtt(r.rtt_ms),
                **cell,
                "pooled p50": fmt_metric(_TIME, r.pooled_p50_s),
                "unpooled p50": fmt_metric(_TIME, r.unpooled_p50_s),
                "difference (95% CI)": fmt_metric(_TIME, r.difference_s) + interval,
                "conn. per upload": fmt_count(r.connections_per_upload),
                "RTT per conn.": per_connection,
                "expected": _expected(r),
                "verdict": _verdict(r.meets, measured=r.difference_s is not None),
                "scenario": r.scenario,
            }
        )
    columns = [
        "TLS",
        "RTT",
        *(["provider", "c", "variants"] if several else []),
        "pooled p50",
        "unpooled p50",
        "difference (95% CI)",
        "conn. per upload",
        "RTT per conn.",
        "expected",
        "verdict",
        "scenario",
    ]
    return html_table(table, columns)


def _verdict(meets: bool | None, *, measured: bool = True) -> str:
    if meets is None:
        return "no expectation" if measured else "not measured"
    return "met" if meets else "not met"


def pooling_fit_table(fits: Sequence[PoolingFit]) -> str | None:
    """One row per line of the curve with two RTTs or more: the least-squares slope in
    round trips per new connection (the mechanism, free of the cost at 0 ms) with the
    issue's expectation, and the intercept (the fixed cost per upload). None without fits."""
    if not fits:
        return None
    several = len({(f.provider, f.concurrency, f.pooled, f.unpooled) for f in fits}) > 1
    table = [
        {
            "TLS": _tls_label(f.tls),
            **({"provider": f.provider, "c": str(f.concurrency)} if several else {}),
            "RTTs": ", ".join(_rtt(v) for v in f.rtts_ms),
            "RTT per connection (slope)": f"{f.rtt_per_connection:.2f}",
            "expected": (
                NA
                if f.expected_rtt_per_connection is None
                else f"{f.expected_rtt_per_connection} ± {TOLERANCE:.0%}"
            ),
            "verdict": _verdict(f.meets),
            "fixed cost per upload (intercept)": fmt_metric(_TIME, f.fixed_cost_s),
        }
        for f in fits
    ]
    columns = [
        "TLS",
        *(["provider", "c"] if several else []),
        "RTTs",
        "RTT per connection (slope)",
        "expected",
        "verdict",
        "fixed cost per upload (intercept)",
    ]
    return html_table(table, columns)


@dataclass(frozen=True)
class PoolingSection:
    """What the template's ``pooling-gain`` section shows: the figure (None when no point
    has both p50s), the table, the fitted lines (None with one RTT only; all three trusted
    HTML from our own builders, which escape their inputs), and how many points met the
    expectation."""

    figure: Markup | None
    table: Markup
    fits: Markup | None
    rows: int
    met: int
    measured: int


def pooling_section(scenarios: Sequence[ScenarioDoc], plotter: Plotter) -> PoolingSection | None:
    """The section of a run, None when no scenario measures the pooling gain (the page then
    leaves the section out)."""
    rows = pooling_gains(scenarios)
    table = pooling_table(rows)
    if table is None:
        return None
    figure = pooling_curve(plotter, rows)
    fit_table = pooling_fit_table(pooling_fits(rows))
    return PoolingSection(
        figure=None if figure is None else Markup(figure),  # noqa: S704 - our own SVG
        table=Markup(table),  # noqa: S704 - pandas escaped every cell
        fits=None if fit_table is None else Markup(fit_table),  # noqa: S704 - as the table
        rows=len(rows),
        met=sum(1 for r in rows if r.meets),
        measured=sum(1 for r in rows if r.meets is not None),
    )
