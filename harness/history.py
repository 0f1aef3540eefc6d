"""Run history: per-repeat summaries of every finished run, one plain JSON file per run and
scenario, under ``reports/history/<scenario-hash>/<run-id>.json``.

Why one file per run: two writers (two CI jobs, a run and a merge) never touch the same
file, each file is written atomically (temp file + ``os.replace``), and histories from
different CI runners merge by copying folders. A corrupt file costs only itself: loading a
whole history skips it and reports it by name; asking for that run by id raises
:class:`ResultsError` naming it.

History file format (bump :data:`HISTORY_VERSION` on incompatible change; readers skip
versions they do not know):

- 1: ``{history_version, run_id, started_at, scenario, scenario_hash, fingerprint,
  git_commit, baseline, groups: [{provider, variant, concurrency, samples: {metric:
  [per-repeat values]}}], error_kinds: [{provider, variant, concurrency, kinds: {kind:
  count}}]}``. ``error_kinds`` was added within version 1: a file without it predates it
  and says nothing about error kinds (:attr:`HistoryEntry.error_kinds` is None), which the
  rollback triggers report as "not checked", never as "none seen".

Samples are the per-repeat values of each metric of each cell
(:func:`harness.analysis.cells.cell_samples`: timing metrics from the timing trials,
``heap_peak_bytes`` from the profiled trials), so the rollback triggers
(:mod:`harness.analysis.triggers`) read a cell's error and timeout rate medians and its
heap and RSS peak maxima from them. ``error_kinds`` lists every cell of the run's code that
ran (``{}`` when none of its uploads failed) with how often each
:func:`harness.analysis.triggers.error_kind` occurred.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.analysis.cells import cell_samples
from harness.analysis.triggers import PastRun, cell_error_kinds
from harness.errors import ResultsError
from harness.results import METRIC_NAMES, atomic_write_text, read_json_file
from harness.results.contract import ResultsDoc

__all__ = [
    "HISTORY_VERSION",
    "GroupKey",
    "HistoryEntry",
    "HistoryLoad",
    "append_run",
    "history_root",
    "load_entry",
    "load_history",
    "select_comparable",
    "summarize_run",
]

HISTORY_VERSION = 1
HISTORY_DIR = "history"

# (provider, variant, concurrency): the unit that has repeats in one run.
GroupKey = tuple[str, str, int]
# Run ids and hashes become file names: keep them to a safe alphabet.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def history_root(reports_dir: Path) -> Path:
    """The history folder inside a reports folder (``reports/history``)."""
    return reports_dir / HISTORY_DIR


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _check_name(kind: str, value: str) -> str:
    if not _SAFE_NAME.match(value):
        raise ResultsError(f"{kind} {value!r} cannot name a history file")
    return value


def summarize_run(results: ResultsDoc) -> list[dict[str, Any]]:
    """The history records of a results document: one per scenario (pure)."""
    env = results.get("environment") or {}
    records = []
    for scenario in results["scenarios"]:
        samples = cell_samples(scenario)
        kinds = cell_error_kinds(scenario)
        groups = [
            {
                "provider": provider,
                "variant": variant,
                "concurrency": concurrency,
                "samples": {m: samples[key][m] for m in METRIC_NAMES if m in samples[key]},
            }
            for key in sorted(samples)
            for provider, variant, concurrency in [key]
        ]
        records.append(
            {
                "history_version": HISTORY_VERSION,
                "run_id": results["run_id"],
                "started_at": results["started_at"],
                "scenario": scenario["name"],
                "scenario_hash": scenario["hash"],
                "fingerprint": env.get("fingerprint"),
                "git_commit": env.get("git_commit"),
                "baseline": scenario.get("baseline") or "sync",
                "groups": groups,
                "error_kinds": [
                    {
                        "provider": cell.provider,
                        "variant": cell.variant,
                        "concurrency": cell.concurrency,
                        "kinds": kinds[cell],
                    }
                    for cell in sorted(kinds)
                ],
            }
        )
    return records


def append_run(root: Path, results: ResultsDoc, *, allow_incomplete: bool = False) -> list[Path]:
    """Add a run to the history under ``root``; returns the files written.

    Idempotent (re-adding a run rewrites the same files). Refuses shards -- merge them first
    so history holds whole runs -- and, unless ``allow_incomplete``, runs that did not finish.
    """
    run_id = _check_name("run id", str(results["run_id"]))
    if results.get("shard"):
        raise ResultsError(
            f"run {run_id} is one shard; merge the shards (uploadbench merge) before adding "
            "it to history"
        )
    if not results.get("complete", False) and not allow_incomplete:
        raise ResultsError(f"run {run_id} is incomplete; not added to history")
    written = []
    for record in summarize_run(results):
        folder = root / _check_name("scenario hash", str(record["scenario_hash"]))
        path = folder / f"{run_id}.json"
        atomic_write_text(path, json.dumps(record, indent=1, allow_nan=False) + "\n")
        written.append(path)
    return written


@dataclass(frozen=True)
class HistoryEntry:
    """One run of one scenario, as stored in history."""

    run_id: str
    started_at: str
    scenario: str
    scenario_hash: str
    fingerprint: str | None
    git_commit: str | None
    baseline: str
    path: Path
    groups: Mapping[GroupKey, Mapping[str, tuple[float, ...]]] = field(repr=False)
    # kind -> count per cell that ran; None: the file predates error kinds (unknown)
    error_kinds: Mapping[GroupKey, Mapping[str, int]] | None = field(default=None, repr=False)

    def samples(self, key: GroupKey, metric: str) -> tuple[float, ...]:
        """Per-repeat values of ``metric`` for one group (empty when not measured)."""
        return self.groups.get(key, {}).get(metric, ())

    def past_run(self) -> PastRun:
        """This run as the rollback triggers read it."""
        return PastRun(self.run_id, self.groups, self.error_kinds)


def _parse_kinds(raw: Any) -> dict[GroupKey, dict[str, int]]:
    kinds: dict[GroupKey, dict[str, int]] = {}
    for cell in raw:
        key = (str(cell["provider"]), str(cell["variant"]), int(cell["concurrency"]))
        counts = cell["kinds"]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in counts.values()):
            raise ValueError(f"non-integer error kind count in {key}")
        kinds[key] = {str(kind): int(n) for kind, n in counts.items()}
    return kinds


def _parse_entry(doc: Any, path: Path) -> HistoryEntry:
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: not a history record (top level is not an object)")
    version = doc.get("history_version")
    if version != HISTORY_VERSION:
        raise ResultsError(
            f"{path}: unknown history_version {version!r}; this uploadbench reads {HISTORY_VERSION}"
        )
    try:
        groups: dict[GroupKey, dict[str, tuple[float, ...]]] = {}
        for group in doc["groups"]:
            key = (str(group["provider"]), str(group["variant"]), int(group["concurrency"]))
            values: dict[str, tuple[float, ...]] = {}
            for metric, raw in group["samples"].items():
                numbers = tuple(_number(v) for v in raw)
                if any(n is None for n in numbers):
                    raise ValueError(f"non-numeric sample in {metric}")
                values[str(metric)] = tuple(n for n in numbers if n is not None)
            groups[key] = values
        return HistoryEntry(
            run_id=str(doc["run_id"]),
            started_at=str(doc["started_at"]),
            scenario=str(doc["scenario"]),
            scenario_hash=str(doc["scenario_hash"]),
            fingerprint=None if doc.get("fingerprint") is None else str(doc["fingerprint"]),
            git_commit=None if doc.get("git_commit") is None else str(doc["git_commit"]),
            baseline=str(doc.get("baseline") or "sync"),
            path=path,
            groups=groups,
            error_kinds=_parse_kinds(doc["error_kinds"]) if "error_kinds" in doc else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResultsError(f"{path}: malformed history record ({exc})") from None


def load_entry(path: Path) -> HistoryEntry:
    """Load one history file; :class:`ResultsError` names it when missing or corrupt."""
    return _parse_entry(read_json_file(path, "history file"), path)


@dataclass(frozen=True)
class HistoryLoad:
    """The readable entries, oldest first, and one warning per file that was skipped."""

    entries: tuple[HistoryEntry, ...]
    warnings: tuple[str, ...]


def _history_files(root: Path, scenario_hash: str | None) -> list[Path]:
    if not root.is_dir():
        return []
    folders = [root / scenario_hash] if scenario_hash is not None else sorted(root.iterdir())
    files: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            # dot-files are other writers' temp files in flight
            files.extend(p for p in sorted(folder.glob("*.json")) if not p.name.startswith("."))
    return files


def load_history(
    root: Path, *, scenario_hash: str | None = None, run_id: str | None = None
) -> HistoryLoad:
    """Load the history under ``root`` (of one scenario hash if given), oldest first.

    Corrupt or unknown files are skipped with a warning naming them, except the file of
    ``run_id`` when one is asked for: that one raises :class:`ResultsError`.
    """
    entries: list[HistoryEntry] = []
    warnings: list[str] = []
    for path in _history_files(root, scenario_hash):
        try:
            entries.append(load_entry(path))
        except ResultsError as err:
            if run_id is not None and path.stem == run_id:
                raise
            warnings.append(f"skipped {err}")
    entries.sort(key=lambda e: (e.started_at, e.run_id))
    return HistoryLoad(tuple(entries), tuple(warnings))


def select_comparable(
    entries: Sequence[HistoryEntry],
    *,
    scenario_hash: str,
    fingerprint: str | None,
    exclude_run_id: str | None = None,
    before: str | None = None,
    last: int = 5,
    any_environment: bool = False,
) -> tuple[list[HistoryEntry], str]:
    """The last ``last`` runs comparable with a run, and a sentence saying what was chosen
    or, when nothing is, why (different scenario definition or environment fingerprint).

    ``before`` (a ``started_at`` stamp) keeps only older runs, so re-comparing an old run
    never uses its own future.
    """
    if last < 1:
        raise ValueError("last must be >= 1")
    pool = [
        e
        for e in entries
        if e.run_id != exclude_run_id and (before is None or e.started_at < before)
    ]
    if not pool:
        return [], "no earlier runs in history"
    same_hash = [e for e in pool if e.scenario_hash == scenario_hash]
    if not same_hash:
        return [], (
            f"none of {len(pool)} earlier runs used this scenario definition (hash "
            f"{scenario_hash[:12]})"
        )
    same_env = [e for e in same_hash if any_environment or e.fingerprint == fingerprint]
    if not same_env:
        others = sorted({str(e.fingerprint) for e in same_hash})
        return [], (
            f"{len(same_hash)} earlier runs used this scenario but another environment "
            f"(fingerprint {', '.join(others)}; this run {fingerprint}): timings across "
            "machines or package versions are not comparable"
        )
    chosen = same_env[-last:]
    ids = ", ".join(e.run_id for e in chosen)
    plural = "s" if len(chosen) != 1 else ""
    return chosen, f"last {len(chosen)} comparable run{plural}: {ids}"
