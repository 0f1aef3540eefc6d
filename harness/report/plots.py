"""Matplotlib figures as inline SVG strings, deterministic and lean.

Figures are built with :class:`matplotlib.figure.Figure` (never pyplot, which keeps global
figure state) under an ``rc_context``, so rendering changes no global setting. Each SVG gets
its own ``svg.hashsalt``: ids stay reproducible and never collide between figures that are
inlined into the same page.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from harness.analysis import stats
from harness.analysis.memory import Fit, memory_slope_by_variant, peaks_by_variant_and_size
from harness.report.figures import axis_unit
from harness.report.format import is_number
from harness.report.view import ScenarioData
from harness.results.contract import TrialDoc

__all__ = ["MAX_LINE_POINTS", "Plotter"]

# A CDF drawn with 500 points is indistinguishable from the full one at report width and
# keeps each series under ~20 KiB of SVG (the report must stay under 5 MB for a nightly).
MAX_LINE_POINTS = 500
# Above this many points a scatter is rasterised: 10 000 vector dots are ~1 MiB of SVG.
RASTERISE_ABOVE = 200

_MIB = 1024 * 1024

# typed loosely: matplotlib stubs want literal rc keys
_RC: dict[Any, Any] = {
    "svg.fonttype": "none",  # text stays <text>: smaller, searchable, browser fonts
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": 100,
}


def _axis(metric: str) -> tuple[str, str, float]:
    """The metric table's title, the axis unit and the scale from the metric's base unit
    (:func:`harness.report.figures.axis_unit`: one table of axis units for every figure)."""
    return axis_unit(metric)


def _label(text: str) -> str:
    """Text safe for matplotlib: ``$`` would start mathtext, a leading ``_`` hides a
    legend entry."""
    text = text.replace("$", r"\$")
    return f" {text}" if text.startswith("_") else text


def _plain_log_ticks(axis: Any) -> None:
    """Log-axis tick labels as plain numbers: the default ``10^{n}`` labels go through
    mathtext, whose parser costs more than the rest of a figure."""
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    # a range under one decade would show a single label: name the 2x and 5x minor ticks
    axis.set_minor_formatter(FuncFormatter(_minor_log_label))


def _minor_log_label(value: float, _pos: int | None) -> str:
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
    return f"{value:g}" if mantissa in (2.0, 5.0) else ""


def _downsample_sorted(values: Sequence[float], limit: int = MAX_LINE_POINTS) -> np.ndarray:
    data = np.sort(np.asarray(values, dtype=float))
    if len(data) > limit:
        data = np.quantile(data, np.linspace(0.0, 1.0, limit))
    return data


class Plotter:
    """Builds the report's figures; numbers its SVGs so their ids are unique per page."""

    def __init__(self, *, salt: str = "uploadbench") -> None:
        self._salt = salt
        self._count = 0

    def _svg(self, fig: Figure) -> str:
        self._count += 1
        buf = io.StringIO()
        rc: dict[Any, Any] = {**_RC, "svg.hashsalt": f"{self._salt}-{self._count}"}
        with matplotlib.rc_context(rc):
            # constrained layout already fits the labels: bbox_inches="tight" would draw twice
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        text = buf.getvalue()
        return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE for HTML5

    @staticmethod
    def _figure(
        width: float = 6.4, height: float = 3.2, nrows: int = 1, ncols: int = 1
    ) -> tuple[Figure, list[Axes]]:
        # Fixed margins, not constrained layout: our labels are short and known, and the
        # layout engine's extra measuring pass cost ~40% of the render time.
        fig = Figure(figsize=(width, height))
        grid = fig.subplots(nrows, ncols, squeeze=False)
        fig.subplots_adjust(
            left=0.6 / width,
            right=1 - 0.15 / width,
            bottom=0.5 / height,
            top=1 - 0.3 / height,
            wspace=0.35,
            hspace=0.3 if nrows == 1 else 0.6,
        )
        return fig, [ax for row in grid for ax in row]

    def _colors(self, variants: Sequence[str]) -> dict[str, str]:
        palette = [f"C{i}" for i in range(10)]
        return {v: palette[i % len(palette)] for i, v in enumerate(variants)}

    def latency_cdf(self, scenario: ScenarioData) -> str | None:
        """Per-upload latency CDF per (variant, concurrency), log time axis."""
        colors = self._colors(scenario.variants)
        styles = ["-", "--", ":", "-."]
        with matplotlib.rc_context(_RC):
            fig, (ax,) = self._figure()
            drawn = 0
            for group in scenario.groups:
                latencies = [v for v in group.latencies() if v > 0]
                if not latencies:
                    continue
                xs = _downsample_sorted(latencies) * 1e3
                ys = np.linspace(0.0, 1.0, len(xs), endpoint=True) if len(xs) > 1 else [1.0]
                # line style tells providers apart when several ran, else concurrencies
                many = len(scenario.providers) > 1
                index = (
                    scenario.providers.index(group.provider)
                    if many
                    else scenario.concurrencies.index(group.concurrency)
                )
                name = f"{group.provider} {group.label}" if many else group.label
                ax.step(
                    xs,
                    ys,
                    where="post",
                    color=colors[group.variant],
                    linestyle=styles[index % len(styles)],
                    label=_label(f"{name} (n={len(latencies)})"),
                )
                drawn += 1
            if not drawn:
                return None
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis)
            ax.set_xlabel("latency per upload (ms, log scale)")
            ax.set_ylabel("fraction of uploads")
            ax.set_ylim(0, 1.02)
            ax.legend(fontsize=7, loc="lower right")
            return self._svg(fig)

    def upload_scatter(self, scenario: ScenarioData) -> str | None:
        """Every upload: when it started in its trial against how long it took."""
        colors = self._colors(scenario.variants)
        with matplotlib.rc_context(_RC):
            fig, (ax,) = self._figure(height=2.8)
            total = 0
            for variant in scenario.variants:
                xs, ys = [], []
                for group in scenario.groups:
                    if group.variant != variant:
                        continue
                    for trial in group.trials:
                        for r in trial.get("records") or ():
                            start, end = r.get("start"), r.get("end")
                            if is_number(start) and is_number(end):
                                xs.append(float(start))
                                ys.append((float(end) - float(start)) * 1e3)
                if not xs:
                    continue
                total += len(xs)
                ax.scatter(
                    xs,
                    ys,
                    s=4,
                    alpha=0.5,
                    color=colors[variant],
                    label=_label(variant),
                    rasterized=len(xs) > RASTERISE_ABOVE,
                    linewidths=0,
                )
            if not total:
                return None
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
            ax.set_xlabel("upload start within its trial (s)")
            ax.set_ylabel("latency (ms, log)")
            ax.legend(fontsize=7, loc="upper right", markerscale=3)
            return self._svg(fig)

    def throughput(self, scenario: ScenarioData) -> str | None:
        """Median throughput against concurrency per (provider, variant); bars span the
        min..max of repeats."""
        colors = self._colors(scenario.variants)
        with matplotlib.rc_context(_RC):
            fig, (ax,) = self._figure(height=2.8)
            drawn = False
            markers = ["o", "s", "^", "D", "v"]
            many = len(scenario.providers) > 1
            lines = [(p, v) for p in scenario.providers for v in scenario.variants]
            for provider, variant in lines:
                groups = sorted(
                    (g for g in scenario.groups if g.variant == variant and g.provider == provider),
                    key=lambda g: g.concurrency,
                )
                pts = [
                    (
                        g.concurrency,
                        g.median("throughput_bytes_per_s"),
                        g.spread("throughput_bytes_per_s"),
                    )
                    for g in groups
                ]
                pts = [p for p in pts if p[1] is not None]
                if not pts:
                    continue
                xs = [p[0] for p in pts]
                ys = [float(p[1] or 0) / _MIB for p in pts]
                lo = [y - (p[2][0] / _MIB if p[2] else y) for y, p in zip(ys, pts, strict=True)]
                hi = [(p[2][1] / _MIB if p[2] else y) - y for y, p in zip(ys, pts, strict=True)]
                ax.errorbar(
                    xs,
                    ys,
                    yerr=[lo, hi],
                    marker=markers[scenario.providers.index(provider) % len(markers)],
                    capsize=3,
                    color=colors[variant],
                    label=_label(f"{provider} {variant}" if many else variant),
                )
                drawn = True
            if not drawn:
                return None
            ax.set_xscale("log", base=2)
            _plain_log_ticks(ax.xaxis)
            ax.set_xticks(scenario.concurrencies or [1])
            ax.set_xlabel("concurrency")
            ax.set_ylabel("{} ({})".format(*_axis("throughput_bytes_per_s")[:2]))
            ax.set_ylim(bottom=0)
            ax.legend(fontsize=7)
            return self._svg(fig)

    def memory_over_time(self, scenario: ScenarioData) -> str | None:
        """Heap over time of each profiled trial (memray snapshots)."""
        colors = self._colors(scenario.variants)
        with matplotlib.rc_context(_RC):
            fig, (ax,) = self._figure(height=2.8)
            drawn = False
            for trial in scenario.profiled:
                series = (trial.get("profile") or {}).get("memory_over_time") or []
                pts = [
                    (float(p[0]), float(p[1]))
                    for p in series
                    if len(p) >= 2 and is_number(p[0]) and is_number(p[1])
                ]
                if not pts:
                    continue
                if len(pts) > MAX_LINE_POINTS:
                    step = -(-len(pts) // MAX_LINE_POINTS)
                    # keep the peak: a memory plot that drops it would hide the headline
                    peak = max(range(len(pts)), key=lambda i: pts[i][1])
                    pts = sorted(set(pts[::step]) | {pts[peak]})
                variant = str(trial.get("variant"))
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] / _MIB for p in pts],
                    color=colors.get(variant, "C9"),
                    label=_label(f"{variant} c={trial.get('concurrency')}"),
                )
                drawn = True
            if not drawn:
                return None
            ax.set_xlabel("time since start (s)")
            ax.set_ylabel("memory (MiB)")
            ax.set_ylim(bottom=0)
            ax.legend(fontsize=7)
            return self._svg(fig)

    def memory_vs_size(self, scenarios: Sequence[ScenarioData]) -> str | None:
        """Heap peak against file size per (provider, variant), over every scenario's
        profiled trials (a size sweep may span scenarios; providers are never pooled):
        each trial a dot, the median per size a marker, and the least-squares line of
        :func:`harness.analysis.memory.memory_slope_by_variant` (the fit thresholds read)
        drawn across the sizes, its slope and r² in the legend."""
        per_provider: dict[str, list[Mapping[str, Any]]] = {}
        for s in scenarios:
            for trial in s.profiled:
                per_provider.setdefault(str(trial.get("provider") or ""), []).append(trial)
        trials_of = {p: cast(list[TrialDoc], trials) for p, trials in per_provider.items()}
        peaks = {p: peaks_by_variant_and_size(trials) for p, trials in trials_of.items()}
        if not any(peaks.values()):
            return None
        fits = {p: memory_slope_by_variant(trials) for p, trials in trials_of.items()}
        order: list[str] = []
        for s in scenarios:
            order += [v for v in s.variants if v not in order]
        order += sorted({v for by in peaks.values() for v in by} - set(order))
        colors = self._colors(order)
        styles = ["-", "--", ":", "-."]
        ends: list[tuple[float, float, Fit, str]] = []  # each fitted line's right end
        with matplotlib.rc_context(_RC):
            fig, (ax,) = self._figure(height=3.0)
            for index, provider in enumerate(sorted(peaks)):
                for variant in order:
                    by_size = peaks[provider].get(variant)
                    if not by_size:
                        continue
                    sizes = sorted(by_size)
                    name = f"{provider} {variant}" if len(peaks) > 1 else variant
                    fit = fits[provider].get(variant)
                    color = colors[variant]
                    dots = [(s / _MIB, p / _MIB) for s in sizes for p in by_size[s]]
                    ax.scatter(
                        [d[0] for d in dots],
                        [d[1] for d in dots],
                        s=9,
                        alpha=0.35,
                        color=color,
                        linewidths=0,
                    )
                    ax.plot(
                        [s / _MIB for s in sizes],
                        [stats.median(by_size[s]) / _MIB for s in sizes],
                        marker="o",
                        markersize=4,
                        linewidth=0,
                        color=color,
                        label=_label(f"{name}: {_slope_text(fit)}"),
                    )
                    if fit is not None:
                        xs = np.array([min(fit.sizes), max(fit.sizes)], dtype=float)
                        ys = (fit.intercept + fit.slope * xs) / _MIB
                        ax.plot(
                            xs / _MIB,
                            ys,
                            color=color,
                            linewidth=1.2,
                            linestyle=styles[index % len(styles)],
                        )
                        ends.append((float(ys[-1]), float(xs[-1] / _MIB), fit, color))
            ax.set_xlabel("file size (MiB)")
            ax.set_ylabel("{} ({})".format(*_axis("heap_peak_bytes")[:2]))
            ax.set_xlim(left=0)
            ax.set_ylim(bottom=0)
            _slope_labels(ax, ends)
            ax.legend(fontsize=7, loc="upper left")
            return self._svg(fig)


def _slope_text(fit: Fit | None) -> str:
    """A fit's numbers for a legend: ``slope 1.04 B/B, r² 0.99``; why there is none."""
    if fit is None:
        return "no slope (one file size)"
    quality = (
        f", r\u00b2 {fit.r_squared:.2f}"
        if fit.r_squared is not None and math.isfinite(fit.r_squared)
        else ""
    )
    # "+ 0.0" turns a rounded -0.0 into 0.0
    return f"slope {round(fit.slope, 2) + 0.0:.2f} B/B{quality}"


def _slope_labels(ax: Axes, ends: Sequence[tuple[float, float, Fit, str]]) -> None:
    """Each fitted line's slope written at its right end (``1.04 B/B``), nudged apart where
    lines end together (sync and naive-async both hold the file whole)."""
    if not ends:
        return
    right = max(x for _, x, _, _ in ends)
    ax.set_xlim(0, right * 1.2 if right > 0 else 1)
    low, high = ax.get_ylim()
    gap = (high - low) * 0.07
    placed: list[tuple[float, float, float, Fit, str]] = []
    for y, x, fit, color in sorted(ends, key=lambda e: e[0]):
        placed.append((max([y, *(p[0] + gap for p in placed)]), y, x, fit, color))
    if placed[-1][0] + gap > high:
        ax.set_ylim(low, placed[-1][0] + gap)  # room for the highest label
    for at, y, x, fit, color in placed:
        ax.annotate(
            f"{round(fit.slope, 2) + 0.0:.2f} B/B",
            (x, y),
            xytext=(x + right * 0.02, at),
            fontsize=7,
            color=color,
            va="center",
        )
