"""Rendering for a terminal (rich): the run's progress bar (stderr) and the run summary
tables with their threshold, data-lost, misconfiguration and harness-error lines (stdout).
Data comes from :mod:`harness.analysis.summary`; nothing here decides anything. Values are
written by :func:`harness.metrics.format_value` (a missing one is :data:`harness.metrics.MISSING`).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from harness.analysis.claims import ClaimRow
from harness.analysis.pooling import PoolingGain, pooling_fits
from harness.analysis.summary import SampleTime, ScenarioSummary, SummaryRow
from harness.compare import RunComparison
from harness.metrics import MISSING, metric

__all__ = [
    "ProgressBar",
    "claims_console_table",
    "console_for",
    "pooling_console_table",
    "render_run",
    "render_summary",
]


def console_for(*, stderr: bool) -> Console:
    """A console on stdout (results) or stderr (progress and log lines); CI logs are not 80
    columns wide and a wrapped table is unreadable there, so a non-terminal gets 160."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=160)


class ProgressBar:
    """Progress sink of :func:`harness.runner.run_scenarios`: trials done/left, elapsed,
    ETA and the current trial."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.fields[current]}", justify="left"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[errors]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._errors = 0

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, total: int) -> None:
        self._task = self._progress.add_task("run", total=total, current="starting", errors="")

    def extend(self, more: int) -> None:
        """The run added ``more`` trials (pairs for an undecided head-against-base check)."""
        if self._task is not None:
            total = self._progress.tasks[0].total or 0
            self._progress.update(self._task, total=total + more)

    def trial_started(self, label: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, current=escape(label))

    def trial_finished(self, label: str, status: str) -> None:
        if status != "ok":
            self._errors += 1
        if self._task is not None:
            errors = f"[red]{self._errors} harness error(s)[/]" if self._errors else ""
            self._progress.update(self._task, advance=1, errors=errors)


# The columns of the summary table: metric name -> header.
_COLUMNS = (
    ("throughput_bytes_per_s", "throughput"),
    ("latency_p50_s", "lat p50"),
    ("latency_p99_s", "lat p99"),
    ("success_rate", "ok"),
    ("timeout_rate", "timeouts"),
    ("loop_lag_p99_s", "lag p99"),
    ("connections_opened", "conns"),
)
_MARK = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "undecided": "[yellow]undecided[/]"}


def _ratio(row: SummaryRow) -> str:
    if row.is_baseline:
        return "baseline"
    return MISSING if row.throughput_vs_baseline is None else f"{row.throughput_vs_baseline:.2f}x"


def _integrity(row: SummaryRow) -> str:
    if row.integrity_errors:
        return f"[red]{row.integrity_errors} lost[/]"
    # no trial finished: nothing was checked, so nothing can be called intact
    return "ok" if row.trials else MISSING


def _table(summary: ScenarioSummary) -> Table:
    name, baseline = escape(summary.name), escape(summary.baseline)
    table = Table(title=f"{name} (baseline {baseline})", title_justify="left")
    for header in ("provider", "variant", "c", "n"):
        table.add_column(header)
    for _, header in _COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("integrity", justify="right")
    table.add_column("vs baseline", justify="right")
    for row in summary.rows:
        n = str(row.trials) + (f" ({row.harness_errors} err)" if row.harness_errors else "")
        values = [metric(name).format(getattr(row, name)) for name, _ in _COLUMNS]
        table.add_row(
            escape(row.provider),
            escape(row.variant),
            str(row.concurrency),
            n,
            *values,
            _integrity(row),
            _ratio(row),
        )
    return table


def render_summary(summaries: Sequence[ScenarioSummary], console: Console) -> None:
    """Print one table per scenario, then its throughput ratios, threshold outcomes, data
    lost, likely misconfigurations, memory rows and harness-error reasons."""
    # Names come from scenario files and variant specs ("async[pooling=off]"): rich would
    # read their brackets as markup and drop them, so every such string is escaped.
    for summary in summaries:
        console.print(_table(summary))
        baseline = escape(summary.baseline)
        for variant in dict.fromkeys(r.variant for r in summary.rows if not r.is_baseline):
            ratios = [
                f"{r.throughput_vs_baseline:.2f}x ({escape(r.provider)}, c={r.concurrency})"
                for r in summary.rows
                if r.variant == variant and r.throughput_vs_baseline is not None
            ]
            if ratios:
                console.print(
                    f"  throughput {escape(variant)}/{baseline}: {', '.join(ratios)}",
                    highlight=False,
                )
        for check in summary.thresholds:
            where = (
                f"{escape(check.provider)}, c={check.concurrency}: "
                if check.concurrency is not None
                else ""
            )
            console.print(
                f"  {_MARK[check.verdict]} {escape(check.threshold)} "
                f"[dim]({where}{escape(check.detail)})[/]",
                highlight=False,
            )
        for loss in summary.data_lost:
            console.print(f"  [red]FAIL {escape(loss.message)}[/]", highlight=False)
        for loss in summary.data_lost_allowed:
            console.print(f"  [yellow]note {escape(loss.message)}[/]", highlight=False)
        for bad in summary.misconfigurations:
            console.print(f"  [red]{escape(bad.message)}[/]", highlight=False)
        if summary.memory:
            m, heap = summary.memory, metric("heap_peak_bytes")
            console.print(
                f"  memory for {heap.format(m.size_bytes)} files: {escape(m.baseline)} "
                f"{heap.format(m.baseline_peak_bytes)}, {escape(m.candidate)} "
                f"{heap.format(m.candidate_peak_bytes)} ({m.reduction_pct:.0f}% less)",
                highlight=False,
            )
        if summary.memory_fits:
            slopes = ", ".join(
                f"{escape(variant)} {fit.slope:.4f}" for variant, fit in summary.memory_fits.items()
            )
            console.print(f"  memory slope (heap peak per byte of file): {slopes}", highlight=False)
        if summary.harness_errors:
            console.print(
                f"  [red]{summary.harness_errors} trial(s) failed in the harness:[/]",
                highlight=False,
            )
            for reason in summary.harness_error_reasons:
                console.print(f"    {escape(reason)}", highlight=False)


def _claim_value(row: ClaimRow, value: float | None) -> str:
    if row.claim.per_upload:
        return MISSING if value is None else f"{value:.2f}/upload"
    return metric(row.metric).format(value)


def _claim_change(row: ClaimRow) -> str:
    if row.change is None:
        return ""
    if row.claim.rule == "reduction":
        return f"{abs(row.change):.0%} {'less' if row.change >= 0 else 'more'}"
    return f"{row.change:.2f}x"


def _claim_also(row: ClaimRow) -> str:
    return "\n".join(
        f"{metric(f.metric).title}/upload "
        + " → ".join(MISSING if v is None else f"{v:.2f}" for v in (f.before, f.after))
        for f in row.also
    )


def claims_console_table(rows: Sequence[ClaimRow]) -> Table | None:
    """The investigation's claims a run measured (rows of
    :func:`harness.analysis.claims.claim_rows`), each with the network and TLS it was
    measured under; None when the run measured none."""
    measured = [r for r in rows if r.scenario is not None]
    if not measured:
        return None
    table = Table(title="Claims of the investigation", title_justify="left")
    for header in ("claim", "met when", "before", "after", "change", "verdict"):
        table.add_column(header, justify="right" if header in ("before", "after") else "left")
    for header in ("per upload", "network, TLS", "scenario: before, after"):
        table.add_column(header)
    for r in measured:
        verdict = {"met": "[green]met[/]", "not met": "[red]not met[/]"}.get(
            r.verdict, f"[yellow]{r.verdict}[/]"
        )
        table.add_row(
            escape(r.claim.title),
            escape(r.claim.target_text),
            _claim_value(r, r.before),
            _claim_value(r, r.after),
            _claim_change(r),
            verdict,
            escape(_claim_also(r)),
            escape(", ".join(x for x in (r.network, r.tls) if x)),
            escape(f"{r.scenario}: {r.before_variant}, {r.after_variant}"),
        )
    return table


def pooling_console_table(rows: Sequence[PoolingGain]) -> Table | None:
    """The pooling gain over RTT and TLS (rows of
    :func:`harness.analysis.pooling.pooling_gains`); None when the run has no such point."""
    if not rows:
        return None
    table = Table(title="Pooling gain (per-upload p50, unpooled - pooled)", title_justify="left")
    for header in ("TLS", "RTT", "pooled", "unpooled", "difference", "RTT/conn", "expected",
                   "verdict"):  # fmt: skip
        left = header in ("TLS", "expected", "verdict")
        table.add_column(header, justify="left" if left else "right")
    p50 = metric("latency_p50_s")
    for r in rows:
        if r.meets is None:
            verdict = "[yellow]not measured[/]" if r.difference_s is None else "no expectation"
        else:
            verdict = "[green]met[/]" if r.meets else "[red]not met[/]"
        table.add_row(
            "plain" if r.tls == "off" else f"TLS {r.tls}",
            f"{r.rtt_ms:g} ms",
            p50.format(r.pooled_p50_s),
            p50.format(r.unpooled_p50_s),
            p50.format(r.difference_s),
            MISSING if r.rtt_per_connection is None else f"{r.rtt_per_connection:.2f}",
            escape(r.expectation),
            verdict,
        )
    for f in pooling_fits(rows):
        table.caption = (table.caption or "") + (
            f"{'plain' if f.tls == 'off' else 'TLS ' + f.tls}: {f.rtt_per_connection:.2f} RTT "
            f"per connection (slope), {p50.format(f.fixed_cost_s)} fixed per upload; "
        )
    return table


def render_run(
    console: Console,
    summaries: Sequence[ScenarioSummary],
    comparison: RunComparison,
    *,
    run_id: str,
    trials: int,
    shard: tuple[int, int] | None = None,
    sample: SampleTime | None = None,
    claims: Sequence[ClaimRow] = (),
    pooling: Sequence[PoolingGain] = (),
) -> None:
    """``uploadbench run``'s results: the summary tables, compare's own lines (the gating
    headline, each gating check that is not plainly fine, the notes), the sample
    efficiency (``sample``: how much of the run's time measured uploads), the claims the
    run measured (``claims``: :func:`harness.analysis.claims.claim_rows`), the pooling
    gain over RTT and TLS (``pooling``: :func:`harness.analysis.pooling.pooling_gains`) and
    the exit code."""
    render_summary(summaries, console)
    for table in (claims_console_table(claims), pooling_console_table(pooling)):
        if table is not None:
            console.print(table)
    if comparison.revisions is not None:
        # the tables above are the head's; the base is in the paired checks below
        from harness.compare.paired import paired_headline, revision_text

        head = revision_text(comparison.revisions.get("head"))
        base = revision_text(comparison.revisions.get("base"))
        console.print(
            f"tables: the head ({escape(head)}); head against base ({escape(base)}): "
            f"{escape(paired_headline(comparison.paired))}",
            highlight=False,
        )
    for line in comparison.lines:
        console.print(escape(line), highlight=False)
    if sample is not None:
        console.print(escape(sample.message), highlight=False)
    if shard:
        console.print(
            f"shard {shard[0]}/{shard[1]}: thresholds and comparisons are decided after "
            "`uploadbench merge`",
            highlight=False,
        )
    console.print(
        f"run {escape(run_id)}: {trials} trials, {comparison.harness_errors} harness "
        f"error(s) -> exit {comparison.exit_code}",
        highlight=False,
    )
