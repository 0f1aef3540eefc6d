"""Where the report touches the disk: :func:`write_report` writes a rendered run,
:func:`load_report_history` reads the history its trends show, and :func:`report_run` does
what ``uploadbench report`` does (load a run, compare it, read history, write the page)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.compare import Policy, compare_against
from harness.errors import HarnessError
from harness.history import HistoryEntry, history_root, load_history
from harness.report.micro import find_micro_results
from harness.report.render import render_report
from harness.results import atomic_write_text, load_results

__all__ = ["REPORT_FILE", "TREND_NIGHTS", "load_report_history", "report_run", "write_report"]

REPORT_FILE = "index.html"
# 100 nights is about a season of nightlies: enough to see a step, and the trend plots stay
# small (one line point per night) whatever the history grows to.
TREND_NIGHTS = 100


def _as_record(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "run_id": entry.run_id,
        "started_at": entry.started_at,
        "scenario": entry.scenario,
        "scenario_hash": entry.scenario_hash,
        "fingerprint": entry.fingerprint,
        "git_commit": entry.git_commit,
        "groups": [
            {
                "provider": provider,
                "variant": variant,
                "concurrency": concurrency,
                "samples": {metric: list(values) for metric, values in samples.items()},
            }
            for (provider, variant, concurrency), samples in sorted(entry.groups.items())
        ],
    }


def load_report_history(
    reports_dir: Path, results: Mapping[str, Any], *, nights: int = TREND_NIGHTS
) -> tuple[list[dict[str, Any]], list[str]]:
    """The history records the report's trends need, and warnings for what was left out.

    Only earlier runs of the same scenario definition (hash) are kept: a changed scenario
    measures something else, so its old numbers would fake a step in the trend. At most the
    last ``nights`` runs are kept.
    """
    loaded = load_history(history_root(reports_dir))
    warnings = list(loaded.warnings)
    hashes = {str(s.get("name")): str(s.get("hash")) for s in results.get("scenarios") or ()}
    started = str(results.get("started_at") or "")
    run_id = results.get("run_id")
    kept, other_definition = [], 0
    for entry in loaded.entries:
        if entry.run_id == run_id or (started and entry.started_at >= started):
            continue  # the run itself, or its future when re-rendering an old run
        if entry.scenario not in hashes:
            continue
        if hashes[entry.scenario] != entry.scenario_hash:
            other_definition += 1
            continue
        kept.append(entry)
    if other_definition:
        warnings.append(
            f"Trends start at this scenario's definition: {other_definition} history "
            "record(s) ran another definition of their scenario (different hash) and are "
            "left out of the trends."
        )
    runs = sorted({(e.started_at, e.run_id) for e in kept})[-nights:]
    chosen = {run for _, run in runs}
    return [_as_record(e) for e in kept if e.run_id in chosen], warnings


def write_report(
    run_dir: Path,
    results: Mapping[str, Any] | None = None,
    *,
    comparison: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    environment_warnings: Sequence[str] = (),
    output: Path | None = None,
) -> Path:
    """Render the run in ``run_dir`` (its ``results.json`` unless ``results`` is given) and
    write it atomically to ``output`` (default ``run_dir/index.html``); returns the path.

    Links to the run's flame graphs are rewritten relative to ``output``'s folder, so a
    report written elsewhere still finds them.
    """
    doc = load_results(run_dir) if results is None else results
    target = output if output is not None else run_dir / REPORT_FILE
    prefix = os.path.relpath(run_dir.resolve(), target.parent.resolve())
    micro, micro_previous = find_micro_results(run_dir)
    html = render_report(
        doc,
        micro=micro,
        micro_previous=micro_previous,
        comparison=comparison,
        history=history,
        environment_warnings=environment_warnings,
        asset_prefix="" if prefix == "." else Path(prefix).as_posix() + "/",
    )
    try:
        atomic_write_text(target, html)
        # the temp file behind the atomic write is private (0600); a report is for reading
        target.chmod(0o644)
    except OSError as exc:
        raise HarnessError(f"{target}: cannot write the report: {exc.strerror or exc}") from None
    return target


def _other_environment(results: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[str]:
    mine = (results.get("environment") or {}).get("fingerprint")
    theirs = (baseline.get("environment") or {}).get("fingerprint")
    if mine == theirs:
        return []
    return [
        f"Compare on one machine: the baseline run {baseline.get('run_id')} ran on another "
        f"environment (fingerprint {theirs}, this run {mine}): differences may come from the "
        "machine or the packages."
    ]


def report_run(
    results_path: Path,
    reports_dir: Path,
    *,
    against: str | None = "history",
    output: Path | None = None,
    nights: int = TREND_NIGHTS,
    any_environment: bool = False,
) -> Path:
    """Write the page of the run at ``results_path`` (see
    :func:`harness.commands.options.locate_run`): compared with ``against`` (``"history"``
    of ``reports_dir``, another run, or None), its last ``nights`` of history as trends.
    Returns the page's path."""
    results = load_results(results_path)
    comparison = compare_against(
        results, against, reports_dir=reports_dir, policy=Policy(any_environment=any_environment)
    )
    history, warnings = (
        load_report_history(reports_dir, results, nights=nights) if nights else ([], [])
    )
    if against not in (None, "history"):
        warnings += _other_environment(results, load_results(against, reports_dir=reports_dir))
    return write_report(
        results_path.parent,
        results,
        comparison=comparison.to_dict(),
        history=history,
        environment_warnings=warnings,
        output=output,
    )
