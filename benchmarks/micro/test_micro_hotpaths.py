"""Micro-benchmarks of the hot paths (issue 8), with pytest-benchmark.

Each benchmark times the real code of one step that runs per request, per chunk or per
upload, with no sockets to the mock and nothing else in the timed loop:

- building a request (the pure builders every variant shares);
- the reference reading a file in chunks and sending them into a socket;
- the mock's receive-and-hash loop (``BodyStream.chunks`` into a ``BlobWriter``);
- the worker's results summary of one trial with 10,000 uploads.

Run (``--benchmark-json`` writes the figures the report shows)::

    .venv/bin/pytest benchmarks/micro -q --benchmark-json=reports/latest/micro-benchmarks.json

Figures depend on the machine: compare them with earlier runs of the same machine only.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import StreamReader
from aiohttp.base_protocol import BaseProtocol
from pytest_benchmark.fixture import BenchmarkFixture

from harness.mockprovider.body import BlobWriter, BodyStream
from harness.worker import compute_metrics
from uploader import protocol
from uploader.api import Fixes, Outcome, OutcomeClass, Settings, Target
from uploader.filesource import FileSource

CHUNK = 256 * 1024  # the reference's default chunk size (uploader.api.Settings)
FILE_SIZE = 4 * 1024 * 1024

SUPABASE = Target("supabase", "http://127.0.0.1:9/supabase", "sk-bench")
KIMI = Target("kimi", "http://127.0.0.1:9/kimi/v1", "sk-bench")


def test_build_supabase_raw_request(benchmark: BenchmarkFixture) -> None:
    req = benchmark(protocol.supabase_object_upload, SUPABASE, "f0001-5MiB.bin", 5 << 20)
    assert req.content_length == 5 << 20


def test_build_kimi_multipart_request(benchmark: BenchmarkFixture) -> None:
    req = benchmark(
        protocol.openai_upload, KIMI, "f0001-5MiB.bin", 5 << 20, boundary="uploadbench-bench"
    )
    assert req.content_length > 5 << 20  # the multipart head and tail around the file


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 MiB file of random bytes (read from the page cache after the first round)."""
    path = tmp_path_factory.mktemp("micro") / "f0000-4MiB.bin"
    path.write_bytes(os.urandom(FILE_SIZE))
    return path


@pytest.fixture
def drained_socket() -> Iterator[socket.socket]:
    """The sending end of a socket pair whose other end a thread reads and discards."""
    send, recv = socket.socketpair()
    recv.settimeout(10)  # bounds the drain thread if the benchmark dies mid-way

    def drain() -> None:
        try:
            while recv.recv(1 << 20):
                pass
        except OSError:
            pass

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        yield send
    finally:
        send.close()
        thread.join(timeout=10)
        recv.close()


def test_reference_read_and_send_chunks(
    benchmark: BenchmarkFixture, data_file: Path, drained_socket: socket.socket
) -> None:
    """One round: the reference's aiofiles read-ahead yields 4 MiB in 256 KiB chunks and
    each chunk is sent on a socket (16 chunks: divide the time by 16 for one chunk)."""
    settings = Settings(chunk_size=CHUNK)
    drained_socket.setblocking(False)

    async def send_file() -> int:
        loop = asyncio.get_running_loop()
        source = FileSource(data_file, settings, Fixes())
        sent = 0
        try:
            async for chunk in source.chunks(0, FILE_SIZE):
                await loop.sock_sendall(drained_socket, chunk)
                sent += len(chunk)
        finally:
            await source.aclose()
        return sent

    runner = asyncio.Runner()
    try:
        sent = benchmark(lambda: runner.run(send_file()))
    finally:
        runner.close()
    assert sent == FILE_SIZE


def test_mock_receive_and_hash(benchmark: BenchmarkFixture) -> None:
    """One round: the mock takes a 4 MiB body in 256 KiB socket reads through its
    ``BodyStream`` and hashes it with xxh3-128 (its default)."""
    pieces = [random.Random(i).randbytes(CHUNK) for i in range(FILE_SIZE // CHUNK)]

    async def receive() -> int:
        loop = asyncio.get_running_loop()
        # a limit above the body, so feeding it all at once never asks to pause reading
        content = StreamReader(BaseProtocol(loop), FILE_SIZE, loop=loop)
        for piece in pieces:
            content.feed_data(piece)
        content.feed_eof()
        body = BodyStream(content, None, lambda: None)
        writer = BlobWriter("xxh3_128", None, None)
        async for data in body.chunks():
            await writer.write(data)
        blob = await writer.finish()
        return blob.size

    runner = asyncio.Runner()
    try:
        size = benchmark(lambda: runner.run(receive()))
    finally:
        runner.close()
    assert size == FILE_SIZE


def test_summary_of_10000_uploads(benchmark: BenchmarkFixture) -> None:
    """The worker's metrics (percentiles, rates, throughput) of a trial of 10,000 files."""
    rng = random.Random(8)
    outcomes = []
    for i in range(10_000):
        start = rng.uniform(0, 50)
        kind: OutcomeClass = "ok" if rng.random() > 0.02 else "timeout"
        outcomes.append(
            Outcome(f"f{i:05d}.bin", 65536, kind, start, start + rng.lognormvariate(-3, 0.5))
        )
    metrics = benchmark(compute_metrics, outcomes, 60.0)
    assert metrics["success_rate"] > 0.9
