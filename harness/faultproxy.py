"""Network faults: an asyncio TCP proxy with Toxiproxy's semantics.

The catalog (types, parameters, defaults, validation) is :mod:`harness.faults.network`;
this module applies it. ``probability`` is Toxiproxy's ``toxicity``, the chance that a
connection gets the fault, drawn per connection from a seeded RNG:

``latency``    delay every chunk by ``ms`` ± ``jitter_ms``, pipelined: each chunk
               leaves at its arrival time + delay, so a link keeps its throughput and
               every byte arrives later (a real RTT), rather than one delay per read
``bandwidth``  throttle to ``bytes_per_s``
``reset_peer`` after ``timeout_ms`` (0: at once) reset both sides with a TCP RST
``blackhole``  read and discard, never forward or answer; close after ``timeout_ms``
               (0: never), i.e. Toxiproxy's ``timeout`` toxic

``direction`` is ``up`` (client to server: the upload body), ``down`` or ``both``;
``reset_peer`` always resets both sides. Faults of one connection stack: latencies add, the
lowest bandwidth wins. When the server closes its side the client connection is closed too;
when the client half-closes, the server still gets to answer.

A **network profile** (``network``: a preset or a custom table, normalised by
:func:`harness.faults.network.validate_network_profile`) applies to every connection:

- each direction waits ``rtt/2`` (± ``jitter/2``, seeded per chunk, clipped at 0 and never
  reordering a connection's bytes), pipelined like ``latency``, so a request and its answer
  pay one RTT and a TLS handshake's flights pay theirs as they pass;
- the TCP handshake: the client's connect to the proxy completes at once on loopback, and
  user space cannot delay the kernel's SYN-ACK. So the proxy charges it on the data: bytes
  the client sends are treated as sent no earlier than one RTT after the proxy accepted the
  connection, i.e. as if the client had waited for the SYN-ACK. The first request on a new
  connection reaches the server at accept + RTT + RTT/2 and its answer is back at
  accept + 2 RTT, against 1 RTT on a pooled connection: a new connection costs one RTT more
  (TLS 1.3 two, TLS 1.2 three, their flights being delayed like any bytes);
- ``up`` and ``down`` bandwidths are the **link's**: one token bucket per direction shared by
  every connection, as a real access link is (a ``bandwidth`` fault stays per connection,
  Toxiproxy's semantics); both apply, so the slower one wins.

Network faults stack on top of a profile (their latencies add to ``rtt/2``). Packet loss is
not modelled: it needs the kernel's ``netem`` or a user-space TCP stack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import socket
import struct
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.faults.network import (
    NETWORK_PARAMS,
    validate_network_fault,
    validate_network_profile,
)

__all__ = ["FaultProxy", "main"]

# A read returns what has arrived, up to this size, like Toxiproxy forwards what one read
# returns, so the size bounds a chunk and never delays one; larger reads mean fewer wake-ups
# per MiB, which is most of the proxy's cost (benchmarks/proxy_cost.py).
_CHUNK = 256 * 1024
# A clean connection (no fault, a profile without delay or limit) is copied in larger reads.
_COPY_CHUNK = 1024 * 1024
# At most this many chunks wait in a latency queue (16 MiB): enough for a fast loopback link
# times any realistic latency, bounded so a stalled peer cannot grow memory without limit.
_QUEUE_CHUNKS = 64
# Toxiproxy's bandwidth toxic releases data in 100 ms slices; slices keep the rate smooth.
_SLICE_S = 0.1
# How long close() lets open connections wind down before cancelling their handlers.
_CLOSE_GRACE_S = 5.0


@dataclass
class _Link:
    """One direction of the profile's link: a token bucket every connection draws from."""

    bytes_per_s: float
    next_free: float = 0.0

    def reserve(self, size: int, now: float) -> float:
        """Book ``size`` bytes; the seconds to wait before sending them."""
        start = max(self.next_free, now)
        self.next_free = start + size / self.bytes_per_s
        return start - now


@dataclass
class _Direction:
    """What one direction of one connection suffers."""

    latency_s: float = 0.0
    jitter_s: float = 0.0
    bytes_per_s: float | None = None
    blackhole: bool = False
    link: _Link | None = None
    # the profile's TCP handshake: bytes count as sent no earlier than this (loop time)
    not_before: float = 0.0

    @property
    def clean(self) -> bool:
        return (
            not self.latency_s
            and not self.jitter_s
            and self.bytes_per_s is None
            and self.link is None
        )


@dataclass
class _Fate:
    """The faults drawn for one connection."""

    up: _Direction = field(default_factory=_Direction)
    down: _Direction = field(default_factory=_Direction)
    reset_after_s: float | None = None
    close_after_s: float | None = None  # blackhole with a timeout
    applied: list[str] = field(default_factory=list)


def _draw(faults: Sequence[Mapping[str, Any]], rng: random.Random) -> _Fate:
    fate = _Fate()
    for fault in faults:
        # draw for every fault, applied or not, so one fault's probability does not shift
        # the others
        if rng.random() >= fault["probability"]:
            continue
        kind = fault["type"]
        fate.applied.append(kind)
        sides = {"up": (fate.up,), "down": (fate.down,), "both": (fate.up, fate.down)}
        chosen = sides[fault["direction"]]
        if kind == "latency":
            for side in chosen:
                side.latency_s += fault["ms"] / 1000.0
                side.jitter_s += fault["jitter_ms"] / 1000.0
        elif kind == "bandwidth":
            rate = float(fault["bytes_per_s"])
            for side in chosen:
                side.bytes_per_s = rate if side.bytes_per_s is None else min(side.bytes_per_s, rate)
        elif kind == "reset_peer":
            after = fault["timeout_ms"] / 1000.0
            fate.reset_after_s = (
                after if fate.reset_after_s is None else min(fate.reset_after_s, after)
            )
        elif kind == "blackhole":
            for side in chosen:
                side.blackhole = True
            if fault["timeout_ms"] > 0:
                after = fault["timeout_ms"] / 1000.0
                current = fate.close_after_s
                fate.close_after_s = after if current is None else min(current, after)
    return fate


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST: SO_LINGER on with a zero timeout makes close() send RST."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """A TCP proxy on ``host:port`` (port 0: any free port) in front of ``upstream``.

    Use as ``async with FaultProxy(upstream=("127.0.0.1", port), faults=[...], seed=0) as p``;
    ``p.url`` is then ``http://127.0.0.1:PORT``. Which faults a connection gets is drawn from
    ``random.Random(f"{seed}:{n}")`` for the n-th accepted connection, so a run is
    reproducible. ``clock``/``sleep`` default to the event loop's.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        faults: Sequence[Mapping[str, Any]] = (),
        seed: int = 0,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        network: object = None,
    ) -> None:
        self.upstream = upstream
        self.faults = tuple(validate_network_fault(f) for f in faults)
        # a preset name, a custom table, or the normalised dict a scenario holds
        self.network = _profile(network)
        self._links = {
            side: _Link(rate)
            for side in ("up", "down")
            if self.network is not None
            and (rate := self.network[f"{side}_bytes_per_s"]) is not None
        }
        self.seed = seed
        self.host = host
        self._port = port
        self._clock = clock
        self._sleep = sleep
        self._server: asyncio.Server | None = None
        self._closing = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._accepted = 0
        self._stats: dict[str, Any] = {
            "connections": 0,
            "active": 0,
            "upstream_errors": 0,
            "bytes_up": 0,
            "bytes_down": 0,
            "bytes_dropped": 0,
            "resets": 0,
            "faults": {kind: 0 for kind in NETWORK_PARAMS},
            "network": None if self.network is None else self.network["name"],
        }

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen; :attr:`port` is valid once this returns."""
        self._closing.clear()  # a proxy may be started again after close()
        self._server = await asyncio.start_server(
            self._handle, self.host, self._port, limit=_COPY_CHUNK
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop every open connection."""
        self._closing.set()
        if self._server is not None:
            self._server.close()
        handlers = list(self._handlers)
        if handlers:
            # Each relay sees _closing and ends by itself. Cancelling a connection handler
            # instead makes asyncio's stream callback log a CancelledError (3.11), so that
            # is only the fallback for a handler stuck in a connect.
            _, stuck = await asyncio.wait(handlers, timeout=_CLOSE_GRACE_S)
            for writer in list(self._writers):
                writer.transport.abort()
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def stats(self) -> dict[str, Any]:
        """Counters: connections accepted and active, bytes each way, bytes swallowed by a
        black hole, resets sent, failed upstream connects, and faults applied per type."""
        return {**self._stats, "faults": dict(self._stats["faults"])}

    def set_faults(self, faults: Sequence[Mapping[str, Any]]) -> None:
        """Replace the faults for connections accepted from now on."""
        self.faults = tuple(validate_network_fault(f) for f in faults)

    # -- one connection --------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(client_w)
        number = self._accepted
        self._accepted += 1
        self._stats["connections"] += 1
        self._stats["active"] += 1
        fate = _draw(self.faults, random.Random(f"{self.seed}:{number}"))
        for kind in fate.applied:
            self._stats["faults"][kind] += 1
        if self.network is not None:
            self._apply_profile(fate)
        upstream_w: asyncio.StreamWriter | None = None
        try:
            if fate.reset_after_s == 0:
                self._stats["resets"] += 1
                _reset(client_w)
                return
            try:
                upstream_r, upstream_w = await asyncio.open_connection(
                    *self.upstream, limit=_COPY_CHUNK
                )
            except OSError:
                # the client must see a failure, not a silent hang
                self._stats["upstream_errors"] += 1
                _reset(client_w)
                return
            self._writers.add(upstream_w)
            await self._relay(fate, number, client_r, client_w, upstream_r, upstream_w)
        finally:
            self._stats["active"] -= 1
            for w in (client_w, upstream_w):
                if w is not None:
                    self._writers.discard(w)
                    if not w.is_closing():
                        w.close()
            self._handlers.discard(task)

    def _apply_profile(self, fate: _Fate) -> None:
        assert self.network is not None
        rtt_s = self.network["rtt_ms"] / 1000.0
        jitter_s = self.network["jitter_ms"] / 1000.0
        for side, direction in (("up", fate.up), ("down", fate.down)):
            direction.latency_s += rtt_s / 2
            direction.jitter_s += jitter_s / 2
            direction.link = self._links.get(side)
        if rtt_s:
            # the SYN/SYN-ACK round trip (module docstring)
            fate.up.not_before = self._now() + rtt_s

    async def _relay(
        self,
        fate: _Fate,
        number: int,
        client_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        upstream_r: asyncio.StreamReader,
        upstream_w: asyncio.StreamWriter,
    ) -> None:
        up = asyncio.create_task(
            self._pump(client_r, upstream_w, fate.up, f"{self.seed}:{number}:up", "bytes_up")
        )
        down = asyncio.create_task(
            self._pump(upstream_r, client_w, fate.down, f"{self.seed}:{number}:down", "bytes_down")
        )
        timers: list[asyncio.Task[None]] = []
        if fate.reset_after_s is not None:
            timers.append(asyncio.create_task(self._timer(fate.reset_after_s)))
        ending = fate.close_after_s
        if ending is not None:
            timers.append(asyncio.create_task(self._timer(ending)))
        stopping = asyncio.create_task(self._closing.wait())
        try:
            pending = {up, down, stopping, *timers}
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if down in done or stopping in done or any(t in done for t in timers):
                    break
                if up in done and up.exception() is not None:
                    break
                # the client half-closed: let the server answer, then finish on `down`
            if fate.reset_after_s is not None and timers and timers[0].done() and not down.done():
                self._stats["resets"] += 1
                _reset(client_w)
                _reset(upstream_w)
        finally:
            for task in (up, down, stopping, *timers):
                task.cancel()
            await asyncio.gather(up, down, stopping, *timers, return_exceptions=True)

    async def _timer(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def _pump(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        faults: _Direction,
        rng_seed: str,
        counter: str,
    ) -> None:
        if faults.clean and not faults.blackhole:
            await self._copy(src, dst, counter)
            return
        # Pipelined latency: a reader stamps each chunk when it arrives and this writer
        # releases it at stamp + delay; sleeping per read instead would cap throughput at
        # one chunk per delay, which no real network does.
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)
        reader = asyncio.create_task(self._stamp(src, queue))
        rng = random.Random(rng_seed)
        last_due = 0.0
        next_free = self._now()
        try:
            while (item := await queue.get()) is not None:
                stamp, data = item
                if faults.blackhole:
                    self._stats["bytes_dropped"] += len(data)
                    continue
                if faults.latency_s or faults.jitter_s or faults.not_before:
                    delay = faults.latency_s + rng.uniform(-faults.jitter_s, faults.jitter_s)
                    # jitter never reorders bytes of one stream
                    sent = max(stamp, faults.not_before)
                    last_due = max(last_due, sent + max(0.0, delay))
                    wait = last_due - self._now()
                    if wait > 0:
                        await self._sleep(wait)
                rates = [
                    r for r in (faults.bytes_per_s, faults.link and faults.link.bytes_per_s) if r
                ]
                if not rates:
                    dst.write(data)
                    self._stats[counter] += len(data)
                    await dst.drain()
                    continue
                step = max(1, int(min(rates) * _SLICE_S))
                for start in range(0, len(data), step):
                    piece = data[start : start + step]
                    if faults.bytes_per_s is not None:
                        wait = next_free - self._now()
                        if wait > 0:
                            await self._sleep(wait)
                        next_free = max(next_free, self._now()) + len(piece) / faults.bytes_per_s
                    if faults.link is not None:
                        wait = faults.link.reserve(len(piece), self._now())
                        if wait > 0:
                            await self._sleep(wait)
                    dst.write(piece)
                    self._stats[counter] += len(piece)
                    await dst.drain()
            if not faults.blackhole and dst.can_write_eof():
                dst.write_eof()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _stamp(
        self, src: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes] | None]
    ) -> None:
        try:
            while data := await src.read(_CHUNK):
                await queue.put((self._now(), data))
        except OSError:
            pass  # a reset peer ends the stream like EOF; the other side is closed by _relay
        await queue.put(None)

    async def _copy(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, counter: str
    ) -> None:
        while data := await src.read(_COPY_CHUNK):
            dst.write(data)
            self._stats[counter] += len(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()


def _profile(network: object) -> dict[str, Any] | None:
    if network is None:
        return None
    if isinstance(network, Mapping) and "rtt_ms" in network:
        # already normalised (a scenario's definition): check it by rebuilding it
        table = {"rtt": f"{network['rtt_ms']}ms", "jitter": f"{network['jitter_ms']}ms"}
        for side in ("up", "down"):
            if network.get(f"{side}_bytes_per_s") is not None:
                table[side] = network[f"{side}_bytes_per_s"]
        return {**validate_network_profile(table), "name": str(network.get("name", "custom"))}
    return validate_network_profile(network)


def _parse_upstream(text: str) -> tuple[str, int]:
    host, sep, port = text.removeprefix("http://").rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--upstream must be HOST:PORT, got {text!r}")
    return host, int(port)


def _load_faults(text: str) -> list[dict[str, Any]]:
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("network_faults", data.get("faults", [data]))
    if not isinstance(data, list):
        raise ValueError("--faults must be a JSON list of fault objects")
    return [validate_network_fault(f) for f in data]


def _load_network(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    return _profile(json.loads(text) if text.lstrip().startswith("{") else text)


async def _serve(
    upstream: tuple[str, int],
    faults: list[dict[str, Any]],
    seed: int,
    port: int,
    network: object = None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with FaultProxy(
        upstream=upstream, faults=faults, seed=seed, port=port, network=network
    ) as proxy:
        # the first stdout line is the readiness signal the runner waits for
        print(proxy.url, flush=True)
        await stop.wait()
        print(json.dumps(proxy.stats(), sort_keys=True), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m harness.faultproxy --upstream 127.0.0.1:PORT --faults JSON --seed N
    [--network NAME|JSON]``:
    prints ``http://127.0.0.1:PORT`` once listening, serves until SIGTERM/SIGINT, then
    prints its stats as one JSON line."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.faultproxy", description="TCP proxy with network faults."
    )
    parser.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    parser.add_argument(
        "--faults", default="[]", help="JSON list of network faults, or @FILE holding one"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--network",
        default=None,
        help="a network profile: a preset name or a JSON table (rtt, up, down, jitter)",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    args = parser.parse_args(argv)
    try:
        upstream = _parse_upstream(args.upstream)
        faults = _load_faults(args.faults)
        network = _load_network(args.network)
    except (ValueError, OSError) as exc:  # json.JSONDecodeError is a ValueError
        print(f"faultproxy: error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(upstream, faults, args.seed, args.port, network))
    except OSError as exc:
        print(f"faultproxy: error: cannot listen: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
