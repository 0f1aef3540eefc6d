"""The network fault proxy against real servers on 127.0.0.1: one test per fault type.

Timing assertions are lower bounds only (a loaded machine only makes things slower); exact
delays are checked with an injected clock and sleep instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from harness.faultproxy import FaultProxy
from harness.faults import validate_network_fault
from tests.factories.servers import Echo


@pytest.fixture
async def http_server() -> AsyncIterator[int]:
    """aiohttp app: POST /upload answers the sha256 and size of the streamed body."""

    async def upload(request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.content.iter_chunked(65536):
            digest.update(chunk)
            size += len(chunk)
        return web.json_response({"sha256": digest.hexdigest(), "size": size})

    app = web.Application()
    app.router.add_post("/upload", upload)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield port
    await runner.cleanup()


async def roundtrip(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await reader.readexactly(len(payload))
    finally:
        writer.close()
        await writer.wait_closed()


async def test_probability_zero_passes_through_untouched(echo: Echo, http_server: int) -> None:
    faults = [
        {"type": "latency", "ms": 5000, "probability": 0},
        {"type": "blackhole", "probability": 0},
        {"type": "reset_peer", "probability": "0%"},
        {"type": "bandwidth", "bytes_per_s": 1_000, "probability": 0.0},
    ]
    payload = bytes(range(256)) * 4096  # 1 MiB
    async with FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults, seed=3) as proxy:
        assert await roundtrip(proxy.port, payload) == payload
        stats = proxy.stats()
    assert stats["connections"] == 1
    assert stats["faults"] == {"latency": 0, "bandwidth": 0, "reset_peer": 0, "blackhole": 0}
    assert stats["bytes_up"] == stats["bytes_down"] == len(payload)
    assert echo.received == len(payload)

    # a real HTTP client and server see the same bytes as without the proxy
    async with (
        FaultProxy(upstream=("127.0.0.1", http_server), faults=faults, seed=3) as proxy,
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}/upload", data=payload) as response,
    ):
        answer = await response.json()
    assert answer == {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}


async def test_latency_delays_data(echo: Echo) -> None:
    faults = [{"type": "latency", "ms": 150, "jitter_ms": 20, "direction": "both"}]
    loop = asyncio.get_running_loop()
    async with FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults) as proxy:
        started = loop.time()
        assert await roundtrip(proxy.port, b"ping") == b"ping"
        elapsed = loop.time() - started
        assert proxy.stats()["faults"]["latency"] == 1
    # up and down each add 150 ± 20 ms; only the lower bound is meaningful on a busy box
    assert elapsed >= 0.26


async def test_latency_is_pipelined_and_seeded_with_an_injected_clock(echo: Echo) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    faults = [{"type": "latency", "ms": 100, "jitter_ms": 10, "direction": "up"}]

    async def run(seed: int) -> list[float]:
        slept.clear()
        proxy = FaultProxy(
            upstream=("127.0.0.1", echo.port),
            faults=faults,
            seed=seed,
            clock=lambda: 0.0,
            sleep=fake_sleep,
        )
        async with proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            for _ in range(5):
                writer.write(b"x" * 100)
                await writer.drain()
                await reader.readexactly(100)  # one chunk in flight at a time
            writer.close()
            await writer.wait_closed()
        return list(slept)

    first = await run(seed=1)
    assert len(first) == 5
    # every chunk stamped at 0 is released at the largest delay so far: order is kept
    assert all(0.09 <= s <= 0.11 for s in first)
    assert first == sorted(first)
    assert await run(seed=1) == first
    assert await run(seed=2) != first


async def test_bandwidth_limits_throughput(echo: Echo) -> None:
    faults = [{"type": "bandwidth", "bytes_per_s": 100_000, "direction": "up"}]
    payload = b"b" * 60_000
    loop = asyncio.get_running_loop()
    async with FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults) as proxy:
        started = loop.time()
        assert await roundtrip(proxy.port, payload) == payload
        elapsed = loop.time() - started
        assert proxy.stats()["faults"]["bandwidth"] == 1
    # 60 KB at 100 KB/s is 0.6 s; the first 100 ms slice leaves without waiting
    assert elapsed >= 0.45


async def test_bandwidth_paces_with_an_injected_clock(echo: Echo) -> None:
    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    faults = [{"type": "bandwidth", "bytes_per_s": 10_000, "direction": "up"}]
    proxy = FaultProxy(
        upstream=("127.0.0.1", echo.port), faults=faults, clock=lambda: now[0], sleep=fake_sleep
    )
    async with proxy:
        assert await roundtrip(proxy.port, b"z" * 5000) == b"z" * 5000
    # 5000 B at 10 kB/s in 1000 B slices: the first goes at once, then 0.1 s per slice
    assert sum(slept) == pytest.approx(0.4)
    assert all(s == pytest.approx(0.1) for s in slept)


async def test_reset_peer_at_once_makes_the_client_see_a_reset(echo: Echo) -> None:
    faults = [{"type": "reset_peer", "timeout_ms": 0}]
    async with FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"hello")
        with pytest.raises(ConnectionResetError):
            await reader.read(100)
        writer.close()
        assert proxy.stats()["resets"] == 1
    assert echo.connections == 0  # reset before the upstream was dialled


async def test_reset_peer_after_a_timeout(echo: Echo, http_server: int) -> None:
    faults = [{"type": "reset_peer", "timeout_ms": "200ms"}]
    async with FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"early")
        await writer.drain()
        assert await reader.readexactly(5) == b"early"  # data flows until the timeout
        with pytest.raises(ConnectionResetError):
            await reader.read(100)
        writer.close()
        assert proxy.stats()["resets"] == 1

    # an HTTP client uploading through it fails with a connection error, not a hang
    slow = [{"type": "reset_peer", "timeout_ms": 100}, {"type": "bandwidth", "bytes_per_s": 50_000}]
    async with (
        FaultProxy(upstream=("127.0.0.1", http_server), faults=slow) as proxy,
        aiohttp.ClientSession() as session,
    ):
        with pytest.raises(aiohttp.ClientError):
            async with session.post(f"{proxy.url}/upload", data=b"u" * 200_000) as response:
                await response.read()


async def test_blackhole_makes_the_client_time_out(echo: Echo) -> None:
    faults = [{"type": "blackhole"}]
    async with FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"anyone there?")
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(100), timeout=0.3)
        writer.close()
        await writer.wait_closed()
        stats = proxy.stats()
    assert stats["faults"]["blackhole"] == 1
    assert stats["bytes_dropped"] == 13
    assert echo.received == 0


async def test_blackhole_with_timeout_closes(echo: Echo) -> None:
    faults = [{"type": "blackhole", "timeout_ms": 150}]
    async with FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"x")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(100), timeout=10) == b""
        writer.close()
        await writer.wait_closed()
    assert echo.received == 0


async def test_blackhole_down_swallows_only_the_answer(echo: Echo) -> None:
    # the request reaches the server but no answer comes back: the duplicate-upload hazard
    faults = [{"type": "blackhole", "direction": "down"}]
    async with FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"payload")
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(100), timeout=0.3)
        writer.close()
        await writer.wait_closed()
    assert echo.received == 7


async def test_probability_is_seeded_per_connection(echo: Echo) -> None:
    async def pattern(seed: int) -> list[bool]:
        faults = [{"type": "reset_peer", "probability": 0.5}]
        out = []
        async with FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults, seed=seed) as p:
            for _ in range(16):
                try:
                    out.append(await roundtrip(p.port, b"hi") != b"hi")
                except (ConnectionError, asyncio.IncompleteReadError):
                    out.append(True)
            assert p.stats()["faults"]["reset_peer"] == sum(out)
        return out

    first = await pattern(7)
    assert 2 <= sum(first) <= 14
    assert await pattern(7) == first
    assert await pattern(8) != first


async def test_unreachable_upstream_resets_the_client(echo: Echo) -> None:
    assert echo.server is not None
    echo.server.close()
    await echo.server.wait_closed()
    async with FaultProxy(upstream=("127.0.0.1", echo.port)) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await reader.readexactly(1)
        writer.close()
        assert proxy.stats()["upstream_errors"] == 1


def test_validation_messages() -> None:
    assert validate_network_fault({"type": "blackhole"}) == {
        "type": "blackhole",
        "probability": 1.0,
        "direction": "both",
        "timeout_ms": 0.0,
    }
    for bad, message in [
        ({"type": "slicer"}, "type: unknown network fault"),
        ({"type": "latency", "ms": 10, "jitter_ms": 20}, "jitter_ms: must not exceed"),
        ({"type": "latency", "ms": "2 weeks"}, "ms: unknown duration unit"),
        ({"type": "bandwidth", "bytes_per_s": "fast"}, "bytes_per_s: expected a size"),
        (
            {"type": "bandwidth", "bytes_per_s": "100KB/s", "rate": 1},
            "rate: renamed to probability",
        ),
        ({"type": "latency", "latency_ms": 5}, "latency_ms: renamed to ms"),
        ({"type": "bandwidth", "rate_kbps": 5}, "rate_kbps: renamed to bytes_per_s"),
        ({"type": "reset_peer", "stream": "upstream"}, "stream: unknown key for reset_peer"),
    ]:
        with pytest.raises(ValueError, match=message):
            validate_network_fault(bad)


def run_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness.faultproxy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_cli_prints_its_url_first_and_stats_on_sigterm(echo: Echo) -> None:
    faults = json.dumps([{"type": "latency", "ms": 10}])
    proc = run_cli("--upstream", f"127.0.0.1:{echo.port}", "--faults", faults, "--seed", "4")
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.startswith("http://127.0.0.1:")
        port = int(line.strip().rsplit(":", 1)[1])
        assert await roundtrip(port, b"via the cli") == b"via the cli"
    finally:
        proc.terminate()
        out, err = await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 0, err
    stats: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    assert stats["connections"] == 1
    assert stats["faults"]["latency"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "nowhere"], "--upstream must be HOST:PORT"),
        (["--upstream", "127.0.0.1:1", "--faults", "[{"], "faultproxy: error:"),
        (["--upstream", "127.0.0.1:1", "--faults", '[{"type": "fire"}]'], "unknown network fault"),
    ],
)
def test_cli_bad_input_is_one_line(args: list[str], message: str) -> None:
    proc = run_cli(*args)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1


async def test_close_with_open_connections_is_clean(
    echo: Echo, caplog: pytest.LogCaptureFixture
) -> None:
    faults = [{"type": "latency", "ms": 10, "probability": 0.5}]
    proxy = FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults)
    await proxy.start()
    clients = [await asyncio.open_connection("127.0.0.1", proxy.port) for _ in range(4)]
    for reader, writer in clients:
        writer.write(b"hold")
        await writer.drain()
        assert await reader.readexactly(4) == b"hold"
    await proxy.close()
    for reader, writer in clients:
        assert await asyncio.wait_for(reader.read(10), timeout=10) == b""
        writer.close()
    assert proxy.stats()["active"] == 0
    # asyncio logs a cancelled connection handler as an error; none may be cancelled
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_public_names() -> None:
    import harness.faultproxy as module

    # the catalog (types, parameters, validation) is harness.faults.network
    assert set(module.__all__) == {"FaultProxy", "main"}


async def test_set_faults_applies_to_new_connections(echo: Echo) -> None:
    async with FaultProxy(upstream=("127.0.0.1", echo.port)) as proxy:
        assert await roundtrip(proxy.port, b"before") == b"before"
        proxy.set_faults([{"type": "reset_peer"}])
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await roundtrip(proxy.port, b"after")
        assert proxy.stats()["faults"]["reset_peer"] == 1


async def test_many_connections_with_faults_leak_no_descriptors(echo: Echo) -> None:
    import os

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    faults = [
        {"type": "latency", "ms": 5, "jitter_ms": 5, "probability": 0.5},
        {"type": "reset_peer", "timeout_ms": 0, "probability": 0.2},
        {"type": "bandwidth", "bytes_per_s": 10_000_000, "probability": 0.3},
    ]
    before = open_fds()
    async with FaultProxy(upstream=("127.0.0.1", echo.port), faults=faults, seed=11) as proxy:

        async def one(i: int) -> bool:
            try:
                return await roundtrip(proxy.port, b"%d" % i * 100) == b"%d" % i * 100
            except (ConnectionError, asyncio.IncompleteReadError):
                return False

        outcomes = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(200))), 60)
    stats = proxy.stats()
    assert stats["connections"] == 200
    assert stats["active"] == 0
    assert outcomes.count(False) == stats["resets"] == stats["faults"]["reset_peer"]
    assert open_fds() <= before + 1  # the listening socket is gone too; allow one for slack
