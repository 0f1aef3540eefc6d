"""Test-only uploader variants, loaded by spec as ``tests.helpers:NAME`` (the
``package.module:attr`` form), so the real worker process runs them."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import httpx
import psutil

from uploader import LocalFile, Outcome, Settings, Target

__all__ = [
    "CorruptUploader",
    "CrashUploader",
    "HangUploader",
    "KillMockUploader",
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
    """Sends each file with its first byte flipped and claims success (Kimi/GLM multipart):
    only the harness's server-side content check can catch it."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        outcomes = []
        with httpx.Client(timeout=30, trust_env=False) as client:
            for f in files:
                data = bytearray(f.path.read_bytes())
                data[0] ^= 0xFF
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
                    )
                )
        return outcomes


hang_uploader = HangUploader()
crash_uploader = CrashUploader()
corrupt_uploader = CorruptUploader()
kill_mock_uploader = KillMockUploader()
