"""``uploadbench compare RUN [--against history|RUN|none] [--last N] [--metric M ...]
[--junit FILE] [--markdown FILE] [--bmf FILE] [--confirm] [--json]``: verdicts for a run
against its history or another run, with CI exports; exit 0/1/3 (errors: 2, raised)."""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.compare import (
    Policy,
    RunComparison,
    compare_against,
    compare_run,
    to_bmf,
    to_junit_xml,
    to_markdown,
)
from harness.errors import HarnessError, ResultsError
from harness.history import history_root, load_history
from harness.results import atomic_write_text, load_results

__all__ = ["COMMAND", "CONFIRM_DIR", "CompareCommand", "confirm_suspects", "parse_metric"]

# Confirmation re-runs go to REPORTS/confirmations/<run-id>: the runner points its out
# dir's ``latest`` at every run it finishes, and a re-run is not the run users mean by
# ``latest``. They are never added to the history (the runner does not append; run does).
CONFIRM_DIR = "confirmations"


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


def _write(target: str, text: str) -> None:
    """``-`` is stdout; anything else is replaced atomically (written last, at the edge)."""
    if target == "-":
        sys.stdout.write(text)
    else:
        atomic_write_text(Path(target), text)


def _scenario_files(paths: Sequence[Path]) -> dict[str, Any]:
    """Scenario objects under ``paths`` by hash (to re-run the exact definition of a run)."""
    from harness.scenario import load_scenarios

    return {s.hash: s for s in load_scenarios(list(paths))}


def confirm_suspects(
    results: Mapping[str, Any],
    comparison: RunComparison,
    *,
    scenario_paths: Sequence[Path],
    out_dir: Path,
    seed: int,
    cache_dir: Path,
) -> tuple[dict[str, Any], list[str]]:
    """Re-run each scenario's suspected regressions (their variants only) with
    :func:`harness.runner.run_scenarios`, and return ``results`` with the new trials added
    (pooled repeats) plus notes naming the re-runs. The caller compares again.

    Raises :class:`HarnessError` when a scenario file of the same definition (hash) is not
    found under ``scenario_paths`` or the re-run ran in another environment."""
    from harness.runner import run_scenarios

    suspects = comparison.suspects
    if not suspects:
        return dict(results), []
    by_hash = _scenario_files(scenario_paths)
    merged = copy.deepcopy(dict(results))
    fingerprint = (results.get("environment") or {}).get("fingerprint")
    notes = []
    for entry in merged["scenarios"]:
        variants = sorted({c.variant for c in suspects if c.scenario == entry["name"]})
        if not variants:
            continue
        scenario = by_hash.get(entry["hash"])
        if scenario is None:
            shown = ", ".join(str(p) for p in scenario_paths)
            raise HarnessError(
                f"cannot confirm {entry['name']!r}: no scenario file under {shown} has its "
                f"definition (hash {str(entry['hash'])[:12]}); it changed since the run"
            )
        outcome = run_scenarios(
            [scenario],
            out_dir=out_dir,
            variants=variants,
            seed=seed,
            clock=lambda: datetime.now(UTC),
            rng=random.Random(),
            cache_dir=cache_dir,
        )
        rerun_fp = (outcome.document.get("environment") or {}).get("fingerprint")
        if rerun_fp != fingerprint:
            raise HarnessError(
                f"confirmation run {outcome.run_id} ran in another environment (fingerprint "
                f"{rerun_fp}; run {results['run_id']}: {fingerprint}); cannot pool them"
            )
        added = 0
        for rerun in outcome.document["scenarios"]:
            if rerun["hash"] != entry["hash"]:
                continue
            for trial in rerun["trials"]:
                trial = dict(trial)
                trial["key"] = f"{trial['key']}|confirm={outcome.run_id}"
                trial["confirmation_of"] = results["run_id"]
                entry["trials"].append(trial)
                added += 1
        notes.append(
            f"{entry['name']}: re-ran {', '.join(variants)} as run {outcome.run_id} "
            f"({added} trials, {outcome.harness_errors} harness errors, "
            f"{outcome.results_path}); verdicts pool both runs"
        )
    return merged, notes


class CompareCommand:
    name = "compare"
    help = "compare a run with history or another run"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("run", metavar="RUN", help="run folder, results.json, run id or latest")
        parser.add_argument(
            "--against",
            default="history",
            metavar="history|RUN|none",
            help="baseline: the run history (default), another run, or none "
            "(thresholds and variant checks only)",
        )
        parser.add_argument(
            "--reports", type=Path, default=Path("reports"), help="reports folder (history)"
        )
        parser.add_argument(
            "--last", type=_positive, default=5, help="comparable history runs to pool (5)"
        )
        parser.add_argument(
            "--metric",
            action="append",
            dest="metrics",
            type=parse_metric,
            metavar="M",
            help="check (and gate on) only these metrics (repeatable; default: all, gating "
            "on throughput, latency p50/p99 and success rate)",
        )
        parser.add_argument("--junit", metavar="FILE", help="write JUnit XML (- for stdout)")
        parser.add_argument("--markdown", metavar="FILE", help="write a markdown job summary")
        parser.add_argument("--bmf", metavar="FILE", help="write Bencher Metric Format JSON")
        parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
        parser.add_argument(
            "--confirm",
            action="store_true",
            help="re-run suspected regressions (same scenario files, written under "
            f"REPORTS/{CONFIRM_DIR}/) and decide on both runs",
        )
        parser.add_argument(
            "--scenarios",
            type=Path,
            action="append",
            metavar="PATH",
            help="where --confirm finds the scenario files (default: scenarios/)",
        )
        parser.add_argument(
            "--any-environment",
            action="store_true",
            help="compare with runs from another environment fingerprint (same machine, "
            "different package versions; timings across machines mean little)",
        )
        parser.add_argument("--seed", type=int, default=0, help="bootstrap and re-run seed")
        parser.add_argument("--cache-dir", type=Path, help="file-set cache for --confirm")

    def run(self, args: argparse.Namespace) -> int:
        results = load_results(args.run, reports_dir=args.reports)
        policy = Policy(
            metrics=tuple(dict.fromkeys(args.metrics)) if args.metrics else None,
            last=args.last,
            any_environment=args.any_environment,
            seed=args.seed,
        )
        against = None if args.against == "none" else args.against
        comparison = compare_against(results, against, reports_dir=args.reports, policy=policy)
        if args.confirm and comparison.suspects:
            from harness.commands.run import default_cache_dir

            merged, notes = confirm_suspects(
                results,
                comparison,
                scenario_paths=args.scenarios or [Path("scenarios")],
                out_dir=args.reports / CONFIRM_DIR,
                seed=args.seed + 1,
                cache_dir=args.cache_dir or default_cache_dir(),
            )
            comparison = _recompare(merged, against, args.reports, policy, notes)
        if args.junit:
            _write(args.junit, to_junit_xml(comparison))
        if args.markdown:
            _write(args.markdown, to_markdown(comparison))
        if args.bmf:
            _write(args.bmf, to_bmf(results))
        if args.json:
            json.dump(comparison.to_dict(), sys.stdout, indent=1, allow_nan=False)
            sys.stdout.write("\n")
        else:
            # an export written to stdout keeps stdout to itself
            to_stdout = "-" in (args.junit, args.markdown, args.bmf)
            print("\n".join(comparison.lines), file=sys.stderr if to_stdout else sys.stdout)
        return comparison.exit_code


def _recompare(
    merged: Mapping[str, Any],
    against: str | None,
    reports: Path,
    policy: Policy,
    notes: Sequence[str],
) -> RunComparison:
    if against == "history":
        loaded = load_history(history_root(reports))
        return compare_run(
            merged, history=loaded.entries, policy=policy, notes=[*loaded.warnings, *notes]
        )
    if against is None:
        return compare_run(merged, policy=policy, notes=notes)
    other = load_results(against, reports_dir=reports)
    if other["run_id"] == merged["run_id"]:
        raise ResultsError(f"{against}: is run {other['run_id']} itself")
    loaded = load_history(history_root(reports))
    return compare_run(
        merged,
        baseline_run=other,
        policy=policy,
        notes=[*loaded.warnings, *notes],
        noise_history=loaded.entries,
    )


COMMAND = CompareCommand()
