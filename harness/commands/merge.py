"""``uploadbench merge SHARD_RESULTS... [--reports DIR] [--history]``: join the shards of one
run (each a results.json, a run folder or a run id under DIR) into
``DIR/<run-id>/results.json``; ``--history`` then adds the merged night to DIR's history
by the rule ``run`` uses (:func:`harness.commands.run.add_to_history`).

The merged file's path goes to stdout (the result); the summary line to stderr."""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from harness.commands.options import REPORTS_DEFAULT, add_reports, exit_codes_help
from harness.errors import EXIT_OK, ResultsError
from harness.results import (
    RESULTS_FILE,
    atomic_write_text,
    load_results,
    merge_results,
    new_run_id,
    point_latest,
)

__all__ = ["COMMAND", "MergeCommand"]


class MergeCommand:
    name = "merge"
    help = "merge shards of one run into one results.json"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.epilog = exit_codes_help(0, 2)
        parser.add_argument(
            "shards", nargs="+", metavar="SHARD_RESULTS", help="results.json files or run folders"
        )
        add_reports(parser)
        parser.add_argument(
            "--allow-mixed-environments",
            action="store_true",
            help="merge shards whose environment fingerprints differ",
        )
        parser.add_argument(
            "--history",
            action="store_true",
            help="add the merged run to the history, as run does with a whole run (not when "
            "incomplete, of mixed environments or when it lost data)",
        )

    def run(self, args: argparse.Namespace) -> int:
        reports: Path = args.reports if args.reports is not None else REPORTS_DEFAULT
        docs = [load_results(ref, reports_dir=reports) for ref in args.shards]
        # Shards of one CI matrix each made their own run id; the merged run gets a new one
        # so it never overwrites a shard's folder.
        run_id = new_run_id(lambda: datetime.now(UTC), random.Random())
        merged = merge_results(
            docs, run_id=run_id, allow_mixed_environments=args.allow_mixed_environments
        )
        path = reports / run_id / RESULTS_FILE
        if path.exists():
            raise ResultsError(f"{path}: already exists")
        atomic_write_text(path, json.dumps(merged, indent=1, allow_nan=False) + "\n")
        point_latest(reports, run_id)
        trials = sum(len(s["trials"]) for s in merged["scenarios"])
        state = "complete" if merged["complete"] else "INCOMPLETE (shards missing or unfinished)"
        Console(stderr=True).print(
            f"merged {len(docs)} shard(s), {trials} trials, {state} -> {path}", highlight=False
        )
        print(path)
        if args.history:
            from harness.commands.run import add_to_history

            mixed = len({(d.get("environment") or {}).get("fingerprint") for d in docs}) > 1
            line = (
                "history: not added (shards of mixed environments)"
                if mixed
                else add_to_history(reports, merged)
            )
            Console(stderr=True).print(line, highlight=False)
        return EXIT_OK


COMMAND = MergeCommand()
