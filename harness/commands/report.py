"""``uploadbench report RUN [--against history|RUN|none] [-o FILE] [--reports DIR]
[--nights N] [--any-environment]``: write the HTML report of a run and print its path.
Exit 0 when the page is written: the verdict gates in ``run`` and ``compare``; the page
shows the comparison it was given and says which."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.options import (
    EXIT_CODES_HELP,
    RUN_HELP,
    add_against,
    add_reports,
    locate_run,
)
from harness.report.write import TREND_NIGHTS, report_run

__all__ = ["COMMAND", "ReportCommand"]


def _nights(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


class ReportCommand:
    name = "report"
    help = "write the HTML report of a run"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        # report gates nothing itself (run and compare do); the page shows a verdict's code
        parser.epilog = (
            "report exits 0 when the page is written, 2 on error. The verdict it shows: "
            + EXIT_CODES_HELP
        )
        parser.add_argument("run", metavar="RUN", help=RUN_HELP)
        add_against(parser)
        add_reports(parser)
        parser.add_argument(
            "-o",
            "--output",
            type=Path,
            metavar="FILE",
            help="where to write the page (default: RUN's folder/index.html)",
        )
        parser.add_argument(
            "--any-environment",
            action="store_true",
            help="compare with a run or history from another environment fingerprint "
            "(the page then warns about it)",
        )
        parser.add_argument(
            "--nights",
            type=_nights,
            default=TREND_NIGHTS,
            metavar="N",
            help=f"earlier runs shown in the trends (default {TREND_NIGHTS}; 0: none)",
        )

    def run(self, args: argparse.Namespace) -> int:
        where = locate_run(args.run, args.reports)
        path = report_run(
            where.results,
            where.reports,
            against=None if args.against == "none" else args.against,
            output=args.output,
            nights=args.nights,
            any_environment=args.any_environment,
        )
        print(path)
        return 0


COMMAND = ReportCommand()
