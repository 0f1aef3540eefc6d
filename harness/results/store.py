"""The crash-safe store of a run: ``<reports>/<run-id>/results.json``, rewritten atomically
after every finished trial, and the ``latest`` pointer of a reports folder.

A crash or SIGINT keeps every trial that finished; ``complete`` stays false until
:meth:`ResultsStore.finish`, and :meth:`ResultsStore.reopen` continues an unfinished run
(``uploadbench run --resume``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from harness.errors import ResultsError
from harness.results.contract import (
    LATEST_FILE,
    LATEST_LINK,
    REQUIRED_TRIAL,
    RESULTS_FILE,
    SCHEMA_VERSION,
    Environment,
    ResultsDoc,
    ScenarioDoc,
    TrialDoc,
)
from harness.results.load import load_results

__all__ = [
    "ResultsStore",
    "atomic_write_text",
    "format_utc",
    "new_run_id",
    "point_latest",
]


def format_utc(moment: datetime) -> str:
    """``2026-11-28T10:30:00Z`` (seconds resolution, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(clock: Callable[[], datetime], rng: random.Random) -> str:
    """A sortable, unique-enough run id: UTC time plus 6 hex digits, e.g.
    ``20261128T103000Z-ab12cd``."""
    return f"{clock().astimezone(UTC):%Y%m%dT%H%M%SZ}-{rng.getrandbits(24):06x}"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so a reader (or a crash) sees the old or the new content,
    never a torn file: temp file in the same directory, fsync, ``os.replace``, fsync dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_name = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # os.open with 0o666 lets the umask decide, as for any other file (mkstemp's 0600 would
    # hide results from the CI user that uploads them).
    fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    # The rename itself is durable only once the directory entry is flushed.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _dumps(doc: Mapping[str, Any]) -> str:
    """The document with one trial per line: readable with ``grep`` and a pager, and fast.
    The store rewrites the file after every trial, and an indented dump of a whole run
    takes json's pure-Python encoder (80-110 ms for the smoke run's 600 KB, paid once per
    trial: 15% of that run's time); each piece here goes through the C encoder."""

    def dump(value: Any) -> str:
        return json.dumps(value, allow_nan=False)

    def scenario(entry: Mapping[str, Any]) -> str:
        fields = [f"  {dump(k)}: {dump(v)}" for k, v in entry.items() if k != "trials"]
        trials = ",\n".join(f"   {dump(t)}" for t in entry.get("trials") or ())
        body = ",\n".join(
            [*fields, f'  "trials": [\n{trials}\n  ]' if trials else '  "trials": []']
        )
        return " {\n" + body + "\n }"

    top = [f" {dump(k)}: {dump(v)}" for k, v in doc.items() if k != "scenarios"]
    scenarios = ",\n".join(scenario(s) for s in doc.get("scenarios") or ())
    top.append(f' "scenarios": [\n{scenarios}\n ]' if scenarios else ' "scenarios": []')
    return "{\n" + ",\n".join(top) + "\n}\n"


class ResultsStore:
    """One run's ``<out_dir>/<run_id>/results.json``, rewritten atomically after every
    finished trial so a crash or SIGINT keeps every trial that finished (``complete``
    stays false until :meth:`finish`)."""

    def __init__(
        self,
        out_dir: Path,
        run_id: str,
        *,
        started_at: str,
        environment: Environment,
        shard: tuple[int, int] | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.run_id = run_id
        self.run_dir = out_dir / run_id
        self.path = self.run_dir / RESULTS_FILE
        if self.path.exists():
            raise ResultsError(f"{self.path}: already exists; run ids must be unique")
        self._doc: ResultsDoc = {
            "schema_version": SCHEMA_VERSION,
            "run_id": run_id,
            "started_at": started_at,
            "finished_at": None,
            "complete": False,
            "shard": None if shard is None else {"k": shard[0], "n": shard[1]},
            "environment": environment,
            "scenarios": [],
        }
        self._scenarios: dict[str, ScenarioDoc] = {}
        self._write()

    @classmethod
    def reopen(cls, path: Path) -> ResultsStore:
        """The store of an unfinished run's ``results.json``, to add its missing trials
        (``uploadbench run --resume``); ``complete`` is false until :meth:`finish`."""
        path = path.resolve()  # "latest" is a link; the run's own folder is what to extend
        doc = load_results(path)
        if doc.get("complete"):
            raise ResultsError(f"{path}: the run is complete; nothing to resume")
        store = cls.__new__(cls)
        store.out_dir = path.parent.parent
        store.run_id = str(doc["run_id"])
        store.run_dir = path.parent
        store.path = path
        doc["complete"] = False
        doc["finished_at"] = None
        store._doc = doc
        store._scenarios = {s["name"]: s for s in doc["scenarios"]}
        store._write()
        return store

    def scenario_hash(self, name: str) -> str | None:
        """The hash the run recorded for scenario ``name`` (None if it has none)."""
        entry = self._scenarios.get(name)
        return None if entry is None else str(entry["hash"])

    def trial_keys(self, name: str) -> set[str]:
        """Keys of the trials already recorded for scenario ``name``."""
        entry = self._scenarios.get(name)
        return set() if entry is None else {str(t["key"]) for t in entry["trials"]}

    @property
    def document(self) -> ResultsDoc:
        """A deep copy of the document as written so far."""
        return copy.deepcopy(self._doc)

    def add_scenario(
        self, name: str, scenario_hash: str, definition: Mapping[str, Any], baseline: str
    ) -> None:
        """Declare a scenario (before its trials); idempotent for the same hash."""
        existing = self._scenarios.get(name)
        if existing is not None:
            if existing["hash"] != scenario_hash:
                raise ResultsError(f"{self.path}: two scenarios named {name!r} differ")
            return
        entry: ScenarioDoc = {
            "name": name,
            "hash": scenario_hash,
            "definition": dict(definition),
            "baseline": baseline,
            "trials": [],
        }
        self._scenarios[name] = entry
        self._doc["scenarios"].append(entry)
        self._write()

    def add_trial(self, scenario: str, trial: Mapping[str, Any]) -> None:
        """Append one finished trial and persist the document atomically."""
        entry = self._scenarios.get(scenario)
        if entry is None:
            raise ResultsError(f"{self.path}: trial for undeclared scenario {scenario!r}")
        missing = [k for k in REQUIRED_TRIAL if k not in trial]
        if missing:
            raise ResultsError(f"{self.path}: trial lacks {', '.join(missing)}")
        # The runner builds a TrialDoc; the store checks only the keys readers rely on.
        entry["trials"].append(cast(TrialDoc, copy.deepcopy(dict(trial))))
        self._write()

    def finish(self, finished_at: str, *, complete: bool = True) -> Path:
        """Stamp the end, mark the run complete and point ``latest`` at it."""
        self._doc["finished_at"] = finished_at
        self._doc["complete"] = complete
        self._write()
        point_latest(self.out_dir, self.run_id)
        return self.path

    def _write(self) -> None:
        try:
            atomic_write_text(self.path, _dumps(self._doc))
        except OSError as exc:
            # an unwritable or full output folder: one line naming it, not a traceback
            raise ResultsError(f"{self.path}: cannot write: {exc.strerror or exc}") from None


def point_latest(out_dir: Path, run_id: str) -> None:
    """Make ``out_dir/latest`` a relative symlink to ``run_id`` (atomically replaced); where
    symlinks fail (some filesystems, Windows without privileges) write ``LATEST`` instead."""
    link = out_dir / LATEST_LINK
    tmp = out_dir / f".{LATEST_LINK}.{os.getpid()}.tmp"
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(run_id, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        atomic_write_text(out_dir / LATEST_FILE, run_id + "\n")
        return
    # A stale LATEST from a symlink-less past would contradict the link.
    with contextlib.suppress(FileNotFoundError):
        (out_dir / LATEST_FILE).unlink()
