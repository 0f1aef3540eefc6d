"""Network profiles in the fault proxy, against a real echo server on 127.0.0.1.

No wall-clock asserts: what a round trip and a new connection cost is checked on the
proxy's schedule with an injected clock and sleep (the seconds it asks to wait), and the
wall-clock figures are in ``benchmarks/proxy_cost.py``. Real-time tests here assert bytes
and order only.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from harness.faultproxy import FaultProxy
from harness.faults.network import validate_network_profile
from tests.factories.servers import Echo


class FakeTime:
    """A clock that moves only when the proxy sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()
    assert await reader.readexactly(len(data)) == data


async def test_a_new_connection_pays_one_round_trip_more_than_a_pooled_one(
    echo: Echo,
) -> None:
    fake = FakeTime()
    proxy = FaultProxy(
        upstream=("127.0.0.1", echo.port),
        network="regional",
        clock=fake.clock,
        sleep=fake.sleep,
    )
    async with proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        started = fake.now
        await exchange(reader, writer, b"first")
        first = fake.now - started
        costs = []
        for _ in range(3):
            started = fake.now
            await exchange(reader, writer, b"again")
            costs.append(fake.now - started)
        writer.close()
        await writer.wait_closed()
        # a second connection pays the handshake again
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        started = fake.now
        await exchange(reader, writer, b"new")
        second_first = fake.now - started
        writer.close()
        await writer.wait_closed()
        assert proxy.stats()["network"] == "regional"
    # 50 ms RTT: a request and its answer on a pooled connection cost one RTT, the first
    # exchange of a new connection two (the SYN/SYN-ACK round trip, then the request)
    assert costs == [pytest.approx(0.05)] * 3
    assert first == pytest.approx(0.10)
    assert second_first == pytest.approx(0.10)
    # each direction waits half the RTT: up 75 ms (handshake + half), then down 25 ms
    assert fake.slept[:2] == [pytest.approx(0.075), pytest.approx(0.025)]


async def test_every_flight_pays_its_half_round_trip(echo: Echo) -> None:
    """A TLS handshake is flights of bytes each way: each pays RTT/2 as it passes."""
    fake = FakeTime()
    network = {"rtt": "100ms"}
    async with FaultProxy(
        upstream=("127.0.0.1", echo.port), network=network, clock=fake.clock, sleep=fake.sleep
    ) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        for flight in (b"client hello", b"finished", b"request"):
            await exchange(reader, writer, flight)
        writer.close()
        await writer.wait_closed()
    # handshake (1 RTT) + three request/answer flights (1 RTT each)
    assert fake.now == pytest.approx(0.4)


async def test_link_bandwidth_is_shared_by_connections(echo: Echo) -> None:
    fake = FakeTime()
    network = {"rtt": 0, "up": "80kbit/s"}  # 10,000 B/s, 1,000 B slices
    async with FaultProxy(
        upstream=("127.0.0.1", echo.port), network=network, clock=fake.clock, sleep=fake.sleep
    ) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        await exchange(reader, writer, b"a" * 5000)
        assert sum(fake.slept) == pytest.approx(0.4)  # the first slice goes at once
        fake.slept.clear()
        other_r, other_w = await asyncio.open_connection("127.0.0.1", proxy.port)
        await exchange(other_r, other_w, b"b" * 1000)
        for w in (writer, other_w):
            w.close()
            await w.wait_closed()
    # the second connection waits for the link to finish the first one's last slice: one
    # bucket for the link, not one per connection (a bandwidth fault is per connection)
    assert fake.slept == [pytest.approx(0.1)]


async def test_bandwidth_and_delay_keep_every_byte(echo: Echo) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    network = {"rtt": "2ms", "up": "400Mbit/s", "down": "200Mbit/s", "jitter": "2ms"}
    async with FaultProxy(upstream=("127.0.0.1", echo.port), network=network, seed=7) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        received = await reader.read(-1)
        await sender
        writer.close()
        await writer.wait_closed()
        stats = proxy.stats()
    assert received == payload
    assert stats["bytes_up"] == stats["bytes_down"] == len(payload)


async def test_jitter_never_reorders_a_connection(echo: Echo) -> None:
    messages = [f"{i:05d};".encode() for i in range(400)]
    network = {"rtt": "4ms", "jitter": "4ms"}  # each chunk 2 ms +- 2 ms each way
    async with FaultProxy(upstream=("127.0.0.1", echo.port), network=network, seed=3) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        for message in messages:
            writer.write(message)
            await writer.drain()
            await asyncio.sleep(0)  # separate chunks, each with its own jitter draw
        writer.write_eof()
        received = await reader.read(-1)
        writer.close()
        await writer.wait_closed()
    assert received == b"".join(messages)


async def test_jitter_is_seeded(echo: Echo) -> None:
    async def schedule(seed: int) -> list[float]:
        fake = FakeTime()
        async with FaultProxy(
            upstream=("127.0.0.1", echo.port),
            network="lte",
            seed=seed,
            clock=fake.clock,
            sleep=fake.sleep,
        ) as proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            for _ in range(5):
                await exchange(reader, writer, b"x")
            writer.close()
            await writer.wait_closed()
        return [s for s in fake.slept if s > 0.01]  # the delays, not the link's pacing

    first = await schedule(1)
    assert await schedule(1) == first
    assert await schedule(2) != first
    # lte: 70 ms +- 10 ms per round trip, each direction 35 +- 5 ms (the first up also
    # pays the handshake)
    assert all(0.03 - 1e-9 <= s <= 0.04 + 1e-9 for s in first[1:])


def run_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness.faultproxy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    "network",
    ["regional", json.dumps({"rtt": "10ms", "up": "20Mbit/s"}), "NORMALISED"],
)
async def test_cli_takes_a_preset_a_table_or_the_normalised_form(echo: Echo, network: str) -> None:
    if network == "NORMALISED":  # what the runner passes (harness.rig.servers.start_proxy)
        network = json.dumps(validate_network_profile("lte"))
    proc = run_cli("--upstream", f"127.0.0.1:{echo.port}", "--network", network)
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.startswith("http://127.0.0.1:")
        port = int(line.strip().rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await exchange(reader, writer, b"via the cli")
        writer.close()
        await writer.wait_closed()
    finally:
        proc.terminate()
        out, err = await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 0, err
    stats: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    assert stats["connections"] == 1
    assert stats["network"] in {"regional", "custom", "lte"}


@pytest.mark.parametrize(
    ("network", "message"),
    [("moon", "unknown network 'moon'"), ('{"rtt": "5ms", "loss": 1}', "netem")],
)
def test_cli_bad_network_is_one_line(network: str, message: str) -> None:
    proc = run_cli("--upstream", "127.0.0.1:1", "--network", network)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
