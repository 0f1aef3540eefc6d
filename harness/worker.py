"""The rounds of one cell in a worker process: ``python -m harness.worker``.

Two ways to talk to it, both JSON, one object per line:

- **one-shot**: one trial spec on stdin, then end of input: the worker runs the uploads
  once and writes one result on stdout;
- **session** (``"session": true`` in the spec, what :mod:`harness.runner` uses): after the
  spec, each line on stdin is a round (``{"trial_id", "repeat", "round", "warmup",
  "seed"}``); the worker runs the whole upload set once and answers with one result line,
  then waits for the next. The orchestrator resets the mock and judges what it received
  between rounds, and interleaves the rounds of several workers (variants, revisions).
  End of input ends the process.

A process of its own per cell (pyperf's worker layout) keeps CPU times and memory the
cell's own and stops one variant's pools, caches or leaks from leaking into another's;
several rounds per process pay the interpreter start and the imports once, not once per
sample. What must be fresh per round is: the uploader object (its factory is called again,
the module is imported once), the event loop (``asyncio.run`` per round), the mock's state
(reset by the orchestrator) and the seed. Everything timed is timed here, on
``time.perf_counter``; the orchestrator only enforces the deadline.

Metrics (the results contract, :mod:`harness.metrics`), from the uploader's per-file outcomes:

- ``latency_*``: per file, end minus start of :class:`~uploader.Outcome`, over **all** files
  whatever their outcome (a timeout counts at the time it took to give up, so failures are
  not censored); percentiles are numpy's default ``linear`` method.
- ``throughput_bytes_per_s`` = bytes of ``ok`` files / ``wall_s``; ``files_per_s`` = ``ok``
  files / ``wall_s``; ``wall_s`` spans the whole ``upload_many`` call.
- ``success_rate``, ``timeout_rate``, ``error_rate`` are shares of files and add up to 1:
  ``error_rate`` counts http, connection and integrity errors (not timeouts).
- ``retries`` = sum of ``attempts - 1``.
- ``rss_peak_bytes``: the process's ``ru_maxrss`` high-water mark at the end of the round,
  which includes the interpreter and the uploader's imports and every earlier round of
  the process (a high-water mark cannot be split into rounds honestly; memray's heap peak
  is the per-upload memory figure).
- ``cpu_user_s`` / ``cpu_sys_s``: ``getrusage`` deltas around the round's uploads for this
  process (all threads) plus children reaped meanwhile (``cmd:`` variants' commands).
- ``loop_lag_*``: only for async variants (:mod:`harness.looplag`), null for sync and
  ``cmd:`` variants.
- ``integrity_errors`` here counts the uploader's own ``integrity_error`` outcomes; the
  orchestrator replaces it with the server-side cross-check (:mod:`harness.checks`), which
  also turns every file the provider does not hold intact into a failed upload.
  ``connections_opened`` and ``tls_handshakes`` come from the mock (null here),
  ``heap_peak_bytes`` from a profiled run (null here).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import os
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from harness.errors import HarnessError
from harness.looplag import DEFAULT_INTERVAL_S, LoopLagSampler, LoopLagStats
from harness.results import METRIC_NAMES
from uploader import LocalFile, Outcome, Settings, Target, parse_variant

__all__ = ["TrialSpec", "compute_metrics", "main", "prepare", "run_round", "run_trial"]


@dataclass(frozen=True)
class TrialSpec:
    """Everything one trial needs; the JSON form is :meth:`to_json` / :meth:`from_mapping`.

    ``variant`` is the variant's *spec* (``async``, ``cmd:...``, ``pkg.mod:attr``): the
    worker loads it; the variant's name stays with the runner. ``base_url`` is the
    provider's URL and ``metadata_project_url`` the Supabase project that holds the uploads
    table (both become :class:`uploader.Target` fields). ``api_key`` is the mock's per-run
    key: it travels on stdin only and never enters a result. ``profile_dir``/``run_dir``
    are read by :mod:`harness.profile`. ``ca_file`` is the TLS mock's CA certificate (PEM),
    None over plain HTTP: it becomes ``Target.ca_file`` and ``$SSL_CERT_FILE``."""

    trial_id: str
    scenario: str
    provider: str
    variant: str
    concurrency: int
    base_url: str
    api_key: str
    files: tuple[LocalFile, ...]
    repeat: int = 0
    metadata_project_url: str | None = None
    purpose: str = "file-extract"
    bucket: str = "uploads"
    settings: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    loop_lag_interval_s: float = DEFAULT_INTERVAL_S
    profile_dir: str | None = None
    run_dir: str | None = None
    round: int = 0
    warmup: bool = False
    session: bool = False  # rounds follow on stdin, one JSON line each (module doc)
    ca_file: str | None = None  # the run's CA over TLS (Target.ca_file, $SSL_CERT_FILE)

    def to_json(self) -> str:
        """The spec as sent on the worker's stdin."""
        data = dataclasses.asdict(self)
        data["files"] = [
            {
                "path": str(f.path),
                "size": f.size,
                "content_hash": f.content_hash,
                "hash_algo": f.hash_algo,
            }
            for f in self.files
        ]
        data["settings"] = dict(self.settings)
        return json.dumps(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TrialSpec:
        """Build from decoded JSON; raises :class:`HarnessError` on a malformed spec."""
        try:
            files = tuple(
                LocalFile(
                    path=Path(f["path"]),
                    size=int(f["size"]),
                    content_hash=str(f["content_hash"]),
                    hash_algo=str(f.get("hash_algo", "xxh3_128")),
                )
                for f in data["files"]
            )
            known = {f.name for f in dataclasses.fields(cls)}
            rest = {k: v for k, v in data.items() if k in known and k != "files"}
            return cls(files=files, **rest)
        except (KeyError, TypeError, ValueError) as exc:
            raise HarnessError(f"malformed trial spec: {exc!r}") from None


def _settings(spec: TrialSpec) -> Settings:
    fields = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(spec.settings) - fields)
    if unknown:
        raise HarnessError(f"unknown uploader settings: {', '.join(unknown)}")
    overrides = dict(spec.settings)
    try:
        fixes = parse_variant(spec.variant).fixes
    except ValueError as exc:
        raise HarnessError(str(exc)) from None
    overrides.update(concurrency=spec.concurrency, seed=spec.seed, fixes=fixes)
    return Settings(**overrides)


def _target(spec: TrialSpec) -> Target:
    if spec.provider not in ("kimi", "glm", "supabase"):
        raise HarnessError(f"unknown provider {spec.provider!r}")
    # ca_file only over TLS: a base revision's older uploader (run --base) has a Target
    # without that field, and over plain HTTP it has nothing to carry
    tls: dict[str, Any] = {"ca_file": spec.ca_file} if spec.ca_file else {}
    return Target(
        provider=cast(Any, spec.provider),
        base_url=spec.base_url,
        key=spec.api_key,
        purpose=spec.purpose,
        bucket=spec.bucket,
        metadata_project_url=spec.metadata_project_url,
        **tls,
    )


# Over TLS the worker's environment trusts the run's CA too, for code that never sees
# Target.ca_file: OpenSSL's default paths (ssl.create_default_context, aiohttp, httpx with
# trust_env, curl built on OpenSSL) read $SSL_CERT_FILE, requests reads $REQUESTS_CA_BUNDLE.
CA_ENV = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def _trust_ca(ca_file: str | None) -> None:
    if ca_file:
        for name in CA_ENV:
            os.environ[name] = ca_file


def _load(variant: str) -> Any:
    from uploader.loading import load_variant

    try:
        return load_variant(parse_variant(variant))
    except (ValueError, ImportError) as exc:
        raise HarnessError(f"cannot load variant {variant!r}: {exc}") from None


def _percentile(values: np.ndarray[Any, Any], q: float) -> float | None:
    return float(np.percentile(values, q, method="linear")) if values.size else None


def compute_metrics(
    outcomes: Sequence[Outcome],
    wall_s: float,
    *,
    loop_lag: LoopLagStats | None = None,
    rss_peak_bytes: int | None = None,
    cpu_user_s: float | None = None,
    cpu_sys_s: float | None = None,
) -> dict[str, Any]:
    """The contract's metrics from one trial's outcomes (see module doc); pure."""
    n = len(outcomes)
    ok = [o for o in outcomes if o.outcome == "ok"]
    timeouts = sum(1 for o in outcomes if o.outcome == "timeout")
    latencies = np.asarray([o.ended_at - o.started_at for o in outcomes], dtype=float)
    ok_bytes = sum(o.size for o in ok)
    rate = (lambda count: count / n) if n else (lambda count: None)
    metrics: dict[str, Any] = {
        "wall_s": wall_s,
        "throughput_bytes_per_s": ok_bytes / wall_s if wall_s > 0 else None,
        "files_per_s": len(ok) / wall_s if wall_s > 0 else None,
        "latency_p50_s": _percentile(latencies, 50),
        "latency_p90_s": _percentile(latencies, 90),
        "latency_p99_s": _percentile(latencies, 99),
        "latency_max_s": float(latencies.max()) if latencies.size else None,
        "success_rate": rate(len(ok)),
        "timeout_rate": rate(timeouts),
        "error_rate": rate(n - len(ok) - timeouts),
        "retries": sum(max(0, o.attempts - 1) for o in outcomes),
        "integrity_errors": sum(1 for o in outcomes if o.outcome == "integrity_error"),
        "connections_opened": None,
        "tls_handshakes": None,
        "loop_lag_p99_s": loop_lag.p99_s if loop_lag else None,
        "loop_lag_max_s": loop_lag.max_s if loop_lag else None,
        "loop_blocked_fraction": loop_lag.blocked_fraction if loop_lag else None,
        "rss_peak_bytes": rss_peak_bytes,
        "cpu_user_s": cpu_user_s,
        "cpu_sys_s": cpu_sys_s,
        "heap_peak_bytes": None,
    }
    assert tuple(metrics) == METRIC_NAMES  # the contract's key set and order
    return metrics


def _records(outcomes: Sequence[Outcome], t0: float) -> list[dict[str, Any]]:
    return [
        {
            "name": o.name,
            "size": o.size,
            "start": o.started_at - t0,
            "end": o.ended_at - t0,
            "attempts": o.attempts,
            "outcome": o.outcome,
            "status": o.status,
            "error": o.error,
            "file_id": o.file_id,
            "bytes_sent": o.bytes_sent,
        }
        for o in outcomes
    ]


def _cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + kids.ru_utime, me.ru_stime + kids.ru_stime


async def _run_async(
    uploader: Any,
    files: Sequence[LocalFile],
    target: Target,
    settings: Settings,
    interval: float | None,
) -> tuple[list[Outcome], float, float, LoopLagStats | None]:
    sampler = LoopLagSampler(interval_s=interval) if interval is not None else None
    if sampler is not None:
        sampler.start()
    t0 = time.perf_counter()
    outcomes = await uploader.upload_many(files, target, settings)
    t1 = time.perf_counter()
    return list(outcomes), t0, t1, (await sampler.stop() if sampler is not None else None)


@dataclass(frozen=True)
class _Prepared:
    """What stays the same for every round of a process: the target, the variant's
    factory (its module imported once) and whether it is async."""

    spec: TrialSpec
    target: Target
    is_async: bool


def prepare(spec: TrialSpec | Mapping[str, Any]) -> _Prepared:
    """Check the spec and import the variant once; raises :class:`HarnessError`."""
    trial = spec if isinstance(spec, TrialSpec) else TrialSpec.from_mapping(spec)
    target = _target(trial)
    _settings(trial)
    _trust_ca(trial.ca_file)
    uploader = _load(trial.variant)
    is_async = inspect.iscoroutinefunction(getattr(uploader, "upload_many", None))
    return _Prepared(trial, target, is_async)


def run_round(prepared: _Prepared, seed: int | None = None) -> dict[str, Any]:
    """One round: a fresh uploader object and event loop, the whole upload set once."""
    trial = prepared.spec if seed is None else dataclasses.replace(prepared.spec, seed=seed)
    settings = _settings(trial)
    uploader = _load(trial.variant)  # the module is cached; the factory runs again
    loop_lag: LoopLagStats | None = None
    user0, sys0 = _cpu()
    if prepared.is_async:
        # A cmd: variant's loop only waits for its commands: its lag says nothing about
        # the uploader (the command), so it is not applicable there.
        interval = None if trial.variant.startswith("cmd:") else trial.loop_lag_interval_s
        outcomes, t0, t1, loop_lag = asyncio.run(
            _run_async(uploader, trial.files, prepared.target, settings, interval)
        )
    else:
        t0 = time.perf_counter()
        outcomes = list(uploader.upload_many(trial.files, prepared.target, settings))
        t1 = time.perf_counter()
    user1, sys1 = _cpu()
    if len(outcomes) != len(trial.files):
        raise HarnessError(
            f"variant {trial.variant!r} returned {len(outcomes)} outcomes for "
            f"{len(trial.files)} files"
        )
    # ru_maxrss is KiB on Linux (bytes on macOS, where this harness is not measured).
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    metrics = compute_metrics(
        outcomes,
        t1 - t0,
        loop_lag=loop_lag,
        rss_peak_bytes=rss_peak,
        cpu_user_s=user1 - user0,
        cpu_sys_s=sys1 - sys0,
    )
    return {
        "status": "ok",
        "error": None,
        "metrics": metrics,
        "records": _records(outcomes, t0),
    }


def run_trial(spec: TrialSpec | Mapping[str, Any]) -> dict[str, Any]:
    """Run one trial (one round) in this process and return its result (``status``,
    ``error``, ``metrics``, ``records``). Makes no assumption about who calls it or how
    long it may take; raises :class:`HarnessError` when the spec or the variant is
    unusable."""
    return run_round(prepare(spec))


def _session(prepared: _Prepared, out: Any) -> None:
    """Answer each round line on stdin with one result line until end of input. A round
    the harness cannot make sense of is answered with ``{"error": ...}`` and the session
    goes on; an exception of the uploader's ends the process (the orchestrator records it
    and starts a fresh process for the next round)."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            seed = int(command["seed"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            result: dict[str, Any] = {"error": f"malformed round line: {exc!r}"}
        else:
            # the uploader's own exceptions propagate: the process ends with its traceback
            try:
                result = run_round(prepared, seed)
            except HarnessError as err:
                result = {"error": str(err)}
        out.write(json.dumps(result, allow_nan=False) + "\n")
        out.flush()


def main() -> int:
    """``python -m harness.worker``: spec on stdin, result on stdout, exit code 0/2."""
    # The uploader (a cmd: variant's command, a chatty library) must not write into our
    # result channel: keep the real stdout for the result and point fd 1 at stderr.
    result_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        # the spec is the first line (a session) or the whole input (one-shot)
        raw = sys.stdin.readline()
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raw += sys.stdin.read()
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise HarnessError(f"trial spec is not JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise HarnessError("trial spec must be a JSON object")
        prepared = prepare(data)
        with os.fdopen(result_fd, "w", encoding="utf-8") as out:
            if prepared.spec.session:
                _session(prepared, out)
            else:
                out.write(json.dumps(run_round(prepared), allow_nan=False) + "\n")
    except HarnessError as err:
        print(f"harness.worker: error: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
