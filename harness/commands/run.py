"""``uploadbench run SCENARIO... [--reports DIR] [--against history|RUN|none] [--base REV
[--head REV]] ...``: run scenarios, write ``<reports>/<run-id>/results.json``, add the run
to the history, write its report, print the summary (stdout; progress and log lines on
stderr) and exit with the code of :func:`harness.compare.gate.exit_code_for`, the same
function ``compare`` uses.

With ``--base`` it is a base-and-head run: every variant runs for both revisions of the
code under test, interleaved per round (:mod:`harness.rig.revisions`, :mod:`harness.plan`),
and the head is judged against the base on the pairs (:mod:`harness.analysis.paired`)
beside thresholds and history (which see the head only)."""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from harness import fileset
from harness.analysis.claims import claim_rows
from harness.analysis.pooling import pooling_gains
from harness.analysis.summary import sample_time, summarize_run, summary_json
from harness.commands.options import (
    EXIT_CODES_HELP,
    REPORTS_DEFAULT,
    RUN_HELP,
    add_against,
    add_bootstrap_seed,
    add_reports,
    locate_run,
    parse_shard,
    write_export,
)
from harness.compare import Policy, RunComparison, compare_against, to_markdown
from harness.console import ProgressBar, console_for, render_run
from harness.errors import EXIT_INTERRUPTED, HarnessError
from harness.results.contract import ResultsDoc
from harness.runner import RunOutcome, run_scenarios
from harness.scenario import Scenario, load_scenarios
from harness.units import parse_duration

if TYPE_CHECKING:
    from harness.rig.revisions import Revision

__all__ = ["COMMAND", "RunCommand"]


class RunCommand:
    name = "run"
    help = "run scenarios and write REPORTS/<run-id>/"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.epilog = EXIT_CODES_HELP
        add = parser.add_argument
        add("scenarios", nargs="+", metavar="SCENARIO", help="scenario files or folders")
        add_reports(parser)
        add_against(parser)
        add("--repeats", type=int, metavar="N", help="measured repeats (overrides scenarios)")
        add("--quick", action="store_true", help="at most 2 repeats and no warm-ups: a look")
        add("--variant", action="append", dest="variants", metavar="V", help="run only variant V, a variant name from the scenario (repeatable); thresholds and ratios against a variant left out stay undecided")  # noqa: E501  # fmt: skip
        add("--shard", type=parse_shard, metavar="K/N", help="run slice K of N")
        add("--seed", type=int, default=0, metavar="N", help="seed of what is measured: mock, faults, jitter (default 0)")  # noqa: E501  # fmt: skip
        add_bootstrap_seed(parser)
        add("--json", action="store_true", help="print the summary as JSON on stdout")
        add(
            "--clean",
            action="store_true",
            help="delete cached file sets, revision worktrees and their venvs first",
        )
        add("--cache-dir", type=Path, metavar="DIR", help="file-set cache (default: $XDG_CACHE_HOME/uploadbench/filesets)")  # noqa: E501  # fmt: skip
        add("--no-history", action="store_true", help="do not add this run to the history")
        add("--no-report", action="store_true", help="do not write the HTML report")
        add("--order", choices=("random", "fixed"), default="random", help="order of the cells within each repeat: random, drawn from the scenario's seed (default), or fixed, the scenario's own order (to compare order effects, benchmarks/aa_order.py)")  # noqa: E501  # fmt: skip
        add("--base", metavar="REV", help="a base-and-head run: also run every variant with the code under test at git revision REV (the bundled uploader in this repository; a plugin's module from the repository of the current directory or --repo) and judge the head against it on pairs measured side by side")  # noqa: E501  # fmt: skip
        add("--head", metavar="REV", help="the head revision of a base-and-head run (default: the working tree, uncommitted changes included)")  # noqa: E501  # fmt: skip
        add("--repo", type=Path, metavar="PATH", help="the git repository of the code under test (default: the one of the current directory)")  # noqa: E501  # fmt: skip
        add("--max-pairs", type=int, metavar="N", help="with --base: while a gating head-against-base check is inconclusive, add processes of the scenario's rounds to the undecided cells until they hold N pairs (default: no pairs added)")  # noqa: E501  # fmt: skip
        add("--pairs-budget", type=parse_duration, default=600.0, metavar="DURATION", help="with --max-pairs: stop adding pairs after this long, e.g. 5min (default 10min)")  # noqa: E501  # fmt: skip
        add("--markdown", metavar="FILE", help="write the verdict as a markdown job summary (- for stdout), with head against base first in a base-and-head run")  # noqa: E501  # fmt: skip
        add("--resume", metavar="RUN", help=f"finish an interrupted or killed run, {RUN_HELP}: run only the trials it lacks (same scenarios and options)")  # noqa: E501  # fmt: skip

    def run(self, args: argparse.Namespace) -> int:
        scenarios = load_scenarios(args.scenarios)
        if args.repeats is not None and args.repeats < 1:
            raise HarnessError(f"--repeats must be >= 1, got {args.repeats}")
        where = locate_run(args.resume, args.reports) if args.resume else None
        reports = where.reports if where else args.reports or REPORTS_DEFAULT
        cache_dir = args.cache_dir or fileset.default_cache_dir()
        if args.clean:
            from harness.fileset import clean
            from harness.rig.revisions import clean_revisions

            clean(cache_dir)
            clean_revisions(cache_dir.parent)
        revisions = _revisions(args, scenarios)
        log = console_for(stderr=True)
        with ProgressBar(log) as bar:
            outcome = run_scenarios(
                scenarios, out_dir=reports, repeats=args.repeats, quick=args.quick,
                variants=args.variants, shard=args.shard, progress=bar, seed=args.seed,
                clock=lambda: datetime.now(UTC), rng=random.Random(), cache_dir=cache_dir,
                resume=where.results if where else None, order=args.order,
                revisions=revisions, max_pairs=args.max_pairs, max_extra_s=args.pairs_budget,
            )  # fmt: skip
        for line in outcome.extensions:
            print(f"pairs: {line}", file=sys.stderr)
        # the runner writes a checked ResultsDoc; its type says dict until the runner's does
        doc = outcome.document
        if outcome.interrupted:
            if args.json:
                json.dump({
                    "run_id": outcome.run_id, "results": str(outcome.results_path),
                    "trials": outcome.trials, "harness_errors": outcome.harness_errors,
                    "exit_code": EXIT_INTERRUPTED, "complete": False,
                }, sys.stdout, indent=1)  # fmt: skip
                sys.stdout.write("\n")
            for line in _after_run(args, outcome, reports, None):
                print(line, file=sys.stderr)
            return EXIT_INTERRUPTED
        # A shard holds a slice of each scenario's trials: thresholds and history are
        # decided on the merged run (uploadbench merge, then uploadbench compare).
        against = None if args.against == "none" or args.shard else args.against
        if against not in (None, "history"):
            against = str(locate_run(against, reports).results)
        policy = Policy(seed=args.bootstrap_seed)
        comparison = compare_against(
            doc, against, reports_dir=reports, thresholds=not args.shard, policy=policy
        )
        summaries = summarize_run(doc, {s.name: () for s in scenarios} if args.shard else None)
        if args.json:
            json.dump({
                "run_id": outcome.run_id, "results": str(outcome.results_path),
                "trials": outcome.trials, "harness_errors": outcome.harness_errors,
                "harness_error_reasons": outcome.harness_error_reasons,
                "exit_code": comparison.exit_code, "scenarios": summary_json(summaries),
                "comparison": comparison.to_dict(),
            }, sys.stdout, indent=1)  # fmt: skip
            sys.stdout.write("\n")
        else:
            render_run(
                console_for(stderr=False), summaries, comparison,
                run_id=outcome.run_id, trials=outcome.trials, shard=args.shard,
                sample=sample_time(doc),
                # a shard holds a slice of each scenario: its claims wait for the merge
                claims=() if args.shard else claim_rows(doc["scenarios"]),
                pooling=() if args.shard else pooling_gains(doc["scenarios"]),
            )  # fmt: skip
        if args.markdown:
            write_export(args.markdown, to_markdown(comparison))
        for line in _after_run(args, outcome, reports, comparison):
            print(line, file=sys.stderr)
        return comparison.exit_code


def _revisions(args: argparse.Namespace, scenarios: Sequence[Scenario]) -> list[Revision]:
    """Base and head of a base-and-head run, prepared before any trial (a bad revision
    or a module missing from one is a one-line error, exit 2); none otherwise."""
    if args.base is None:
        for flag in ("head", "repo", "max_pairs"):
            if getattr(args, flag) is not None:
                raise HarnessError(f"--{flag.replace('_', '-')} needs --base REV")
        return []
    if args.max_pairs is not None and args.max_pairs < 1:
        raise HarnessError(f"--max-pairs must be >= 1, got {args.max_pairs}")
    if args.shard or args.resume:
        # a shard's or a resumed run's revisions would have to match the first part's
        raise HarnessError("--base cannot be combined with --shard or --resume yet")
    from harness.rig.revisions import prepare_revisions

    specs = sorted({s.spec_of(v) for s in scenarios for v in s.variants})
    cache = (args.cache_dir or fileset.default_cache_dir()).parent
    base, head = prepare_revisions(
        args.base, args.head, variant_specs=specs, repo=args.repo, cache_dir=cache,
        cwd=Path.cwd(),
    )  # fmt: skip
    for revision in (base, head):
        where = "" if revision.commit is None else f" @ {revision.commit[:12]}"
        dirty = " (uncommitted changes)" if revision.dirty else ""
        print(
            f"{revision.label}: {revision.ref}{where}{dirty}: {', '.join(revision.modules)} "
            f"from {revision.tree}", file=sys.stderr,
        )  # fmt: skip
    return [base, head]


def _after_run(
    args: argparse.Namespace, outcome: RunOutcome, reports: Path, comparison: RunComparison | None
) -> list[str]:
    """Add a finished, whole run to the history and write its report (marked incomplete
    after Ctrl-C, with no verdict: an incomplete run is no night to compare with)."""
    doc, lines = outcome.document, []
    if outcome.interrupted:
        lines += [
            f"interrupted: {outcome.trials} trial(s) finished and kept in "
            f"{outcome.results_path} (complete: false)",
            f"finish it with: uploadbench run ... --reports {reports} --resume {outcome.run_id}",
        ]
    if not args.no_history and not doc.get("shard") and doc.get("complete"):
        lines.append(add_to_history(reports, doc))
    if not args.no_report:
        from harness.report.write import load_report_history, write_report

        history, warnings = load_report_history(reports, doc)
        report = write_report(
            outcome.run_dir, doc, comparison=comparison.to_dict() if comparison else None,
            history=history, environment_warnings=warnings,
        )  # fmt: skip
        lines.append(f"report{' (incomplete)' if outcome.interrupted else ''}: {report}")
    return lines


def add_to_history(reports: Path, doc: ResultsDoc) -> str:
    """The one rule for what becomes a night of the history (``run``, and ``merge
    --history`` for a merged night): a complete, whole run (``append_run`` refuses shards
    and unfinished runs) that lost no data, since a night whose files the provider does not
    hold is no baseline for later nights. Returns the line that says what happened."""
    from harness.analysis.integrity import data_lost
    from harness.errors import ResultsError
    from harness.history import append_run, history_root

    if any(data_lost(s) for s in doc["scenarios"]):
        return "history: not added (data lost)"
    try:
        written = append_run(history_root(reports), doc)
    except ResultsError as err:
        return f"history: not added ({err})"
    return f"history: {len(written)} file(s) under {history_root(reports)}"


COMMAND = RunCommand()
