"""``uploadbench report RUN [--against history|RUN|none] [-o FILE] [--reports DIR]
[--nights N] [--any-environment]``: render the HTML report of a run (``RUN`` = run folder,
results.json, run id or ``latest``). ``--against`` defaults to ``none`` like ``run``'s, so
the page of a re-rendered run shows the exit code its run printed; the page says which
comparison it shows. Exit 0 when the report is written: the verdict gates in ``run`` and
``compare``, not here."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.compare import Policy, compare_against
from harness.report.write import TREND_NIGHTS, load_report_history, write_report
from harness.results import load_results, resolve_results_path

__all__ = ["COMMAND", "ReportCommand"]


def _nights(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _other_environment(results: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[str]:
    mine = (results.get("environment") or {}).get("fingerprint")
    theirs = (baseline.get("environment") or {}).get("fingerprint")
    if mine == theirs:
        return []
    return [
        f"The baseline run {baseline.get('run_id')} ran on another environment (fingerprint "
        f"{theirs}, this run {mine}): differences may come from the machine or the packages."
    ]


class ReportCommand:
    name = "report"
    help = "render the HTML report of a run"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "run", metavar="RUN", help="run folder, results.json, run id or 'latest'"
        )
        parser.add_argument(
            "--against",
            # The same default as `run`, so re-rendering a run's page keeps its exit code;
            # nox -s bench gates on history and says so on both (`--against history`).
            default="none",
            metavar="history|RUN|none",
            help="compare with the history, another run, or nothing (default: none, as "
            "`run`; nox -s bench uses history)",
        )
        parser.add_argument(
            "-o",
            "--output",
            type=Path,
            metavar="FILE",
            help="where to write the page (default: RUN's folder/index.html)",
        )
        parser.add_argument(
            "--reports", type=Path, default=Path("reports"), help="reports folder (history, latest)"
        )
        parser.add_argument(
            "--any-environment",
            action="store_true",
            help="compare with a run or history from another environment fingerprint "
            "(the report then warns about it)",
        )
        parser.add_argument(
            "--nights",
            type=_nights,
            default=TREND_NIGHTS,
            metavar="N",
            help=f"earlier runs shown in the trends (default {TREND_NIGHTS}; 0: none)",
        )

    def run(self, args: argparse.Namespace) -> int:
        results = load_results(args.run, reports_dir=args.reports)
        run_dir = resolve_results_path(args.run, reports_dir=args.reports).parent
        against = None if args.against == "none" else args.against
        policy = Policy(any_environment=args.any_environment)
        comparison = compare_against(results, against, reports_dir=args.reports, policy=policy)
        history, warnings = (
            load_report_history(args.reports, results, nights=args.nights)
            if args.nights
            else ([], [])
        )
        if against not in (None, "history"):
            warnings.extend(
                _other_environment(results, load_results(against, reports_dir=args.reports))
            )
        path = write_report(
            run_dir,
            results,
            comparison=comparison.to_dict(),
            history=history,
            environment_warnings=warnings,
            output=args.output,
        )
        print(path)
        return 0


COMMAND = ReportCommand()
