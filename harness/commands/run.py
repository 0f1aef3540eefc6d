"""``uploadbench run SCENARIO... [--out DIR] [--repeats N] [--quick] [--variant V ...]
[--shard K/N] [--json] [--clean]``: run scenarios, write ``<out>/<run-id>/results.json``,
print a summary per scenario, exit 0/1/2/3 (DESIGN.md)."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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

from harness.errors import (
    EXIT_ERROR,
    EXIT_INCONCLUSIVE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REGRESSION,
    HarnessError,
)
from harness.runner import RunOutcome, run_scenarios
from harness.scenario import load_scenarios
from harness.summary import ScenarioSummary, render_summary, summarize_run, summary_json

__all__ = [
    "COMMAND",
    "RunCommand",
    "default_cache_dir",
    "exit_code_for",
    "parse_shard",
]


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``; argparse turns the ValueError into a usage error."""
    k_text, sep, n_text = text.partition("/")
    try:
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N such as 1/2, got {text!r}") from None
    if not sep or n < 1 or not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, got {text!r}")
    return k, n


class _Bar:
    """Progress sink drawing trials done/left, elapsed, ETA and the current trial."""

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

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, total: int) -> None:
        self._task = self._progress.add_task("run", total=total, current="starting", errors="")

    def trial_started(self, label: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, current=escape(label))

    def trial_finished(self, label: str, status: str) -> None:
        if status != "ok":
            self._errors += 1
        if self._task is not None:
            errors = f"[red]{self._errors} harness error(s)[/]" if self._errors else ""
            self._progress.update(self._task, advance=1, errors=errors)


@dataclass(frozen=True)
class _Verdict:
    """What the comparison module (issue 6) said, reduced to what ``run`` needs."""

    exit_code: int | None
    lines: tuple[str, ...]
    comparison: dict[str, Any] | None


def _compare(doc: dict[str, Any], against: str | None, out_dir: Path) -> _Verdict:
    """Thresholds, variant and (with ``against``) history checks from :mod:`harness.compare`;
    its exit code joins the summary's own threshold verdicts. Lines are rich markup with every
    name escaped."""
    from harness.compare import compare_against

    comparison = compare_against(doc, against, reports_dir=out_dir)
    lines = [f"[dim]{escape(note)}[/]" for note in comparison.notes]
    history = [c for c in comparison.checks if c.kind == "history" and c.gating]
    if history:
        counts = {v: sum(1 for c in history if c.verdict == v) for v in _VERDICTS}
        shown = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        lines.append(f"against {escape(comparison.against)}: {shown}")
        lines.extend(
            f"  [red]regressed[/] {escape(c.label)} {c.metric}: {escape(c.reason)}"
            for c in history
            if c.failed
        )
    return _Verdict(comparison.exit_code, tuple(lines), comparison.to_dict())


_VERDICTS = ("regressed", "improved", "unchanged", "inconclusive")


def exit_code_for(
    summaries: Sequence[ScenarioSummary], harness_errors: int, verdict_code: int | None
) -> int:
    """2 when a trial failed in the harness (its numbers are missing); else 1 when a
    threshold failed or the comparison confirmed a regression; else 3 when a threshold
    could not be measured or the comparison is inconclusive; else 0."""
    if harness_errors:
        return EXIT_ERROR
    if any(s.thresholds_failed for s in summaries) or verdict_code == EXIT_REGRESSION:
        return EXIT_REGRESSION
    unmeasured = any(t.passed is None for s in summaries for t in s.thresholds)
    if unmeasured or verdict_code == EXIT_INCONCLUSIVE:
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def _append_history(doc: dict[str, Any], out_dir: Path) -> str | None:
    from harness.history import append_run, history_root

    # Shards and interrupted runs are refused by append_run: merge or re-run first.
    if doc.get("shard") or not doc.get("complete"):
        return None
    written = append_run(history_root(out_dir), doc)
    return f"history: {len(written)} file(s) under {history_root(out_dir)}"


def _write_report(
    run_dir: Path, doc: dict[str, Any], comparison: dict[str, Any] | None, reports_dir: Path
) -> Path:
    """The run's HTML page, with the trends of the earlier nights of the same scenarios."""
    from harness.report.write import load_report_history, write_report

    history, warnings = load_report_history(reports_dir, doc)
    return write_report(
        run_dir, doc, comparison=comparison, history=history, environment_warnings=warnings
    )


class RunCommand:
    name = "run"
    help = "run scenarios and write reports/<run-id>/"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "scenarios", nargs="+", metavar="SCENARIO", help="scenario files or folders"
        )
        parser.add_argument("--out", type=Path, default=Path("reports"), help="reports folder")
        parser.add_argument("--repeats", type=int, help="measured repeats (overrides scenarios)")
        parser.add_argument(
            "--quick", action="store_true", help="at most 2 repeats and no warm-ups: a look"
        )
        parser.add_argument(
            "--variant",
            action="append",
            dest="variants",
            metavar="V",
            help="run only this variant (repeatable)",
        )
        parser.add_argument("--shard", type=parse_shard, metavar="K/N", help="run slice K of N")
        parser.add_argument("--seed", type=int, default=0, help="seed of mock, faults, jitter")
        parser.add_argument(
            "--json", action="store_true", help="print the summary as JSON on stdout"
        )
        parser.add_argument("--clean", action="store_true", help="delete cached file sets first")
        parser.add_argument(
            "--cache-dir",
            type=Path,
            help="file-set cache (default: $XDG_CACHE_HOME/uploadbench/filesets)",
        )
        parser.add_argument(
            "--against",
            default="none",
            metavar="history|RUN|none",
            help="gate on a comparison with history or another run (default: none; "
            "nox -s bench uses history)",
        )
        parser.add_argument(
            "--no-history", action="store_true", help="do not add this run to the history"
        )
        parser.add_argument("--no-report", action="store_true", help="do not write the HTML report")
        parser.add_argument(
            "--resume",
            metavar="RUN",
            help="finish an interrupted or killed run (id, folder or results file): run only "
            "the trials it lacks; give the same scenarios and options",
        )

    def run(self, args: argparse.Namespace) -> int:
        scenarios = load_scenarios(args.scenarios)
        if args.repeats is not None and args.repeats < 1:
            raise HarnessError(f"--repeats must be >= 1, got {args.repeats}")
        cache_dir = args.cache_dir or default_cache_dir()
        resume = None
        if args.resume:
            from harness.results import resolve_results_path

            resume = resolve_results_path(args.resume, reports_dir=args.out)
        if args.clean:
            from harness.fileset import clean

            clean(cache_dir)
        # Progress and tables go to stderr so --json keeps stdout machine-readable.
        console = Console(stderr=True)
        if not console.is_terminal:
            # CI logs are not 80 columns wide; a wrapped table is unreadable there.
            console = Console(stderr=True, width=160)
        with _Bar(console) as bar:
            outcome = run_scenarios(
                scenarios,
                out_dir=args.out,
                repeats=args.repeats,
                quick=args.quick,
                variants=args.variants,
                shard=args.shard,
                progress=bar,
                seed=args.seed,
                clock=lambda: datetime.now(UTC),
                rng=random.Random(),
                cache_dir=cache_dir,
                resume=resume,
            )
        if outcome.interrupted:
            return self._interrupted(args, outcome, console)
        # A shard holds a slice of each scenario's trials: thresholds and comparisons are
        # decided on the merged run (uploadbench merge, then uploadbench compare).
        summaries = summarize_run(
            outcome.document,
            {s.name: () if args.shard else s.thresholds for s in outcome.scenarios},
        )
        doc = outcome.document
        verdict = _Verdict(None, (), None)
        if args.shard is None:
            against = None if args.against == "none" else args.against
            verdict = _compare(doc, against, args.out)
        code = exit_code_for(summaries, outcome.harness_errors, verdict.exit_code)
        extra: list[str] = []
        if args.shard:
            extra.append(
                f"shard {args.shard[0]}/{args.shard[1]}: thresholds and comparisons are "
                "decided after `uploadbench merge`"
            )
        if not args.no_history and (line := _append_history(doc, args.out)):
            extra.append(line)
        if not args.no_report:
            report = _write_report(outcome.run_dir, doc, verdict.comparison, args.out)
            extra.append(f"report: {escape(str(report))}")
        if args.json:
            payload: dict[str, Any] = {
                "run_id": outcome.run_id,
                "results": str(outcome.results_path),
                "trials": outcome.trials,
                "harness_errors": outcome.harness_errors,
                "exit_code": code,
                "scenarios": summary_json(summaries),
                "comparison": verdict.comparison,
            }
            json.dump(payload, sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            render_summary(summaries, console)
            for line in (*verdict.lines, *extra):
                console.print(line, highlight=False)
            console.print(
                f"run {outcome.run_id}: {outcome.trials} trials, "
                f"{outcome.harness_errors} harness error(s) -> {outcome.results_path}",
                highlight=False,
            )
        return code

    def _interrupted(self, args: argparse.Namespace, outcome: RunOutcome, console: Console) -> int:
        """Ctrl-C: keep what finished, write the report marked incomplete, no verdict and no
        history (an incomplete run is no night to compare with)."""
        lines = [
            f"interrupted: {outcome.trials} trial(s) finished and kept in "
            f"{outcome.results_path} (complete: false)",
            f"finish it with: uploadbench run ... --out {args.out} --resume {outcome.run_id}",
        ]
        if not args.no_report:
            report = _write_report(outcome.run_dir, outcome.document, None, args.out)
            lines.append(f"report (incomplete): {report}")
        if args.json:
            payload = {
                "run_id": outcome.run_id,
                "results": str(outcome.results_path),
                "trials": outcome.trials,
                "harness_errors": outcome.harness_errors,
                "exit_code": EXIT_INTERRUPTED,
                "complete": False,
            }
            json.dump(payload, sys.stdout, indent=1)
            sys.stdout.write("\n")
        for line in lines:
            console.print(escape(line), highlight=False)
        return EXIT_INTERRUPTED


def default_cache_dir() -> Path:
    """Where file sets are cached between runs: ``$XDG_CACHE_HOME/uploadbench/filesets``
    (``~/.cache/...``); outside the reports folder so CI does not upload them."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "uploadbench" / "filesets"


COMMAND = RunCommand()
