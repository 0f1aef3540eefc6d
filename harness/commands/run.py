"""``uploadbench run SCENARIO... [--out DIR] [--repeats N] [--quick] [--variant V ...]
[--shard K/N] [--json] [--clean]``: run scenarios, write ``<out>/<run-id>/results.json``,
print a summary per scenario, exit 0/1/2/3 (DESIGN.md)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from harness.errors import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, HarnessError
from harness.runner import RunOutcome, run_scenarios
from harness.scenario import load_scenarios
from harness.summary import ScenarioSummary, render_summary, summarize_run, summary_json

__all__ = ["COMMAND", "RunCommand", "exit_code_for", "parse_shard"]


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
            self._progress.update(self._task, current=label)

    def trial_finished(self, label: str, status: str) -> None:
        if status != "ok":
            self._errors += 1
        if self._task is not None:
            errors = f"[red]{self._errors} harness error(s)[/]" if self._errors else ""
            self._progress.update(self._task, advance=1, errors=errors)


def _compare_verdict(outcome: RunOutcome, out_dir: Path) -> tuple[int | None, list[str]]:
    """Ask :mod:`harness.compare` (issue 6) for the run's verdict when it is installed."""
    if importlib.util.find_spec("harness.compare") is None:
        return None, []
    compare = importlib.import_module("harness.compare")
    verdict_fn = getattr(compare, "run_verdict", None)
    if verdict_fn is None:
        return None, []
    verdict = verdict_fn(outcome.document, reports_dir=out_dir)
    return int(verdict.exit_code), list(getattr(verdict, "lines", []))


def exit_code_for(
    summaries: Sequence[ScenarioSummary], harness_errors: int, verdict_code: int | None
) -> int:
    """2 when a trial failed in the harness (its numbers are missing), else 1 when a
    threshold failed, else the comparison's code (0, 1 or 3), else 0."""
    if harness_errors:
        return EXIT_ERROR
    if any(s.thresholds_failed for s in summaries):
        return EXIT_REGRESSION
    if verdict_code is not None:
        return verdict_code
    return EXIT_OK


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
        parser.add_argument("--cache-dir", type=Path, help="file-set cache (default: built in)")

    def run(self, args: argparse.Namespace) -> int:
        scenarios = load_scenarios(args.scenarios)
        if args.repeats is not None and args.repeats < 1:
            raise HarnessError(f"--repeats must be >= 1, got {args.repeats}")
        if args.clean:
            _clean(args.cache_dir)
        # Progress and tables go to stderr so --json keeps stdout machine-readable.
        console = Console(stderr=True)
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
                cache_dir=args.cache_dir,
            )
        summaries = summarize_run(
            outcome.document, {s.name: s.thresholds for s in outcome.scenarios}
        )
        verdict_code: int | None = None
        verdict_lines: list[str] = []
        if args.shard is None:
            verdict_code, verdict_lines = _compare_verdict(outcome, args.out)
        code = exit_code_for(summaries, outcome.harness_errors, verdict_code)
        if args.json:
            payload: dict[str, Any] = {
                "run_id": outcome.run_id,
                "results": str(outcome.results_path),
                "trials": outcome.trials,
                "harness_errors": outcome.harness_errors,
                "exit_code": code,
                "scenarios": summary_json(summaries),
            }
            json.dump(payload, sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            render_summary(summaries, console)
            for line in verdict_lines:
                console.print(line, highlight=False)
            console.print(
                f"run {outcome.run_id}: {outcome.trials} trials, "
                f"{outcome.harness_errors} harness error(s) -> {outcome.results_path}",
                highlight=False,
            )
        return code


def _clean(cache_dir: Path | None) -> None:
    from harness.fileset import clean_cache

    clean_cache(cache_dir)


COMMAND = RunCommand()
