"""The results contract (``results.json``, schema version 1): run ids, the environment
fingerprint, an append-as-you-go store that survives crashes, loading and merging.

Schema history (bump :data:`SCHEMA_VERSION` on any incompatible change; readers refuse
versions they do not know):

- 1: first version (DESIGN.md "Results contract").

Only trials with ``status == "ok"``, ``warmup == false`` and ``profiled == false`` may enter
a timing statistic: :func:`timing_trials` selects exactly those.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.errors import ResultsError
from harness.metrics import METRIC_NAMES

__all__ = [
    "KEY_PACKAGES",
    "METRIC_NAMES",
    "RESULTS_FILE",
    "SCHEMA_VERSION",
    "ResultsStore",
    "atomic_write_text",
    "environment",
    "format_utc",
    "load_results",
    "merge_results",
    "new_run_id",
    "point_latest",
    "read_json_file",
    "resolve_results_path",
    "timing_trials",
]

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
LATEST_LINK = "latest"
LATEST_FILE = "LATEST"


# Versions that change what is measured: they enter the fingerprint, so history only
# compares runs made with the same client and server stacks.
KEY_PACKAGES: tuple[str, ...] = (
    "aiohttp",
    "aiofiles",
    "httpx",
    "supabase",
    "storage3",
    "xxhash",
    "uvloop",
    "memray",
)
# Reported but not fingerprinted: they shape analysis, not measurements.
OTHER_PACKAGES: tuple[str, ...] = ("uploadbench", "numpy", "scipy", "pandas", "psutil", "rich")

_REQUIRED_TOP = ("schema_version", "run_id", "started_at", "environment", "scenarios")
_REQUIRED_SCENARIO = ("name", "hash", "trials")
_REQUIRED_TRIAL = ("key", "variant", "concurrency", "repeat", "profiled", "status", "metrics")

JsonDict = dict[str, Any]


def format_utc(moment: datetime) -> str:
    """``2026-11-28T10:30:00Z`` (seconds resolution, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(clock: Callable[[], datetime], rng: random.Random) -> str:
    """A sortable, unique-enough run id: UTC time plus 6 hex digits, e.g.
    ``20261128T103000Z-ab12cd``."""
    return f"{clock().astimezone(UTC):%Y%m%dT%H%M%SZ}-{rng.getrandbits(24):06x}"


def _package_versions(names: Iterable[str]) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "cpu model"):
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _memory_bytes() -> int | None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None
    return int(psutil.virtual_memory().total)


def _git(args: Sequence[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def environment(*, repo_dir: Path | None = None, uvloop: bool = False) -> JsonDict:
    """Describe this machine and software stack (runs ``git`` in ``repo_dir``, default the
    checkout this package lives in). ``uvloop`` says whether workers run on uvloop.

    ``fingerprint`` hashes what must match before two runs' timings are compared: Python
    major.minor and implementation, CPU model and count, and the :data:`KEY_PACKAGES`
    versions. The hostname is stored only as a hash."""
    repo = repo_dir if repo_dir is not None else Path(__file__).resolve().parents[2]
    key_versions = _package_versions(KEY_PACKAGES)
    packages = {**key_versions, **_package_versions(OTHER_PACKAGES)}
    commit = _git(["rev-parse", "HEAD"], repo)
    status = _git(["status", "--porcelain", "--untracked-files=no"], repo) if commit else None
    cpu_model = _cpu_model()
    cpu_count = os.cpu_count() or 1
    implementation = platform.python_implementation()
    fingerprint_source = json.dumps(
        {
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "implementation": implementation,
            "cpu_model": cpu_model,
            "cpu_count": cpu_count,
            "packages": key_versions,
            "uvloop": uvloop,
        },
        sort_keys=True,
    )
    return {
        "python": platform.python_version(),
        "implementation": implementation,
        "platform": platform.platform(),
        "packages": {name: version for name, version in packages.items() if version is not None},
        "cpu_model": cpu_model,
        "cpu_count": cpu_count,
        "memory_bytes": _memory_bytes(),
        "git_commit": commit.strip() if commit else None,
        "git_dirty": bool(status and status.strip()),
        "hostname_hash": hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12],
        "uvloop": uvloop,
        "fingerprint": hashlib.sha256(fingerprint_source.encode()).hexdigest()[:16],
    }


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
    return json.dumps(doc, indent=1, sort_keys=False, allow_nan=False) + "\n"


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
        environment: Mapping[str, Any],
        shard: tuple[int, int] | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.run_id = run_id
        self.run_dir = out_dir / run_id
        self.path = self.run_dir / RESULTS_FILE
        if self.path.exists():
            raise ResultsError(f"{self.path}: already exists; run ids must be unique")
        self._doc: JsonDict = {
            "schema_version": SCHEMA_VERSION,
            "run_id": run_id,
            "started_at": started_at,
            "finished_at": None,
            "complete": False,
            "shard": None if shard is None else {"k": shard[0], "n": shard[1]},
            "environment": dict(environment),
            "scenarios": [],
        }
        self._scenarios: dict[str, JsonDict] = {}
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
    def document(self) -> JsonDict:
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
        entry: JsonDict = {
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
        missing = [k for k in _REQUIRED_TRIAL if k not in trial]
        if missing:
            raise ResultsError(f"{self.path}: trial lacks {', '.join(missing)}")
        entry["trials"].append(copy.deepcopy(dict(trial)))
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


def load_results(ref: str | Path, *, reports_dir: Path = Path("reports")) -> JsonDict:
    """Load and check a results document (see :func:`resolve_results_path` for ``ref``).

    Raises :class:`ResultsError` naming the file when it is missing, not JSON, of an unknown
    schema version or lacks required fields."""
    path = resolve_results_path(ref, reports_dir=reports_dir)
    doc = read_json_file(path, "results file")
    _check(doc, path)
    result: JsonDict = doc
    return result


def _check(doc: Any, path: Path | str) -> None:
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: not a results document (top level is not an object)")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{path}: unknown schema_version {version!r}; this uploadbench reads {SCHEMA_VERSION}"
        )
    missing = [k for k in _REQUIRED_TOP if k not in doc]
    if missing:
        raise ResultsError(f"{path}: missing {', '.join(missing)}")
    if not isinstance(doc["scenarios"], list):
        raise ResultsError(f"{path}: 'scenarios' must be a list")
    for i, scenario in enumerate(doc["scenarios"]):
        if not isinstance(scenario, dict) or any(k not in scenario for k in _REQUIRED_SCENARIO):
            raise ResultsError(f"{path}: scenarios[{i}] lacks name, hash or trials")
        for j, trial in enumerate(scenario["trials"]):
            if not isinstance(trial, dict) or any(k not in trial for k in _REQUIRED_TRIAL):
                raise ResultsError(
                    f"{path}: scenarios[{i}].trials[{j}] lacks one of {', '.join(_REQUIRED_TRIAL)}"
                )


def timing_trials(scenario: Mapping[str, Any]) -> Iterator[JsonDict]:
    """The trials of a scenario that may enter a timing statistic: ``status == "ok"``,
    not a warm-up and not profiled."""
    for trial in scenario["trials"]:
        if trial["status"] == "ok" and not trial.get("warmup", False) and not trial["profiled"]:
            yield trial


def merge_results(
    docs: Sequence[Mapping[str, Any]],
    *,
    run_id: str | None = None,
    allow_mixed_environments: bool = False,
) -> JsonDict:
    """Join shards of one run into one document.

    Refuses scenarios of the same name with different hashes, the same trial twice, and,
    unless ``allow_mixed_environments``, shards whose environment fingerprints differ (their
    timings would not be comparable). Trials keep the plan's order (``index``). The result
    is ``complete`` only if every shard 1..N is present and complete; ``shard`` is null and
    ``merged_from`` lists the inputs."""
    if not docs:
        raise ResultsError("nothing to merge")
    for doc in docs:
        _check(doc, f"run {doc.get('run_id', '?')}")
    fingerprints = {doc["environment"].get("fingerprint") for doc in docs}
    if len(fingerprints) > 1 and not allow_mixed_environments:
        raise ResultsError(
            "shards ran in different environments (fingerprints "
            f"{', '.join(sorted(str(f) for f in fingerprints))}); their timings are not comparable"
        )
    shard_ns = {doc["shard"]["n"] for doc in docs if doc.get("shard")}
    if len(shard_ns) > 1:
        raise ResultsError(f"shards split the run differently (N = {sorted(shard_ns)})")
    ids = {doc["run_id"] for doc in docs}
    merged_id = run_id or (ids.pop() if len(ids) == 1 else min(ids))

    scenarios: dict[str, JsonDict] = {}
    seen_keys: dict[str, str] = {}
    for doc in docs:
        for scenario in doc["scenarios"]:
            name = scenario["name"]
            target = scenarios.get(name)
            if target is None:
                target = {k: copy.deepcopy(v) for k, v in scenario.items() if k != "trials"}
                target["trials"] = []
                scenarios[name] = target
            elif target["hash"] != scenario["hash"]:
                raise ResultsError(
                    f"scenario {name!r} differs between shards (hash {target['hash']} in one, "
                    f"{scenario['hash']} in {doc['run_id']}); re-run them from the same file"
                )
            for trial in scenario["trials"]:
                owner = seen_keys.get(trial["key"])
                if owner is not None:
                    raise ResultsError(
                        f"trial {trial['key']!r} is in both {owner} and {doc['run_id']}"
                    )
                seen_keys[trial["key"]] = doc["run_id"]
                target["trials"].append(copy.deepcopy(trial))
    for target in scenarios.values():
        target["trials"].sort(key=lambda t: (t.get("index", 0), t["key"]))

    shards_seen = {doc["shard"]["k"] for doc in docs if doc.get("shard")}
    all_shards = bool(shard_ns) and shards_seen == set(range(1, next(iter(shard_ns)) + 1))
    unsharded = any(doc.get("shard") is None for doc in docs)
    first = docs[0]
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": merged_id,
        "started_at": min(doc["started_at"] for doc in docs),
        "finished_at": max((doc.get("finished_at") or "" for doc in docs), default="") or None,
        "complete": (all_shards or unsharded) and all(doc.get("complete") for doc in docs),
        "shard": None,
        "merged_from": [{"run_id": doc["run_id"], "shard": doc.get("shard")} for doc in docs],
        "environment": copy.deepcopy(first["environment"]),
        "scenarios": list(scenarios.values()),
    }
