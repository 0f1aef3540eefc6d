"""Confirmation re-runs (``compare --confirm``): re-run a comparison's suspected
regressions (their variants only), pool the new trials with the run's, and compare again.

Re-runs go to ``REPORTS/confirmations/<run-id>``: the runner points its out dir's
``latest`` at every run it finishes, and a re-run is not the run users mean by ``latest``.
They are never added to the history (the runner does not append; the run command does).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.compare.comparison import compare_against
from harness.compare.model import Policy, RunComparison
from harness.errors import HarnessError
from harness.results.contract import ResultsDoc, TrialDoc

__all__ = ["CONFIRM_DIR", "confirm", "confirm_suspects"]

CONFIRM_DIR = "confirmations"


def _scenario_files(paths: Sequence[Path]) -> dict[str, Any]:
    """Scenario objects under ``paths`` by hash (to re-run the exact definition of a run)."""
    from harness.scenario import load_scenarios

    return {s.hash: s for s in load_scenarios(list(paths))}


def confirm_suspects(
    results: ResultsDoc,
    comparison: RunComparison,
    *,
    scenario_paths: Sequence[Path],
    out_dir: Path,
    seed: int,
    cache_dir: Path,
    log: Callable[[str], None] = lambda line: None,
) -> tuple[ResultsDoc, list[str]]:
    """Re-run each scenario's suspected regressions (their variants only) with
    :func:`harness.runner.run_scenarios`, and return ``results`` with the new trials added
    (pooled repeats) plus notes naming the re-runs. ``log`` gets a progress line per re-run.

    Raises :class:`HarnessError` when a scenario file of the same definition (hash) is not
    found under ``scenario_paths`` or the re-run ran in another environment."""
    from harness.runner import run_scenarios

    suspects = comparison.suspects
    merged: ResultsDoc = copy.deepcopy(results)
    if not suspects:
        return merged, []
    by_hash = _scenario_files(scenario_paths)
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
        log(f"confirming {entry['name']}: re-running {', '.join(variants)}")
        outcome = run_scenarios(
            [scenario],
            out_dir=out_dir,
            variants=variants,
            seed=seed,
            clock=lambda: datetime.now(UTC),
            rng=random.Random(),
            cache_dir=cache_dir,
        )
        rerun = outcome.document
        rerun_fp = (rerun.get("environment") or {}).get("fingerprint")
        if rerun_fp != fingerprint:
            raise HarnessError(
                f"confirmation run {outcome.run_id} ran in another environment (fingerprint "
                f"{rerun_fp}; run {results['run_id']}: {fingerprint}); cannot pool them"
            )
        added = 0
        for again in rerun["scenarios"]:
            if again["hash"] != entry["hash"]:
                continue
            for trial in again["trials"]:
                marked: TrialDoc = {
                    **trial,
                    "key": f"{trial['key']}|confirm={outcome.run_id}",
                    "confirmation_of": results["run_id"],
                }
                entry["trials"].append(marked)
                added += 1
        notes.append(
            f"{entry['name']}: re-ran {', '.join(variants)} as run {outcome.run_id} "
            f"({added} trials, {outcome.harness_errors} harness errors, "
            f"{outcome.results_path}); verdicts pool both runs"
        )
    return merged, notes


def confirm(
    results: ResultsDoc,
    comparison: RunComparison,
    *,
    against: str | None,
    reports: Path,
    policy: Policy,
    scenario_paths: Sequence[Path],
    seed: int,
    cache_dir: Path,
    log: Callable[[str], None] = lambda line: None,
) -> RunComparison:
    """Re-run ``comparison``'s suspects and compare the pooled run again the same way
    (``against``, ``reports``, ``policy``); ``comparison`` itself when nothing is suspect."""
    if not comparison.suspects:
        return comparison
    merged, notes = confirm_suspects(
        results,
        comparison,
        scenario_paths=scenario_paths,
        out_dir=reports / CONFIRM_DIR,
        seed=seed,
        cache_dir=cache_dir,
        log=log,
    )
    return compare_against(merged, against, reports_dir=reports, policy=policy, notes=notes)
