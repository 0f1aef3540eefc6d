"""Orchestrate a run: scenarios -> planned trials -> one worker process per trial -> results.

The orchestrator never times an upload (pyperf's split): it prepares the files, starts the
mock provider (and the fault proxy when a scenario has network faults) in their own
processes, and for each trial resets the mock, installs the scenario's faults, hands the trial
spec to a fresh ``python -m harness.worker`` (or ``harness.profile`` for profiled trials),
kills it at the deadline, then reads the mock's per-trial stats for ``connections_opened`` and
the server-side content check (``integrity_errors``). Every finished trial is written
atomically before the next starts (:class:`harness.results.ResultsStore`).

A worker that hangs, crashes or prints something that is not a result is recorded as
``status: "harness_error"`` with a one-line reason; the run goes on. A mock provider that
dies stops the run with :class:`HarnessError` (every later trial would be meaningless).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import httpx

from harness.errors import HarnessError
from harness.plan import Trial
from harness.results import (
    METRIC_NAMES,
    ResultsStore,
    environment,
    format_utc,
    new_run_id,
)
from harness.scenario import Scenario
from harness.worker import TrialSpec
from uploader import LocalFile

__all__ = [
    "PROVIDER_PATHS",
    "ProgressSink",
    "RunOutcome",
    "ServerProcess",
    "count_connections",
    "count_integrity_errors",
    "mock_summary",
    "run_scenarios",
    "trial_files",
]

# Where each provider lives on the mock; the uploader is configured with base URL + this.
PROVIDER_PATHS: dict[str, str] = {
    "kimi": "/kimi/v1",
    "glm": "/glm/api/paas/v4",
    "supabase": "/supabase",
}

# Python start-up, imports and readiness of a helper server on a loaded 2-core box.
SERVER_START_TIMEOUT_S = 30.0
# memray slows uploads 1.25-1.8x and the flame graph takes a few seconds more to write.
PROFILE_DEADLINE_FACTOR = 2.0
PROFILE_DEADLINE_EXTRA_S = 30.0
_CONTROL_TIMEOUT_S = 30.0
_REAP_TIMEOUT_S = 10.0


class ProgressSink(Protocol):
    """What the runner reports while it works (the CLI draws a progress bar from it)."""

    def start(self, total: int) -> None: ...

    def trial_started(self, label: str) -> None: ...

    def trial_finished(self, label: str, status: str) -> None: ...


@dataclass(frozen=True)
class RunOutcome:
    """Where a run was written and what it holds."""

    run_id: str
    run_dir: Path
    results_path: Path
    document: dict[str, Any]
    scenarios: tuple[Scenario, ...]
    trials: int
    harness_errors: int
    interrupted: bool = False  # stopped by Ctrl-C / SIGINT: complete is false


class ServerProcess:
    """A helper server (mock provider, fault proxy) in its own process. It prints its base
    URL as the first stdout line once it accepts connections; the rest of its output goes
    to ``log_path`` (drained by a thread so the server never blocks on a full pipe)."""

    def __init__(
        self,
        argv: Sequence[str],
        name: str,
        log_path: Path,
        *,
        timeout_s: float,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=None if env is None else dict(env),
        )
        assert self.proc.stdout is not None
        try:
            first, rest = _read_first_line(self.proc, self.proc.stdout, name, timeout_s)
        except HarnessError as err:
            self.stop()
            tail = _one_line(log_path.read_text(encoding="utf-8", errors="replace"))
            raise HarnessError(f"{err}: {tail or 'no output'} (log: {log_path})") from None
        except BaseException:
            self.stop()
            raise
        if not first.startswith("http://127.0.0.1:"):
            self.stop()
            raise HarnessError(f"{name} printed {first[:80]!r} instead of its URL; see {log_path}")
        self.url = first.rstrip("/")
        self._log.write(rest)
        self._drain = threading.Thread(
            target=_copy, args=(self.proc.stdout, self._log), name=f"{name}-log", daemon=True
        )
        self._drain.start()

    def check_alive(self) -> None:
        """Raise :class:`HarnessError` if the server has exited."""
        code = self.proc.poll()
        if code is not None:
            raise HarnessError(f"the {self.name} exited (code {code}); see {self.log_path}")

    def stop(self) -> None:
        """Terminate (then kill) the server and close its log."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        drain = getattr(self, "_drain", None)
        if drain is not None:
            drain.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def _read_first_line(
    proc: subprocess.Popen[bytes], stream: IO[bytes], name: str, timeout_s: float
) -> tuple[str, bytes]:
    # Messages name the server, never its whole argv (long, and no business of the user).
    buffer = b""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError(f"the {name} did not print its URL within {timeout_s:.0f} s")
            if not selector.select(timeout=left):
                continue
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                code = proc.wait()
                raise HarnessError(f"the {name} exited (code {code}) before printing its URL")
            buffer += chunk
    line, _, rest = buffer.partition(b"\n")
    return line.decode("utf-8", "replace").strip(), rest


def _copy(source: IO[bytes], sink: IO[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):
        for chunk in iter(lambda: source.read1(65536), b""):  # type: ignore[attr-defined]
            sink.write(chunk)
            sink.flush()


def _success(status: Any) -> bool:
    return isinstance(status, int) and 200 <= status < 300


def count_integrity_errors(
    files: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    requests: Sequence[Mapping[str, Any]],
) -> int:
    """Files the server did not receive intact, as a pure function of the trial's data.

    ``files``: name, size, content_hash of each local file; ``records``: the worker's
    per-file records (name, outcome); ``requests``: the mock's per-request stats.

    A file counts when the uploader itself reported ``integrity_error``, or when it reported
    ``ok`` but no successful request carries its content hash and size. Requests are matched
    to a file by name (multipart file name, or an object path ending in it) and, when none
    names it, by content alone (an uploader may rename objects)."""
    received = [r for r in requests if _success(r.get("status")) and r.get("content_hash")]
    by_hash = {(r["content_hash"], _content_size(r)) for r in received}
    local = {str(f["name"]): f for f in files}
    errors = 0
    for record in records:
        if record.get("outcome") == "integrity_error":
            errors += 1
            continue
        if record.get("outcome") != "ok":
            continue
        name = str(record["name"])
        file = local.get(name)
        if file is None:
            errors += 1
            continue
        want = (file["content_hash"], int(file["size"]))
        named = [r for r in received if _names(r, name)]
        if named:
            if not any((r["content_hash"], _content_size(r)) == want for r in named):
                errors += 1
        elif want not in by_hash:
            errors += 1
    return errors


def _content_size(request: Mapping[str, Any]) -> int:
    size = request.get("content_bytes")
    return int(size if size is not None else request.get("bytes", 0))


def _names(request: Mapping[str, Any], name: str) -> bool:
    for key in ("filename", "object_id", "path"):
        value = request.get(key)
        if isinstance(value, str) and (value == name or value.endswith("/" + name)):
            return True
    return False


def count_connections(stats: Mapping[str, Any]) -> int:
    """Connections the uploader used, as the mock saw them: its ``provider_connections``
    total, counted as requests arrive, so requests still held (a ``drop_response`` hang, a
    killed worker's upload) and records dropped past the mock's cap count too. Its
    ``connections_accepted`` would also count the harness's own control connections. An
    older mock without that total: distinct connection ids of the recorded requests."""
    totals = stats.get("totals", {})
    if "provider_connections" in totals:
        return int(totals["provider_connections"])
    requests = stats.get("requests", [])
    return len({r.get("connection_id") for r in requests if r.get("connection_id") is not None})


def mock_summary(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's ``mock`` block: what the server saw and which faults it applied."""
    totals = stats.get("totals", {})
    return {
        "faults_applied": dict(totals.get("faults_applied", {})),
        "requests": int(totals.get("requests", 0)),
        "by_status": dict(totals.get("by_status", {})),
        "bytes_received": int(totals.get("bytes_received", 0)),
        "connections_accepted": int(totals.get("connections_accepted", 0)),
        "provider_connections": count_connections(stats),
    }


def trial_files(files: Sequence[LocalFile], trial: Trial) -> tuple[LocalFile, ...]:
    """The files a trial uploads: all of them, or in a size sweep those of ``trial.size``."""
    if trial.size is None:
        return tuple(files)
    chosen = tuple(f for f in files if f.size == trial.size)
    if not chosen:
        raise HarnessError(f"{trial.key}: the file set has no file of {trial.size} B")
    return chosen


def _null_metrics() -> dict[str, Any]:
    return dict.fromkeys(METRIC_NAMES)


def _one_line(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass
class _Rig:
    """The servers of a run and the control client that talks to the mock."""

    mock: ServerProcess
    client: httpx.Client
    key: str
    proxy: ServerProcess | None = None

    def control(self, method: str, path: str, body: Any = None) -> Any:
        self.mock.check_alive()
        try:
            response = self.client.request(method, self.mock.url + path, json=body)
        except httpx.HTTPError as exc:
            self.mock.check_alive()
            raise HarnessError(f"mock provider control {method} {path} failed: {exc}") from None
        if response.status_code >= 400:
            raise HarnessError(
                f"mock provider refused {method} {path}: {response.status_code} "
                f"{_one_line(response.text)}"
            )
        return response.json() if response.content else None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The worker's own children (a cmd: variant's curl) share its process group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _worker_result(
    proc: subprocess.Popen[bytes], spec: str, deadline_s: float
) -> tuple[dict[str, Any] | None, str | None, str]:
    """Feed the spec, wait up to the deadline; (result, error line, stderr)."""
    try:
        out, err = proc.communicate(spec.encode(), timeout=deadline_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            _, err = proc.communicate(timeout=_REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # A grandchild that left the group still holds the pipes; stop reading them.
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            proc.wait()
            err = b""
        return None, f"worker killed at the {deadline_s:g} s deadline", err.decode(errors="replace")
    except BaseException:
        # Ctrl-C or a harness bug: the worker has its own session, so nothing else stops it.
        _kill_group(proc)
        proc.wait()
        raise
    stderr = err.decode(errors="replace")
    if proc.returncode != 0:
        reason = _one_line(stderr) or "no message"
        how = (
            f"killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"exit code {proc.returncode}"
        )
        return None, f"worker failed ({how}): {reason}", stderr
    try:
        result = json.loads(out.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return (
            None,
            f"worker printed no JSON result: {_one_line(out.decode(errors='replace'))!r}",
            stderr,
        )
    if not isinstance(result, dict) or not isinstance(result.get("metrics"), dict):
        return None, "worker result lacks 'metrics'", stderr
    return result, None, stderr


class _Run:
    def __init__(
        self,
        *,
        store: ResultsStore,
        rig: _Rig,
        python: str,
        seed: int,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        progress: ProgressSink | None,
    ) -> None:
        self.store = store
        self.rig = rig
        self.python = python
        self.seed = seed
        self.clock = clock
        self.monotonic = monotonic
        self.progress = progress
        self.harness_errors = 0
        self.trials = 0

    def run_trial(
        self,
        scenario: Scenario,
        trial: Trial,
        files: Sequence[LocalFile],
        base_url: str,
        proxy: ServerProcess | None = None,
    ) -> None:
        label = trial.key
        if self.progress is not None:
            self.progress.trial_started(label)
        provider = next(p for p in scenario.providers if p.kind == trial.provider)
        # The same fault draws for every variant of a repeat: a fair A/B within the repeat.
        fault_seed = self.seed * 1_000_003 + trial.repeat
        self.rig.control("POST", "/__mock/reset")
        self.rig.control(
            "PUT", "/__mock/faults", {"seed": fault_seed, "faults": list(scenario.faults)}
        )
        # A profiled trial always goes to the profiler: were it run as a plain worker, its
        # numbers would pass for an extra timed repeat.
        profiled = bool(trial.profiled)
        spec = TrialSpec(
            trial_id=trial.key,
            scenario=scenario.name,
            provider=trial.provider,
            variant=trial.variant,
            concurrency=trial.concurrency,
            repeat=trial.repeat,
            base_url=base_url + PROVIDER_PATHS[trial.provider],
            api_key=self.rig.key,
            files=tuple(files),
            purpose=provider.purpose or "file-extract",
            bucket=provider.bucket or "uploads",
            settings=dict(scenario.settings),
            seed=self.seed + trial.repeat,
            profile_dir=str(self.store.run_dir / "profiles") if profiled else None,
            run_dir=str(self.store.run_dir) if profiled else None,
        )
        module = "harness.profile" if profiled else "harness.worker"
        deadline = scenario.deadline_s
        if profiled:
            deadline = deadline * PROFILE_DEADLINE_FACTOR + PROFILE_DEADLINE_EXTRA_S
        started_at = format_utc(self.clock())
        t0 = self.monotonic()
        proc = subprocess.Popen(
            [self.python, "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        result, error, stderr = _worker_result(proc, spec.to_json(), deadline)
        if proxy is not None:
            # A proxy that died mid-trial made the uploads fail, not the uploader: stop.
            proxy.check_alive()
        duration = self.monotonic() - t0
        if error is not None:
            self._keep_log(trial.key, stderr.replace(self.rig.key, "***"))
        stats = self.rig.control("GET", "/__mock/stats")
        requests = stats.get("requests", [])
        entry: dict[str, Any] = {
            "key": trial.key,
            "index": trial.index,
            "provider": trial.provider,
            "variant": trial.variant,
            "concurrency": trial.concurrency,
            "repeat": trial.repeat,
            "warmup": bool(trial.warmup),
            "profiled": profiled,
            "status": "ok" if result is not None else "harness_error",
            "error": error,
            "started_at": started_at,
            "duration_s": duration,
            "metrics": _null_metrics(),
            "records": [],
            "mock": mock_summary(stats),
            "profile": None,
        }
        if trial.size is not None:
            # a sweep's point: harness.memory fits the heap peak against this size
            entry["file_size_bytes"] = trial.size
        if result is not None:
            # Exactly the contract's keys, in its order, whatever else a worker sends.
            metrics = {name: result["metrics"].get(name) for name in METRIC_NAMES}
            records = list(result.get("records") or [])
            local = [
                {"name": f.name, "size": f.size, "content_hash": f.content_hash} for f in files
            ]
            metrics["integrity_errors"] = count_integrity_errors(local, records, requests)
            metrics["connections_opened"] = count_connections(stats)
            entry.update(metrics=metrics, records=records, profile=result.get("profile"))
        else:
            self.harness_errors += 1
        self.store.add_trial(scenario.name, _scrubbed(entry, self.rig.key))
        self.trials += 1
        if self.progress is not None:
            self.progress.trial_finished(label, entry["status"])

    def _keep_log(self, key: str, stderr: str) -> None:
        if not stderr.strip():
            return
        safe = "".join(ch if ch.isalnum() or ch in "-_.=" else "_" for ch in key)
        path = self.store.run_dir / "logs" / f"{safe}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        # The tail is what explains a failure; whole logs of a chatty library are not.
        path.write_text(stderr[-64_000:], encoding="utf-8")


def _scrubbed(entry: dict[str, Any], key: str) -> dict[str, Any]:
    """``entry`` with the run's API key replaced wherever a careless uploader or worker
    put it (its error, records, profile): the key is written nowhere."""
    text = json.dumps(entry)
    if key not in text:
        return entry
    clean: dict[str, Any] = json.loads(text.replace(key, "***"))
    return clean


def _missing(
    plans: list[tuple[Scenario, list[Trial]]],
    store: ResultsStore,
    shard: tuple[int, int] | None,
) -> list[tuple[Scenario, list[Trial]]]:
    """The planned trials a resumed run has not recorded yet, matched by trial key; a
    scenario whose hash changed since the run cannot be resumed."""
    recorded = store.document.get("shard")
    wanted = None if shard is None else {"k": shard[0], "n": shard[1]}
    if recorded != wanted:
        raise HarnessError(f"{store.path}: --shard differs from the run's ({recorded})")
    out = []
    for scenario, trials in plans:
        known = store.scenario_hash(scenario.name)
        if known is not None and known != scenario.hash:
            raise HarnessError(
                f"{store.path}: scenario {scenario.name!r} changed since the run "
                f"(hash {known} -> {scenario.hash}); start a new run"
            )
        done = store.trial_keys(scenario.name)
        out.append((scenario, [t for t in trials if t.key not in done]))
    return out


def _plan(
    scenarios: Sequence[Scenario],
    *,
    repeats: int | None,
    quick: bool,
    variants: Sequence[str] | None,
    shard: tuple[int, int] | None,
) -> list[tuple[Scenario, list[Trial]]]:
    from harness.plan import plan_trials
    from harness.plan import shard as shard_trials

    trials = plan_trials(scenarios, repeats_override=repeats, variants_filter=variants, quick=quick)
    if shard is not None:
        trials = shard_trials(trials, *shard)
    return [(s, [t for t in trials if t.scenario == s.name]) for s in scenarios]


def _start_proxy(
    scenario: Scenario, mock_url: str, python: str, seed: int, log_dir: Path
) -> ServerProcess:
    upstream = mock_url.removeprefix("http://")
    argv = [
        python,
        "-m",
        "harness.faultproxy",
        "--upstream",
        upstream,
        "--faults",
        json.dumps(list(scenario.network_faults)),
        "--seed",
        str(seed),
    ]
    return ServerProcess(
        argv, "fault proxy", log_dir / "faultproxy.log", timeout_s=SERVER_START_TIMEOUT_S
    )


def run_scenarios(
    scenarios: Sequence[Scenario],
    *,
    out_dir: Path,
    repeats: int | None = None,
    quick: bool = False,
    variants: Sequence[str] | None = None,
    shard: tuple[int, int] | None = None,
    progress: ProgressSink | None = None,
    seed: int = 0,
    clock: Callable[[], datetime] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    cache_dir: Path,
    python: str = sys.executable,
    resume: Path | None = None,
) -> RunOutcome:
    """Run every planned trial of ``scenarios`` and write ``out_dir/<run-id>/results.json``.

    ``repeats``/``quick``/``variants`` narrow the plan (:func:`harness.plan.plan_trials`),
    ``shard=(k, n)`` runs the k-th of n deterministic slices. ``seed`` seeds the mock, the
    faults and the uploaders' jitter; ``clock`` (UTC now) and ``rng`` make the run id.
    Raises :class:`HarnessError` when the rig itself fails (the mock dies, a server does not
    start); trials finished by then stay on disk with ``complete: false``. Ctrl-C (SIGINT)
    stops after killing the running worker and returns with ``interrupted`` set.
    ``resume`` (an unfinished run's results file) runs only the trials it lacks."""
    from harness.fileset import materialize

    now = clock or (lambda: datetime.now(UTC))
    plans = _plan(scenarios, repeats=repeats, quick=quick, variants=variants, shard=shard)
    if resume is not None:
        store = ResultsStore.reopen(resume)
        run_id = store.run_id
        plans = _missing(plans, store, shard)
    else:
        run_id = new_run_id(now, rng or random.Random())
        store = ResultsStore(
            out_dir,
            run_id,
            started_at=format_utc(now()),
            environment=environment(),
            shard=shard,
        )
    total = sum(len(trials) for _, trials in plans)
    if progress is not None:
        progress.start(total)
    log_dir = store.run_dir / "logs"
    key = secrets.token_hex(24)  # per run, never written anywhere
    completed = False
    interrupted = False
    runner: _Run | None = None
    mock: ServerProcess | None = None
    client = httpx.Client(timeout=_CONTROL_TIMEOUT_S, trust_env=False)
    try:
        filesets = {s.name: materialize(s.files, cache_dir) for s, trials in plans if trials}
        hash_algos = {f.hash_algo for fs in filesets.values() for f in fs.files}
        if len(hash_algos) > 1:
            raise HarnessError(f"file sets use different hash algorithms: {sorted(hash_algos)}")
        mock_argv = [python, "-m", "harness.mockprovider", "--port", "0", "--seed", str(seed)]
        # a harness killed by SIGKILL cannot stop its mock: the mock watches for that itself
        mock_argv.append("--exit-with-parent")
        # in the environment, not argv: any local user can read a command line (ps)
        mock_env = {**os.environ, "UPLOADBENCH_MOCK_KEYS": key}
        if hash_algos:
            mock_argv += ["--hash", hash_algos.pop()]
        mock = ServerProcess(
            mock_argv,
            "mock provider",
            log_dir / "mock.log",
            timeout_s=SERVER_START_TIMEOUT_S,
            env=mock_env,
        )
        rig = _Rig(mock=mock, client=client, key=key)
        runner = _Run(
            store=store,
            rig=rig,
            python=python,
            seed=seed,
            clock=now,
            monotonic=monotonic,
            progress=progress,
        )
        for scenario, trials in plans:
            store.add_scenario(scenario.name, scenario.hash, scenario.definition, scenario.baseline)
            if not trials:
                continue
            proxy = (
                _start_proxy(scenario, mock.url, python, seed, log_dir)
                if scenario.network_faults
                else None
            )
            try:
                base_url = proxy.url if proxy is not None else mock.url
                for trial in trials:
                    if proxy is not None:
                        proxy.check_alive()
                    files = trial_files(filesets[scenario.name].files, trial)
                    runner.run_trial(scenario, trial, files, base_url, proxy)
            finally:
                if proxy is not None:
                    proxy.stop()
        completed = True
    except KeyboardInterrupt:
        # Ctrl-C: the running worker was killed (_worker_result); finished trials are on
        # disk and the run is marked incomplete. A second Ctrl-C still ends the process.
        interrupted = True
    finally:
        client.close()
        if mock is not None:
            mock.stop()
        # Finished trials are already on disk; say whether the run got to its end.
        store.finish(format_utc(now()), complete=completed)
    return RunOutcome(
        run_id=run_id,
        run_dir=store.run_dir,
        results_path=store.path,
        document=store.document,
        scenarios=tuple(scenarios),
        trials=runner.trials if runner is not None else 0,
        harness_errors=runner.harness_errors if runner is not None else 0,
        interrupted=interrupted,
    )
