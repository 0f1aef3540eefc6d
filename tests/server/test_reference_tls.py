"""The reference at the limit over TLS (issue 16, part 4): what keeps its event loop free
while ten uploads encrypt on it, and what keeps its reads off the loop's critical path.

- :class:`uploader.loopshare.LoopShare`: at most one budget of body bytes per turn of the
  loop, handed out in arrival order (no upload starves, none runs two budgets while others
  wait); the reference's ten concurrent uploads over TLS 1.3 go through it and arrive
  intact.
- :func:`uploader.filesource.read_cached`: pages in the page cache are copied in the loop,
  pages that are not are left to a thread (dropped from the cache with
  ``POSIX_FADV_DONTNEED``, a real cold read); the streamed chunks are the file's bytes
  either way, from any offset (a TUS resume).

No timing asserts: turns are counted with the loop's own ``call_soon``, not a clock.
"""

from __future__ import annotations

import asyncio
import os
import random
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import xxhash

from harness.mockprovider import MockConfig, MockServer
from harness.mockprovider.tls import make_tls
from uploader import LocalFile, Settings, Target
from uploader.api import Fixes
from uploader.filesource import FileSource, read_cached
from uploader.loopshare import LoopShare
from uploader.reference import ReferenceUploader

KEY = "sk-test"
KIB = 1024
MIB = 1024 * KIB

needs_nowait = pytest.mark.skipif(
    not hasattr(os, "RWF_NOWAIT"), reason="preadv(RWF_NOWAIT) is Linux-only"
)


class TurnCounter:
    """Counts turns of the running loop: a callback that re-schedules itself with
    ``call_soon`` runs exactly once per turn."""

    def __init__(self) -> None:
        self.turn = 0
        self._stopped = False

    def start(self) -> None:
        asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._stopped = True

    def _tick(self) -> None:
        if not self._stopped:
            self.turn += 1
            asyncio.get_running_loop().call_soon(self._tick)


async def test_loop_share_keeps_each_turn_within_its_budget_in_arrival_order() -> None:
    share = LoopShare(turn_bytes=100)
    turns = TurnCounter()
    sent: list[tuple[int, str, int]] = []  # (turn, upload, bytes)

    async def upload(name: str, chunks: int) -> None:
        for _ in range(chunks):
            await share.turn(50)
            sent.append((turns.turn, name, 50))

    turns.start()
    await asyncio.gather(*(upload(name, 6) for name in "abcd"))
    turns.stop()

    per_turn: dict[int, int] = {}
    for turn, _, nbytes in sent:
        per_turn[turn] = per_turn.get(turn, 0) + nbytes
    # an upload let go in one turn runs in the next, and one that needs no wait sends
    # at once: at most two budgets ever land in one turn, never the 1,200 bytes at once
    assert max(per_turn.values()) <= 200, per_turn
    assert len(per_turn) >= 1200 // 200
    assert share.waits > 0
    # no starvation: round robin, so once an upload is done no other has more than the
    # first one's head start (one budget, 2 chunks) plus one budget left to send
    names = [name for _, name, _ in sent]
    for name in "abcd":
        last = len(names) - 1 - names[::-1].index(name)
        assert all(names[last + 1 :].count(other) <= 4 for other in "abcd"), names
    assert names[-4:].count("a") <= 1, names


async def test_loop_share_lets_one_upload_alone_send_a_budget_per_turn() -> None:
    share = LoopShare(turn_bytes=4)
    turns = TurnCounter()
    seen: list[int] = []
    turns.start()
    for _ in range(12):
        await share.turn(1)
        seen.append(turns.turn)
    turns.stop()
    # 12 one-byte chunks at 4 per turn: about 3 turns of sending (each wait costs one
    # turn more), not 12 and not a single one
    assert 3 <= len(set(seen)) <= 6, seen
    # a chunk larger than the budget still goes, in a turn of its own
    await share.turn(10)


async def test_loop_share_skips_an_upload_cancelled_while_it_waits() -> None:
    share = LoopShare(turn_bytes=10)
    first, cancelled, last = (asyncio.create_task(share.turn(10)) for _ in range(3))
    await share.turn(10)  # this turn's budget is spent before the three run
    await asyncio.sleep(0)  # they queue; the next turn lets the first go
    assert first.done() or not cancelled.done()
    cancelled.cancel()  # a watchdog cutting an attempt while it waits for its turn
    await asyncio.wait_for(last, timeout=30)  # let go past the cancelled one
    await first
    assert cancelled.cancelled()


def test_loop_share_refuses_an_empty_budget() -> None:
    with pytest.raises(ValueError, match="turn_bytes"):
        LoopShare(turn_bytes=0)


# -- reading without a thread per chunk ----------------------------------------------


def write_random(path: Path, size: int, seed: int) -> bytes:
    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return data


def drop_from_page_cache(path: Path) -> None:
    """Written pages are dirty until synced; only then can the kernel drop them."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


@needs_nowait
def test_read_cached_copies_cached_pages_and_stops_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "warm.bin"
    data = write_random(path, 300 * KIB, seed=1)
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = bytearray(256 * KIB)
        assert read_cached(fd, buf, 0) == len(buf)  # just written: in the page cache
        assert bytes(buf) == data[: len(buf)]
        assert read_cached(fd, buf, 256 * KIB) == 44 * KIB  # the end of the file
        assert bytes(buf[: 44 * KIB]) == data[256 * KIB :]
    finally:
        os.close(fd)


@needs_nowait
def test_read_cached_never_waits_for_pages_not_in_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "cold.bin"
    write_random(path, 1 * MIB, seed=2)
    drop_from_page_cache(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        got = read_cached(fd, bytearray(256 * KIB), 512 * KIB)
    finally:
        os.close(fd)
    # EAGAIN at once for the dropped pages (a file system that ignores the advice keeps
    # them, and the copy is then whole: never a wait, never an error)
    assert got in (0, 256 * KIB) or (got is not None and got < 256 * KIB)


@pytest.mark.parametrize("cold", [False, True], ids=["page-cache", "dropped"])
@pytest.mark.parametrize("start", [0, 3 * 64 * KIB + 5])
async def test_streamed_chunks_are_the_files_bytes(tmp_path: Path, cold: bool, start: int) -> None:
    path = tmp_path / "data.bin"
    data = write_random(path, 2 * MIB + 123, seed=3)
    if cold:
        drop_from_page_cache(path)
    settings = Settings(chunk_size=64 * KIB, read_ahead_chunks=3)
    source = FileSource(path, settings, Fixes())
    try:
        got = bytearray()
        async for chunk in source.chunks(start, len(data)):
            assert len(chunk) <= 3 * 64 * KIB
            got += chunk
    finally:
        await source.aclose()
    assert bytes(got) == data[start:]


async def test_a_file_shorter_than_its_range_is_an_error_not_a_hang(tmp_path: Path) -> None:
    path = tmp_path / "short.bin"
    write_random(path, 100 * KIB, seed=4)
    source = FileSource(path, Settings(chunk_size=64 * KIB), Fixes())
    try:
        with pytest.raises(EOFError):
            async for _ in source.chunks(0, 200 * KIB):
                pass
    finally:
        await source.aclose()


# -- ten uploads over TLS 1.3 through the shared loop --------------------------------


@pytest.fixture(scope="module")
def tls_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MockServer, Path]]:
    tls = make_tls("1.3")
    ca_file = tls.write_ca(tmp_path_factory.mktemp("ca") / "ca.pem")
    with MockServer.in_thread(MockConfig(keys=(KEY,)), ssl_context=tls.server_context) as srv:
        yield srv, ca_file


def stored_hashes(srv: MockServer, ca_file: Path) -> set[str]:
    verify = ssl.create_default_context(cafile=str(ca_file))
    stats = httpx.get(f"{srv.url}/__mock/stats", verify=verify, timeout=30).json()
    return {r["content_hash"] for r in stats["requests"] if r.get("content_hash")}


@pytest.mark.parametrize("provider", ["kimi", "supabase"])
def test_ten_concurrent_uploads_over_tls_share_the_loop_and_arrive_intact(
    tls_mock: tuple[MockServer, Path], tmp_path: Path, provider: str
) -> None:
    srv, ca_file = tls_mock
    verify = ssl.create_default_context(cafile=str(ca_file))
    httpx.post(f"{srv.url}/__mock/reset", verify=verify, timeout=30).raise_for_status()
    files = []
    for i in range(10):
        path = tmp_path / f"f{i:02d}.bin"
        data = write_random(path, 1 * MIB + i, seed=10 + i)
        files.append(LocalFile(path, len(data), xxhash.xxh3_128(data).hexdigest()))
    base = {"kimi": f"{srv.url}/kimi/v1", "supabase": f"{srv.url}/supabase"}[provider]
    target = Target(provider, base, KEY, record_metadata=False, ca_file=str(ca_file))  # type: ignore[arg-type]
    settings = Settings(concurrency=10, chunk_size=64 * KIB)
    uploader = ReferenceUploader()
    outcomes = asyncio.run(uploader.upload_many(files, target, settings))
    assert [o.outcome for o in outcomes] == ["ok"] * 10, [o.error for o in outcomes]
    assert stored_hashes(srv, ca_file) == {f.content_hash for f in files}
