"""The fault proxy's own cost: upload throughput through it at 0 delay against direct.

A network profile is only as good as the proxy that applies it: on a 2-core machine the
proxy shares the CPU with the client and the mock. This uploads a file with
``curl --data-binary`` to the mock's raw Supabase object route, directly and through
``python -m harness.faultproxy`` in three settings, back to back in a rotating order,
``--repeats`` times after one warm-up each:

- ``direct``: curl to the mock;
- ``proxy lan``: ``network = "lan"`` (0 ms, no limit): the proxy's plain copy loop, the
  cost every profile pays at least;
- ``proxy shaped``: 0 ms RTT with a 10 Gbit/s link each way: every chunk goes through the
  delay queue and the link's token bucket, the path a profile with a bandwidth takes.

Printed: each setting's median seconds and MiB/s, and the median of the per-repeat paired
ratios proxy/direct (each pair shares the machine's load of its moment). The shaped rate is
what :data:`harness.faults.network.PROXY_CAPACITY_BYTES_PER_S` records.

Then the round trips, on wall clocks (the tests check the proxy's schedule with an injected
clock, never wall time): a one-byte echo through the proxy on ``regional`` (50 ms RTT), the
first exchange of ``--connections`` new connections against exchanges on an open one.
Expected: 1 RTT pooled, 2 RTT new (the SYN/SYN-ACK round trip charged by the proxy).
Plain script:

    python benchmarks/proxy_cost.py [--size-mib 64] [--repeats 9] [--connections 10]

Exit code 0 when the lan ratio is at least ``--target`` (default 0.4) and a new connection
costs 1 RTT more than a pooled exchange within 20%, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MiB = 1024 * 1024
sys.path.insert(0, str(Path(__file__).resolve().parent))

# the same curl upload the mock's capacity benchmark times (benchmarks/ holds scripts)
from bench_mock_capacity import curl_upload  # noqa: E402

ROUTE = "/supabase/storage/v1/object/uploads/big.bin"
SHAPED = json.dumps({"rtt": "0ms", "up": "10Gbit/s", "down": "10Gbit/s"})


@contextmanager
def server(args: list[str]) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # printed once the socket accepts
        if not url.startswith("http://"):
            raise SystemExit(f"server {args} did not start")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


async def round_trips(connections: int) -> tuple[list[float], list[float]]:
    """Seconds of the first exchange on each new connection, and of exchanges on open ones,
    one byte through a proxy on ``regional`` to an echo server."""
    from harness.faultproxy import FaultProxy

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    new: list[float] = []
    pooled: list[float] = []
    async with FaultProxy(("127.0.0.1", port), network="regional") as proxy:
        for _ in range(connections):
            started = time.perf_counter()
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"x")
            await reader.readexactly(1)
            new.append(time.perf_counter() - started)
            for _ in range(3):
                started = time.perf_counter()
                writer.write(b"y")
                await reader.readexactly(1)
                pooled.append(time.perf_counter() - started)
            writer.close()
            await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return new, pooled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--target", type=float, default=0.4)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    size = args.size_mib * MiB
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory(prefix="uploadbench-proxy-") as tmp:
        path = Path(tmp) / "upload.bin"
        block = os.urandom(MiB)
        with path.open("wb") as f:
            for _ in range(args.size_mib):
                f.write(block)
        mock_args = ["-m", "harness.mockprovider", "--port", "0", "--max-bytes", "4G"]
        with server(mock_args) as mock:
            upstream = mock.removeprefix("http://")
            proxy = ["-m", "harness.faultproxy", "--upstream", upstream]
            with (
                server([*proxy, "--network", "lan"]) as lan,
                server([*proxy, "--network", SHAPED]) as shaped,
            ):
                urls = {"direct": mock, "proxy lan": lan, "proxy shaped": shaped}
                for url in urls.values():
                    curl_upload(url + ROUTE, path)  # warm-up, not measured
                seconds: dict[str, list[float]] = {name: [] for name in urls}
                names = list(urls)
                for i in range(args.repeats):
                    # rotate the order so no setting always runs first
                    for name in names[i % 3 :] + names[: i % 3]:
                        seconds[name].append(curl_upload(urls[name] + ROUTE, path))
    print(f"\n{args.size_mib} MiB curl --data-binary upload, {args.repeats} rotating repeats")
    print(f"{'setting':<14}{'median s':>10}{'MiB/s':>9}{'min s':>8}{'max s':>8}")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(
            f"{name:<14}{median:>10.3f}{size / MiB / median:>9.0f}"
            f"{min(values):>8.3f}{max(values):>8.3f}"
        )
    ratios = {}
    for name in ("proxy lan", "proxy shaped"):
        paired = [d / p for d, p in zip(seconds["direct"], seconds[name], strict=True)]
        ratios[name] = statistics.median(paired)
        print(
            f"{name} / direct throughput, median of {len(paired)} paired ratios: {ratios[name]:.1%}"
        )
    shaped_rate = size / statistics.median(seconds["proxy shaped"])
    print(f"shaped capacity: {shaped_rate / MiB:.0f} MiB/s = {shaped_rate * 8 / 1e6:.0f} Mbit/s")
    ok = ratios["proxy lan"] >= args.target
    print(f"target proxy lan / direct >= {args.target:.0%}: {'PASS' if ok else 'FAIL'}")

    rtt = 0.050
    new, pooled = asyncio.run(round_trips(args.connections))
    new_s, pooled_s = statistics.median(new), statistics.median(pooled)
    extra = (new_s - pooled_s) / rtt
    print(f"\nregional (50 ms RTT), 1-byte echo, {args.connections} connections")
    for label, values, seconds_ in (
        ("pooled exchange", pooled, pooled_s),
        ("first exchange of a new connection", new, new_s),
    ):
        print(
            f"{label}, median of {len(values)}: {seconds_ * 1000:.1f} ms = {seconds_ / rtt:.2f} RTT"
        )
    handshake_ok = abs(extra - 1.0) <= 0.2
    verdict = "PASS" if handshake_ok else "FAIL"
    print(f"a new connection costs {extra:.2f} RTT more (expected 1): {verdict}")
    return 0 if ok and handshake_ok else 1


if __name__ == "__main__":
    sys.exit(main())
