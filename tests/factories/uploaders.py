"""Every test-only uploader, in one place. Tests name them by spec as
``tests.factories.uploaders:NAME`` (the ``package.module:attr`` plugin form) so the real
worker process runs them; the worker finds them because tests run from the checkout.

Misbehaving on purpose: hang, crash, corrupt, kill the mock, leak or spy on the key, go
slowly. Each says what the harness must do about it."""

from __future__ import annotations

import builtins
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import psutil

from uploader import LocalFile, Outcome, Settings, Target
from uploader.sync_baseline import SyncBaselineUploader

__all__ = [
    "KEY_SINK_ENV",
    "RAISE_ENV",
    "RAISE_MODE_ENV",
    "SLOW_ENV",
    "CorruptUploader",
    "CrashUploader",
    "HangUploader",
    "KeyLeaker",
    "KeySpy",
    "KillMockUploader",
    "RaisingUploader",
    "SlowUploader",
    "corrupt_uploader",
    "crash_uploader",
    "hang_uploader",
    "kill_mock_uploader",
]

# Far beyond any test's trial deadline, yet bounded so a runner bug cannot leave it forever.
HANG_S = 120.0


class HangUploader:
    """Never finishes in time: the runner must kill it at the trial's deadline."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        time.sleep(HANG_S)
        return []


class CrashUploader:
    """Dies the way a buggy uploader does: an exception out of ``upload_many``."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        raise RuntimeError("uploader exploded")


class KillMockUploader:
    """Kills the mock provider its orchestrator started (a sibling process), as an OOM kill
    or a crash of the mock would: the runner must stop with a harness error, not wait."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        orchestrator = psutil.Process(os.getppid())
        for child in orchestrator.children():
            if "harness.mockprovider" in " ".join(child.cmdline()):
                child.kill()
                # It stays a zombie until the orchestrator reaps it, so wait() would not
                # return; dead is enough. Bounded, like every loop in the tests.
                for _ in range(200):
                    try:
                        if child.status() == psutil.STATUS_ZOMBIE:
                            break
                    except psutil.NoSuchProcess:
                        break
                    time.sleep(0.05)
        now = time.perf_counter()
        return [
            Outcome(name=f.name, size=f.size, outcome="ok", started_at=now, ended_at=now)
            for f in files
        ]


class CorruptUploader:
    """Sends each file with its last byte flipped and claims success (Kimi/GLM multipart):
    only the harness's server-side content check can catch it, and it must call every
    file lost."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        outcomes = []
        with httpx.Client(timeout=30, trust_env=False) as client:
            for f in files:
                data = bytearray(f.path.read_bytes())
                data[-1] ^= 0xFF
                start = time.perf_counter()
                response = client.post(
                    f"{target.base_url}/files",
                    headers={"Authorization": f"Bearer {target.key}"},
                    data={"purpose": target.purpose},
                    files={"file": (f.name, bytes(data))},
                )
                outcomes.append(
                    Outcome(
                        name=f.name,
                        size=f.size,
                        outcome="ok",
                        started_at=start,
                        ended_at=time.perf_counter(),
                        status=response.status_code,
                        bytes_sent=f.size,
                    )
                )
        return outcomes


# Where KeySpy writes the key the runner gave its worker (the run's key is random per run
# and, by design, written nowhere the test could read it).
KEY_SINK_ENV = "UPLOADBENCH_TEST_KEY_SINK"
# How long SlowUploader pauses before each trial (seconds).
SLOW_ENV = "UPLOADBENCH_TEST_SLOW_S"


class KeySpy:
    """The sync baseline, after noting the run's API key in ``$UPLOADBENCH_TEST_KEY_SINK``."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        sink = os.environ.get(KEY_SINK_ENV)
        if sink:
            with Path(sink).open("a", encoding="utf-8") as out:
                out.write(target.key + "\n")
        return SyncBaselineUploader().upload_many(files, target, settings)


class KeyLeaker:
    """A careless uploader: prints the key on stdout (the worker's JSON channel) and
    stderr, then dies with the key in its exception. The runner keeps such a worker's
    stderr and error: the key must be gone from both."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        print(f"debug: Authorization: Bearer {target.key}")
        print(f"debug: key={target.key}", file=sys.stderr)
        raise RuntimeError(f"upload failed for key {target.key}")


class SlowUploader:
    """The sync baseline, one file at a time with a pause first: trials long enough that a
    test can kill the run between them."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        time.sleep(float(os.environ.get(SLOW_ENV, "0.5")))
        return SyncBaselineUploader().upload_many(files, target, settings)


# The exception type RaisingUploader's uploads raise (a builtin's name, or any other name:
# a new exception class of that name), and where: "per_file" (default) or "upload_many".
RAISE_ENV = "UPLOADBENCH_TEST_RAISE"
RAISE_MODE_ENV = "UPLOADBENCH_TEST_RAISE_MODE"


def _exception_type(name: str) -> type[Exception]:
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    return type(name, (Exception,), {})


class RaisingUploader:
    """The sync baseline, until ``$UPLOADBENCH_TEST_RAISE`` names an exception type: then
    every file's upload raises it and the uploader records it as ``docs/plugins.md`` asks
    (``connection_error``, ``"Type: message"``), or, with ``$UPLOADBENCH_TEST_RAISE_MODE``
    ``upload_many``, it escapes ``upload_many`` (a harness error). The same scenario (same
    hash) behaves either way, so a test can build history, then raise something new."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        name = os.environ.get(RAISE_ENV)
        if not name:
            return SyncBaselineUploader().upload_many(files, target, settings)
        error = _exception_type(name)
        if os.environ.get(RAISE_MODE_ENV) == "upload_many":
            raise error("the uploader raised out of upload_many")
        outcomes = []
        for f in files:
            start = time.perf_counter()
            try:
                raise error(f"cannot upload {f.name} at {start:.6f}")
            except Exception as exc:  # what a careful plugin does with any failure
                outcomes.append(
                    Outcome(
                        name=f.name,
                        size=f.size,
                        outcome="connection_error",
                        started_at=start,
                        ended_at=time.perf_counter(),
                        error=f"{type(exc).__name__}: {exc}",
                    )
                )
        return outcomes


hang_uploader = HangUploader()
crash_uploader = CrashUploader()
corrupt_uploader = CorruptUploader()
kill_mock_uploader = KillMockUploader()
