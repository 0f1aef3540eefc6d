"""Load: 1,000 concurrent small uploads against the mock process with faults on (5% 503, 1%
cut mid-body) leave no descriptor or connection behind, and its memory stays bounded.

The mock runs as its own process so its descriptors (``/proc/PID/fd``), sockets and RSS are
its own. Counts, not timings, are asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import psutil
import pytest

pytestmark = pytest.mark.slow

KEY = "sk-load"
UPLOADS = 1_000
SIZE = 2048
MiB = 1024 * 1024
FAULTS = {
    "seed": 11,
    "faults": [
        {"type": "http_error", "status": 503, "probability": 0.05},
        {"type": "abort_mid_body", "after_pct": 50, "mode": "rst", "probability": 0.01},
    ],
}
# Connections close asynchronously on the server side after the client has gone.
SETTLE_S = 10.0


@contextmanager
def mock_process(
    tmp_path: Path, faults_doc: dict[str, object] = FAULTS
) -> Iterator[tuple[psutil.Process, str]]:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps(faults_doc))
    log = (tmp_path / "mock.log").open("wb")
    argv = [sys.executable, "-m", "harness.mockprovider", "--port", "0", "--keys", KEY]
    proc = subprocess.Popen(
        [*argv, "--faults", str(faults)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # printed only once the socket accepts
        assert url.startswith("http://127.0.0.1:"), (tmp_path / "mock.log").read_text()
        yield psutil.Process(proc.pid), url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            log.close()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def tcp_connections(proc: psutil.Process) -> int:
    return len([c for c in proc.net_connections(kind="tcp") if c.status != psutil.CONN_LISTEN])


def settled(proc: psutil.Process, fds: int, conns: int) -> tuple[int, int]:
    """Descriptor and connection counts once they are back to ``fds``/``conns``, or the
    last ones seen after :data:`SETTLE_S` (bounded in count and time)."""
    deadline = time.monotonic() + SETTLE_S
    now_fds, now_conns = open_fds(proc.pid), tcp_connections(proc)
    for _ in range(int(SETTLE_S / 0.05)):
        if (now_fds <= fds and now_conns <= conns) or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # polling the kernel's count, not waiting for a server to start
        now_fds, now_conns = open_fds(proc.pid), tcp_connections(proc)
    return now_fds, now_conns


class PeakFds:
    """Samples the mock's descriptor count while uploads run (bounded by a stop flag)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, open_fds(self.pid))

    def __enter__(self) -> PeakFds:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


async def upload_all(
    url: str,
    count: int,
    folder: str,
    *,
    connections: int | None = None,
    timeout_s: float = 60.0,
) -> Counter[str]:
    """``count`` uploads at once, each on its own connection (or sharing a keep-alive pool
    of ``connections``); outcome per upload."""
    body = b"u" * SIZE
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/octet-stream"}
    outcomes: Counter[str] = Counter()
    start = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=connections or count, force_close=connections is None)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int) -> None:
            await start.wait()
            target = f"{url}/supabase/storage/v1/object/uploads/{folder}/{i}.bin"
            try:
                async with session.post(target, data=body, headers=headers) as resp:
                    await resp.read()
                    outcomes[str(resp.status)] += 1
            except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
                outcomes[type(exc).__name__] += 1

        tasks = [asyncio.create_task(one(i)) for i in range(count)]
        await asyncio.sleep(0)
        start.set()
        await asyncio.gather(*tasks)
    return outcomes


def stats(url: str) -> dict[str, object]:
    import httpx

    with httpx.Client(trust_env=False, timeout=30) as client:
        doc = client.get(url + "/__mock/stats").json()
    totals = doc["totals"]
    assert isinstance(totals, dict)
    return totals


def test_a_thousand_concurrent_faulty_uploads_leak_nothing(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < UPLOADS + 200:
        pytest.skip(f"needs {UPLOADS + 200} descriptors, the hard limit is {hard}")
    if soft < UPLOADS + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (UPLOADS + 200, hard))
    try:
        with mock_process(tmp_path) as (proc, url):
            fds_idle = open_fds(proc.pid)
            # warm up: one round, so lazily made objects (pools, codecs) are there before
            asyncio.run(upload_all(url, 20, "warmup"))
            fds0, conns0 = settled(proc, fds_idle, 0)
            rss0 = proc.memory_info().rss
            with PeakFds(proc.pid) as peak:
                outcomes = asyncio.run(upload_all(url, UPLOADS, "load"))
            fds1, conns1 = settled(proc, fds0, conns0)
            rss1 = proc.memory_info().rss
            totals = stats(url)
            print(
                f"\nload: {UPLOADS} uploads {dict(outcomes)}; mock fds {fds0}->{fds1} "
                f"(peak {peak.peak}), "
                f"connections {conns0}->{conns1}, RSS {rss0 / MiB:.1f}->{rss1 / MiB:.1f} MiB, "
                f"faults {totals.get('faults_applied')}"
            )
            assert proc.is_running()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert sum(outcomes.values()) == UPLOADS
    # the faults really ran, and the rest succeeded
    assert outcomes["200"] >= UPLOADS * 0.85, outcomes
    # each upload either stored, refused by the 503 fault, or cut: nothing else
    assert set(outcomes) <= {"200", "503", "ClientOSError", "ServerDisconnectedError"}, outcomes
    assert outcomes["503"] > 0, outcomes
    assert sum(v for k, v in outcomes.items() if not k.isdigit()) > 0, outcomes
    assert "500" not in outcomes, outcomes
    # the uploads really overlapped (a sequential run would prove nothing about leaks)
    assert peak.peak > fds0 + 100, peak.peak
    assert fds1 <= fds0, f"descriptors leaked: {fds0} -> {fds1}"
    assert conns1 <= conns0, f"connections left open: {conns0} -> {conns1}"
    assert rss1 - rss0 < 64 * MiB, f"RSS grew {(rss1 - rss0) / MiB:.1f} MiB"
    log = (tmp_path / "mock.log").read_text()
    assert "Traceback" not in log
    assert "mock handler failed" not in log


HANG_FAULTS = {
    "seed": 5,
    "faults": [
        {"type": "stall", "after_bytes": 100, "stall_s": 600, "probability": 0.03},
        {"type": "drop_response", "mode": "hang", "probability": 0.03},
    ],
}


def test_stalled_and_hung_requests_are_released_once_their_clients_give_up(
    tmp_path: Path,
) -> None:
    """A stall or a hang holds a request for up to an hour unless the mock notices the
    client has gone: clients that time out must leave no descriptor or connection."""
    with mock_process(tmp_path, HANG_FAULTS) as (proc, url):
        fds_idle = open_fds(proc.pid)
        outcomes = asyncio.run(upload_all(url, 300, "hang", connections=50, timeout_s=2.0))
        fds1, conns1 = settled(proc, fds_idle, 0)
        totals = stats(url)
        print(
            f"\nhang: 300 uploads {dict(outcomes)}; mock fds {fds_idle}->{fds1}, "
            f"connections ->{conns1}, faults {totals.get('faults_applied')}"
        )
    assert sum(outcomes.values()) == 300
    assert outcomes["TimeoutError"] + outcomes["ServerTimeoutError"] > 0, outcomes
    assert outcomes["200"] >= 250, outcomes
    assert fds1 <= fds_idle, f"descriptors held after the clients left: {fds_idle} -> {fds1}"
    assert conns1 == 0, f"connections left open: {conns1}"
    log = (tmp_path / "mock.log").read_text()
    assert "Traceback" not in log
