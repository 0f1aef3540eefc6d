"""``uploadbench calibrate SCENARIO [--runs N] [--repeats R] [--paired]`` or ``uploadbench
calibrate --from RUN...``: A/A runs of unchanged code; the analysis (noise, repeats needed,
false alarms) is :func:`harness.analysis.calibration.calibrate`. With ``--paired`` each
A/A run is a base-and-head run of the same code twice, and the paired noise (the spread of
the pairs' log-ratios, :func:`harness.analysis.paired.paired_noise`) says how many pairs
detect a 5% and a 10% change; runs given with ``--from`` that hold pairs get it too."""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness.analysis.calibration import calibrate, render, render_paired
from harness.analysis.paired import has_revisions, paired_noise
from harness.commands.options import (
    REPORTS_DEFAULT,
    RUN_HELP,
    add_bootstrap_seed,
    add_reports,
    exit_codes_help,
    locate_run,
)
from harness.compare import Policy
from harness.errors import HarnessError
from harness.metrics import DEFAULT_GATING_METRICS
from harness.results import load_results
from harness.results.contract import ResultsDoc

__all__ = ["CALIBRATION_DIR", "COMMAND", "CalibrateCommand"]

# Live A/A runs go to REPORTS/calibration/<run-id>: the runner points its out dir's
# ``latest`` at every run it finishes, and calibration runs are not the run users mean.
CALIBRATION_DIR = "calibration"


class CalibrateCommand:
    name = "calibrate"
    help = "estimate noise with A/A runs"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        # calibrate gates nothing: it reports noise; Ctrl-C stops its A/A runs
        parser.epilog = exit_codes_help(0, 2, 130)
        add = parser.add_argument
        add("scenario", nargs="?", metavar="SCENARIO", help="scenario file to run N times")
        add("--runs", type=int, default=5, metavar="N", help="A/A runs (default 5)")
        add("--repeats", type=int, metavar="N", help="repeats per run (default: the scenario's)")
        add(
            "--from",
            dest="sources",
            nargs="+",
            metavar="RUN",
            help=f"analyse existing runs instead of running; each is {RUN_HELP}",
        )
        add_reports(parser)
        add("--effect", type=float, default=0.10, help="change to detect (default 0.10)")
        add("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
        add("--power", type=float, default=0.80, help="power (default 0.80)")
        add("--seed", type=int, default=0, metavar="N", help="seed of the A/A runs (run i: N+i)")
        add_bootstrap_seed(parser)
        add("--all-metrics", action="store_true", help="print every metric, not the gating ones")
        add("--json", action="store_true", help="print the analysis as JSON")
        add("--cache-dir", type=Path, metavar="DIR", help="file-set cache (as for run)")
        add("--paired", action="store_true", help="run each A/A run as base and head of the same code (both the code as it is in the current directory), interleaved per round, and report the paired noise: the pairs needed to detect 5%% and 10%%")  # noqa: E501  # fmt: skip

    def run(self, args: argparse.Namespace) -> int:
        if bool(args.scenario) == bool(args.sources):
            raise HarnessError("give either SCENARIO (to run it) or --from RUN... (not both)")
        if not 0 < args.effect < 1 or not 0 < args.alpha < 1 or not 0 < args.power < 1:
            raise HarnessError("--effect, --alpha and --power must lie between 0 and 1")
        if args.sources:
            docs = [load_results(locate_run(ref, args.reports).results) for ref in args.sources]
        else:
            docs = self._run_live(args)
        policy = Policy(alpha=args.alpha, seed=args.bootstrap_seed)
        shown = policy.checked_metrics() if args.all_metrics else DEFAULT_GATING_METRICS
        calibration = calibrate(
            docs,
            effect=args.effect,
            alpha=args.alpha,
            power=args.power,
            policy=policy,
            rng=np.random.default_rng(args.bootstrap_seed),
            simulate=shown,
        )
        noises = paired_noise(_pooled(docs)) if any(has_revisions(d) for d in docs) else []
        if args.json:
            data = calibration.to_dict()
            data["paired"] = [
                {**asdict(n), "pairs_for_5pct": n.pairs_to_detect(0.05),
                 "pairs_for_10pct": n.pairs_to_detect(0.10)}
                for n in noises
            ]  # fmt: skip
            json.dump(data, sys.stdout, indent=1, allow_nan=False)
            sys.stdout.write("\n")
        else:
            print("\n".join(render(calibration, shown)))
            if noises:
                print("\n".join(render_paired(noises, alpha=args.alpha, power=args.power)))
        return 0

    @staticmethod
    def _run_live(args: argparse.Namespace) -> list[ResultsDoc]:
        from harness.fileset import default_cache_dir
        from harness.runner import run_scenarios
        from harness.scenario import load_scenarios

        if args.runs < 2:
            raise HarnessError(f"--runs must be >= 2 for an A/A comparison, got {args.runs}")
        scenarios = load_scenarios([Path(args.scenario)])
        reports = args.reports or REPORTS_DEFAULT
        docs = []
        revisions = None
        if args.paired:
            from harness.rig.revisions import same_code_twice

            revisions = same_code_twice(cwd=Path.cwd())
        for index in range(args.runs):
            outcome = run_scenarios(
                scenarios,
                revisions=revisions,
                out_dir=reports / CALIBRATION_DIR,
                repeats=args.repeats,
                seed=args.seed + index,
                clock=lambda: datetime.now(UTC),
                rng=random.Random(),
                cache_dir=args.cache_dir or default_cache_dir(),
            )
            print(f"A/A run {index + 1}/{args.runs}: {outcome.results_path}", file=sys.stderr)
            docs.append(outcome.document)
        return docs


def _pooled(docs: list[ResultsDoc]) -> ResultsDoc:
    """The A/A runs as one document for the paired noise: run ``i``'s processes become
    processes ``i * 10_000 + repeat``, so pairs never cross runs."""
    scenarios: dict[str, list[Any]] = {}
    for i, doc in enumerate(docs):
        for s in doc["scenarios"]:
            scenarios.setdefault(s["name"], []).extend(
                {**t, "repeat": i * 10_000 + t["repeat"]} for t in s["trials"]
            )
    first = docs[0]
    return {
        **first,
        "scenarios": [
            {**next(s for d in docs for s in d["scenarios"] if s["name"] == name), "trials": ts}
            for name, ts in scenarios.items()
        ],
    }


COMMAND = CalibrateCommand()
