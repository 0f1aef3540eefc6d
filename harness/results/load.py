"""Reading results: find a run's ``results.json`` from what a user types (``latest``, a run
folder, a run id, a file), load it and check its shape and schema version.

Only trials with ``status == "ok"``, ``warmup == false`` and ``profiled == false`` may enter
a timing statistic: :func:`timing_trials` selects exactly those.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.errors import ResultsError
from harness.results.contract import (
    LATEST_FILE,
    LATEST_LINK,
    REQUIRED_SCENARIO,
    REQUIRED_TOP,
    REQUIRED_TRIAL,
    RESULTS_FILE,
    SCHEMA_VERSION,
    ResultsDoc,
    TrialDoc,
    is_timing_trial,
)

__all__ = [
    "check_document",
    "load_results",
    "read_json_file",
    "resolve_results_path",
    "timing_trials",
]


def resolve_results_path(ref: str | Path, *, reports_dir: Path = Path("reports")) -> Path:
    """Turn ``"latest"``, a run directory, a run id under ``reports_dir`` or a results file
    into the path of a ``results.json``."""
    text = str(ref)
    if text == LATEST_LINK:
        link = reports_dir / LATEST_LINK
        if link.exists():
            return link / RESULTS_FILE
        marker = reports_dir / LATEST_FILE
        if marker.is_file():
            return reports_dir / marker.read_text(encoding="utf-8").strip() / RESULTS_FILE
        raise ResultsError(f"{reports_dir}: no latest run (neither {link} nor {marker} exists)")
    path = Path(ref)
    if path.is_dir():
        return path / RESULTS_FILE
    if not path.exists() and (reports_dir / text).is_dir():
        return reports_dir / text / RESULTS_FILE
    return path


def read_json_file(path: Path, kind: str) -> Any:
    """The JSON document in ``path``; :class:`ResultsError` names the file (``kind`` says
    what it should be) when it is missing, unreadable or not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such {kind}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None


def load_results(ref: str | Path, *, reports_dir: Path = Path("reports")) -> ResultsDoc:
    """Load and check a results document (see :func:`resolve_results_path` for ``ref``).

    Raises :class:`ResultsError` naming the file when it is missing, not JSON, of an unknown
    schema version or lacks required fields."""
    path = resolve_results_path(ref, reports_dir=reports_dir)
    doc = read_json_file(path, "results file")
    check_document(doc, path)
    result: ResultsDoc = doc
    return result


def check_document(doc: Any, path: Path | str) -> None:
    """Raise :class:`ResultsError` naming ``path`` unless ``doc`` has the contract's shape
    (:data:`~harness.results.contract.REQUIRED_TOP` and below) and a known schema version."""
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: not a results document (top level is not an object)")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{path}: unknown schema_version {version!r}; this uploadbench reads {SCHEMA_VERSION}"
        )
    missing = [k for k in REQUIRED_TOP if k not in doc]
    if missing:
        raise ResultsError(f"{path}: missing {', '.join(missing)}")
    if not isinstance(doc["scenarios"], list):
        raise ResultsError(f"{path}: 'scenarios' must be a list")
    for i, scenario in enumerate(doc["scenarios"]):
        if not isinstance(scenario, dict) or any(k not in scenario for k in REQUIRED_SCENARIO):
            raise ResultsError(f"{path}: scenarios[{i}] lacks name, hash or trials")
        for j, trial in enumerate(scenario["trials"]):
            if not isinstance(trial, dict) or any(k not in trial for k in REQUIRED_TRIAL):
                raise ResultsError(
                    f"{path}: scenarios[{i}].trials[{j}] lacks one of {', '.join(REQUIRED_TRIAL)}"
                )


def timing_trials(scenario: Mapping[str, Any]) -> Iterator[TrialDoc]:
    """The trials of a scenario that may enter a timing statistic: ``status == "ok"``,
    not a warm-up and not profiled."""
    yield from (trial for trial in scenario["trials"] if is_timing_trial(trial))
