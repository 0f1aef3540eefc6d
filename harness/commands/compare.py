"""``uploadbench compare RUN [--reports DIR] [--against history|RUN|none] [--last N]
[--metric M ...] [--junit FILE] [--markdown FILE] [--bmf FILE] [--confirm] [--json]``:
verdicts for a run against its history or another run, with CI exports. RUN given as a
path (a run folder, ``DIR/latest``) brings its reports folder ``DIR`` and its history. The
exit code comes from :func:`harness.compare.gate.exit_code_for`, the one ``run`` uses."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.commands.options import (
    EXIT_CODES_HELP,
    RUN_HELP,
    add_against,
    add_bootstrap_seed,
    add_reports,
    locate_run,
    write_export,
)
from harness.compare import Policy, compare_against, to_bmf, to_junit_xml, to_markdown
from harness.compare.confirm import CONFIRM_DIR, confirm
from harness.results import load_results

__all__ = ["COMMAND", "CompareCommand", "parse_metric"]


def parse_metric(text: str) -> str:
    """A contract metric name or alias (``throughput``, ``latency_p99``) -> its name."""
    from harness.thresholds import resolve_metric

    try:
        return resolve_metric(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _against(text: str, reports: Path) -> str | None:
    """``none`` -> None, ``history`` stays, a RUN -> the path of its results.json."""
    if text in ("none", "history"):
        return None if text == "none" else text
    return str(locate_run(text, reports).results)


class CompareCommand:
    name = "compare"
    help = "compare a run with history or another run"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.epilog = EXIT_CODES_HELP
        add = parser.add_argument
        add("run", metavar="RUN", help=RUN_HELP)
        add_against(parser)
        add_reports(parser)
        add(
            "--last",
            type=_positive,
            default=5,
            metavar="N",
            help="comparable history runs to pool (default 5)",
        )
        add(
            "--metric",
            action="append",
            dest="metrics",
            type=parse_metric,
            metavar="M",
            help="check (and gate on) only these metrics (repeatable; default: all, gating "
            "on the metric table's gating metrics)",
        )
        add("--junit", metavar="FILE", help="write JUnit XML (- for stdout)")
        add("--markdown", metavar="FILE", help="write a markdown job summary (- for stdout)")
        add("--bmf", metavar="FILE", help="write Bencher Metric Format JSON (- for stdout)")
        add("--json", action="store_true", help="print the comparison as JSON")
        add(
            "--confirm",
            action="store_true",
            help="re-run suspected regressions (same scenario files, written under "
            f"REPORTS/{CONFIRM_DIR}/) and decide on both runs",
        )
        add(
            "--scenarios",
            type=Path,
            action="append",
            metavar="PATH",
            help="where --confirm finds the scenario files (default: scenarios/)",
        )
        add(
            "--any-environment",
            action="store_true",
            help="compare with runs from another environment fingerprint (same machine, "
            "different package versions; timings across machines mean little)",
        )
        add("--seed", type=int, default=0, metavar="N", help="seed of --confirm's re-runs")
        add_bootstrap_seed(parser)
        add("--cache-dir", type=Path, metavar="DIR", help="file-set cache for --confirm")

    def run(self, args: argparse.Namespace) -> int:
        where = locate_run(args.run, args.reports)
        results = load_results(where.results)
        policy = Policy(
            metrics=tuple(dict.fromkeys(args.metrics)) if args.metrics else None,
            last=args.last,
            any_environment=args.any_environment,
            seed=args.bootstrap_seed,
        )
        against = _against(args.against, args.reports or where.reports)
        comparison = compare_against(results, against, reports_dir=where.reports, policy=policy)
        if args.confirm:
            from harness.fileset import default_cache_dir

            comparison = confirm(
                results,
                comparison,
                against=against,
                reports=where.reports,
                policy=policy,
                scenario_paths=args.scenarios or [Path("scenarios")],
                seed=args.seed + 1,
                cache_dir=args.cache_dir or default_cache_dir(),
                log=lambda line: print(line, file=sys.stderr),
            )
        if args.junit:
            write_export(args.junit, to_junit_xml(comparison))
        if args.markdown:
            write_export(args.markdown, to_markdown(comparison))
        if args.bmf:
            write_export(args.bmf, to_bmf(results))
        if args.json:
            json.dump(comparison.to_dict(), sys.stdout, indent=1, allow_nan=False)
            sys.stdout.write("\n")
        else:
            # an export written to stdout keeps stdout to itself
            to_stdout = "-" in (args.junit, args.markdown, args.bmf)
            print("\n".join(comparison.lines), file=sys.stderr if to_stdout else sys.stdout)
        return comparison.exit_code


COMMAND = CompareCommand()
