"""``uploadbench merge SHARD_RESULTS... --out DIR``: join the shards of one run (each a
results.json, a run folder or a run id) into ``DIR/<run-id>/results.json``."""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

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
        parser.add_argument(
            "shards", nargs="+", metavar="SHARD_RESULTS", help="results.json files or run folders"
        )
        parser.add_argument("--out", type=Path, required=True, help="reports folder to write to")
        parser.add_argument(
            "--allow-mixed-environments",
            action="store_true",
            help="merge shards whose environment fingerprints differ",
        )

    def run(self, args: argparse.Namespace) -> int:
        docs = [load_results(ref, reports_dir=args.out) for ref in args.shards]
        # Shards of one CI matrix each made their own run id; the merged run gets a new one
        # so it never overwrites a shard's folder.
        run_id = new_run_id(lambda: datetime.now(UTC), random.Random())
        merged = merge_results(
            docs, run_id=run_id, allow_mixed_environments=args.allow_mixed_environments
        )
        path = args.out / run_id / RESULTS_FILE
        if path.exists():
            raise ResultsError(f"{path}: already exists")
        atomic_write_text(path, json.dumps(merged, indent=1, allow_nan=False) + "\n")
        point_latest(args.out, run_id)
        trials = sum(len(s["trials"]) for s in merged["scenarios"])
        state = "complete" if merged["complete"] else "INCOMPLETE (shards missing or unfinished)"
        Console(stderr=True).print(
            f"merged {len(docs)} shard(s), {trials} trials, {state} -> {path}", highlight=False
        )
        return EXIT_OK


COMMAND = MergeCommand()
