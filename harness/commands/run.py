"""``uploadbench run SCENARIO... [--reports DIR] [--against history|RUN|none] ...``: run
scenarios, write ``<reports>/<run-id>/results.json``, add the run to the history, write its
report, print the summary (stdout; progress on stderr) and exit with the code of
:func:`harness.compare.gate.exit_code_for`, the same function ``compare`` uses."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from rich.markup import escape

from harness.analysis.summary import summarize_run, summary_json
from harness.commands.options import (
    EXIT_CODES_HELP,
    REPORTS_DEFAULT,
    add_against,
    add_bootstrap_seed,
    add_reports,
    locate_run,
)
from harness.compare import Policy, RunComparison, compare_against
from harness.console import ProgressBar, console_for, render_summary
from harness.errors import EXIT_INTERRUPTED, HarnessError
from harness.results.contract import ResultsDoc
from harness.runner import RunOutcome, run_scenarios
from harness.scenario import load_scenarios

__all__ = ["COMMAND", "RunCommand", "default_cache_dir", "parse_shard"]


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


def default_cache_dir() -> Path:
    """Where file sets are cached between runs: ``$XDG_CACHE_HOME/uploadbench/filesets``
    (``~/.cache/...``); outside the reports folder so CI does not upload them."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "uploadbench" / "filesets"


def _after_run(
    args: argparse.Namespace, outcome: RunOutcome, reports: Path, comparison: RunComparison | None
) -> list[str]:
    """Add a finished, whole run to the history and write its report; lines saying so."""
    from harness.history import append_run, history_root

    doc, lines = _document(outcome), []
    # Shards and interrupted runs are refused by append_run: merge or re-run first.
    if not args.no_history and not doc.get("shard") and doc.get("complete"):
        written = append_run(history_root(reports), doc)
        lines.append(f"history: {len(written)} file(s) under {history_root(reports)}")
    if not args.no_report:
        from harness.report.write import load_report_history, write_report

        history, warnings = load_report_history(reports, doc)
        report = write_report(
            outcome.run_dir,
            doc,
            comparison=None if comparison is None else comparison.to_dict(),
            history=history,
            environment_warnings=warnings,
        )
        lines.append(f"report{' (incomplete)' if outcome.interrupted else ''}: {report}")
    return lines


class RunCommand:
    name = "run"
    help = "run scenarios and write REPORTS/<run-id>/"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.epilog = EXIT_CODES_HELP
        add = parser.add_argument
        add("scenarios", nargs="+", metavar="SCENARIO", help="scenario files or folders")
        add_reports(parser)
        add_against(parser)
        add("--repeats", type=int, help="measured repeats (overrides scenarios)")
        add("--quick", action="store_true", help="at most 2 repeats and no warm-ups: a look")
        add(
            "--variant",
            action="append",
            dest="variants",
            metavar="V",
            help="run only this variant (repeatable)",
        )
        add("--shard", type=parse_shard, metavar="K/N", help="run slice K of N")
        add(
            "--seed",
            type=int,
            default=0,
            metavar="N",
            help="seed of what is measured: mock, faults, jitter (default 0)",
        )
        add_bootstrap_seed(parser)
        add("--json", action="store_true", help="print the summary as JSON on stdout")
        add("--clean", action="store_true", help="delete cached file sets first")
        add(
            "--cache-dir",
            type=Path,
            help="file-set cache (default: $XDG_CACHE_HOME/uploadbench/filesets)",
        )
        add("--no-history", action="store_true", help="do not add this run to the history")
        add("--no-report", action="store_true", help="do not write the HTML report")
        add(
            "--resume",
            metavar="RUN",
            help="finish an interrupted or killed run (its folder, DIR/latest, results.json "
            "or id): run only the trials it lacks; give the same scenarios and options",
        )

    def run(self, args: argparse.Namespace) -> int:
        scenarios = load_scenarios(args.scenarios)
        if args.repeats is not None and args.repeats < 1:
            raise HarnessError(f"--repeats must be >= 1, got {args.repeats}")
        reports = args.reports or REPORTS_DEFAULT
        resume = None
        if args.resume:
            where = locate_run(args.resume, args.reports)
            resume, reports = where.results, where.reports
        cache_dir = args.cache_dir or default_cache_dir()
        if args.clean:
            from harness.fileset import clean

            clean(cache_dir)
        log = console_for(stderr=True)
        with ProgressBar(log) as bar:
            outcome = run_scenarios(
                scenarios,
                out_dir=reports,
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
            return self._interrupted(args, outcome, reports)
        # A shard holds a slice of each scenario's trials: thresholds and history are
        # decided on the merged run (uploadbench merge, then uploadbench compare).
        against = None if args.against == "none" or args.shard else args.against
        if against not in (None, "history"):
            against = str(locate_run(against, reports).results)
        comparison = compare_against(
            _document(outcome),
            against,
            reports_dir=reports,
            thresholds=not args.shard,
            policy=Policy(seed=args.bootstrap_seed),
        )
        summaries = summarize_run(
            _document(outcome), {s.name: () for s in outcome.scenarios} if args.shard else None
        )
        lines = _after_run(args, outcome, reports, comparison)
        # RunOutcome.harness_error_reasons comes with the runner's change; until then the
        # summaries' reasons (the same trial errors, read from the document) stand in.
        reasons = getattr(outcome, "harness_error_reasons", None)
        if reasons is None:
            reasons = [r for s in summaries for r in s.harness_error_reasons]
        code = comparison.exit_code
        if args.json:
            _print_json(
                {
                    "run_id": outcome.run_id,
                    "results": str(outcome.results_path),
                    "trials": outcome.trials,
                    "harness_errors": outcome.harness_errors,
                    "harness_error_reasons": list(reasons),
                    "exit_code": code,
                    "scenarios": summary_json(summaries),
                    "comparison": comparison.to_dict(),
                }
            )
        else:
            out = console_for(stderr=False)
            render_summary(summaries, out)
            for line in _verdict_lines(comparison, args.shard):
                out.print(line, highlight=False)
            out.print(
                f"run {escape(outcome.run_id)}: {outcome.trials} trials, "
                f"{outcome.harness_errors} harness error(s) -> exit {code}",
                highlight=False,
            )
        for line in lines:
            log.print(escape(line), highlight=False)
        return code

    def _interrupted(self, args: argparse.Namespace, outcome: RunOutcome, reports: Path) -> int:
        """Ctrl-C: keep what finished, write the report marked incomplete, no verdict and no
        history (an incomplete run is no night to compare with)."""
        lines = [
            f"interrupted: {outcome.trials} trial(s) finished and kept in "
            f"{outcome.results_path} (complete: false)",
            f"finish it with: uploadbench run ... --reports {reports} --resume {outcome.run_id}",
            *_after_run(args, outcome, reports, None),
        ]
        if args.json:
            _print_json(
                {
                    "run_id": outcome.run_id,
                    "results": str(outcome.results_path),
                    "trials": outcome.trials,
                    "harness_errors": outcome.harness_errors,
                    "exit_code": EXIT_INTERRUPTED,
                    "complete": False,
                }
            )
        for line in lines:
            print(line, file=sys.stderr)
        return EXIT_INTERRUPTED


def _document(outcome: RunOutcome) -> ResultsDoc:
    # the runner writes a checked ResultsDoc; its type says dict until the runner's does
    return cast(ResultsDoc, outcome.document)


def _print_json(payload: dict[str, Any]) -> None:
    json.dump(payload, sys.stdout, indent=1)
    sys.stdout.write("\n")


def _verdict_lines(comparison: RunComparison, shard: tuple[int, int] | None) -> list[str]:
    """Compare's own lines (the gating headline, each gating check that is not plainly
    fine, the notes), escaped for rich; a shard says where its verdict is decided."""
    lines = [escape(line) for line in comparison.lines]
    if shard:
        lines.append(
            f"shard {shard[0]}/{shard[1]}: thresholds and comparisons are decided after "
            "`uploadbench merge`"
        )
    return lines


COMMAND = RunCommand()
