"""The baselines' one fixed timeout comes from the scenario's settings, so a stalled
upload is a *timeout* for the legacy client too (the investigation's timeout row), not a
connection error recorded when the server finally hangs up."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
import pytest
import xxhash

from harness.mockprovider import MockConfig, MockServer
from uploader import LocalFile, Settings, Target
from uploader.naive import NaiveAsyncUploader
from uploader.sync_baseline import SyncBaselineUploader
from uploader.timeouts import legacy_timeout_s

KEY = "sk-test"


def test_legacy_timeout_is_the_settings_fixed_timeout_unless_overridden() -> None:
    settings = Settings(min_timeout_s=3.0)
    assert legacy_timeout_s(settings) == 3.0
    assert legacy_timeout_s(settings, 7.5) == 7.5


def _file(tmp_path: Path) -> LocalFile:
    data = random.Random(5).randbytes(512 * 1024)
    path = tmp_path / "stalled.bin"
    path.write_bytes(data)
    return LocalFile(path, len(data), xxhash.xxh3_128(data).hexdigest())


@pytest.mark.parametrize("variant", ["sync", "naive-async"])
def test_a_stall_is_a_timeout_for_the_baselines(tmp_path: Path, variant: str) -> None:
    # The mock stops reading after 64 KiB and holds the request for 30 s; the baseline's
    # fixed 0.5 s timeout must end it long before, as a timeout.
    stall = {"type": "stall", "after_bytes": 65536, "stall_s": 30, "probability": 1.0}
    with MockServer.in_thread(MockConfig(keys=(KEY,)), port=0) as srv:
        httpx.put(f"{srv.url}/__mock/faults", json={"seed": 1, "faults": [stall]}, timeout=10)
        target = Target("kimi", srv.url + "/kimi/v1", KEY, record_metadata=False)
        settings = Settings(min_timeout_s=0.5, concurrency=1)
        files = [_file(tmp_path)]
        if variant == "sync":
            outcomes = SyncBaselineUploader().upload_many(files, target, settings)
        else:
            outcomes = asyncio.run(NaiveAsyncUploader().upload_many(files, target, settings))
    (outcome,) = outcomes
    assert outcome.outcome == "timeout", outcome.error
    assert outcome.attempts == 1
