"""Request bodies: streamed, counted and hashed, never held whole; body faults applied here.

:class:`BodyStream` wraps aiohttp's ``request.content``. Handlers read raw bodies with
:meth:`BodyStream.chunks` and hand it to ``aiohttp.MultipartReader`` for multipart ones; both
paths go through one :class:`BodyGate` that throttles (``slow_read``), stops (``stall``) or
cuts (``abort_mid_body``) at exact byte positions. :class:`BlobWriter` hashes what it is given
and, with a disk store, keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import xxhash
from aiohttp import StreamReader

__all__ = [
    "STALL_POLL_S",
    "Blob",
    "BlobStore",
    "BlobWriter",
    "BodyCut",
    "BodyGate",
    "BodyStream",
    "BodyTooLarge",
    "Hasher",
    "new_hasher",
]

# Disk writes are batched to this size so the thread hop is paid per MiB, not per chunk.
_DISK_BATCH = 1024 * 1024
# How often a stall looks whether the client has gone: a stalled request reads nothing, so
# nothing else would notice, and its record and task would stay for the whole stall_s.
STALL_POLL_S = 0.1


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


def new_hasher(algo: str) -> Hasher:
    """A fresh ``xxh3_128`` or ``sha256`` hasher (the digests the uploader computes too)."""
    if algo == "xxh3_128":
        return xxhash.xxh3_128()
    if algo == "sha256":
        return hashlib.sha256()
    raise ValueError(f"unknown hash algorithm {algo!r}")


class BodyCut(Exception):
    """The gate decided to cut the connection (``mode`` fin or rst)."""

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        self.mode = mode


class BodyTooLarge(Exception):
    """More content arrived than the limit allows (reading stopped at limit + 1)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


Sleep = Callable[[float], Awaitable[None]]


class BodyGate:
    """Admits body bytes in order, applying at most one throttle and one cut.

    ``cut_at`` is the body position after which the connection is cut; with ``stall_s`` the
    gate first stops reading for that long (the client should time out meanwhile).
    ``on_applied`` is told once per fault that actually took effect. ``peer_gone``, if
    given, is asked every :data:`STALL_POLL_S` during a stall; the stall ends once it is true.
    """

    def __init__(
        self,
        *,
        bytes_per_s: int | None,
        cut_at: int | None,
        cut_mode: str,
        stall_s: float | None,
        clock: Callable[[], float],
        sleep: Sleep,
        on_throttle: Callable[[], None],
        on_cut: Callable[[], None],
        peer_gone: Callable[[], bool] | None = None,
    ) -> None:
        self.bytes_per_s = bytes_per_s
        self.cut_at = cut_at
        self.cut_mode = cut_mode
        self.stall_s = stall_s
        self._clock = clock
        self._sleep = sleep
        self._on_throttle = on_throttle
        self._on_cut = on_cut
        self._peer_gone = peer_gone
        self.admitted = 0
        self._t0: float | None = None
        self.cut_pending = False

    def read_size(self, wanted: int) -> int:
        """How much to ask the stream for, so a throttle stays smooth (~10 steps/s)."""
        if self.bytes_per_s is None:
            return wanted
        return max(1, min(wanted, self.bytes_per_s // 10 or 1))

    async def admit(self, n: int) -> int:
        """Admit up to ``n`` new bytes; return how many the caller may use (fewer only
        right before a cut). Raises :class:`BodyCut` once the cut position is reached."""
        if self.cut_pending or (self.cut_at is not None and self.admitted >= self.cut_at):
            await self.cut()
        if self.cut_at is not None and self.admitted + n >= self.cut_at:
            n = self.cut_at - self.admitted
            self.cut_pending = True
        if self.bytes_per_s is not None and n:
            now = self._clock()
            if self._t0 is None:
                self._t0 = now
                self._on_throttle()
            due = self._t0 + (self.admitted + n) / self.bytes_per_s
            if due > now:
                await self._sleep(due - now)
        self.admitted += n
        return n

    async def cut(self) -> None:
        """Stop reading for ``stall_s`` if stalling, then raise :class:`BodyCut`."""
        self.cut_pending = False
        self._on_cut()
        self.cut_at = None  # once only
        if self.stall_s is not None:
            await self._stall(self.stall_s)
        raise BodyCut(self.cut_mode)

    async def _stall(self, seconds: float) -> None:
        if self._peer_gone is None:
            await self._sleep(seconds)
            return
        end = self._clock() + seconds
        # bounded by the clock, and by the iteration count in case a clock stands still
        for _ in range(int(seconds / STALL_POLL_S) + 2):
            left = end - self._clock()
            if left <= 0 or self._peer_gone():
                return
            await self._sleep(min(left, STALL_POLL_S))


class BodyStream:
    """The request body as seen by handlers: counted, first byte timed, gated.

    Implements the part of ``aiohttp.StreamReader`` that ``MultipartReader`` uses
    (``read``, ``readline``, ``at_eof``, ``unread_data``) so multipart parsing goes through
    the same gate as raw bodies.
    """

    def __init__(
        self,
        content: StreamReader,
        gate: BodyGate | None,
        on_first_byte: Callable[[], None],
    ) -> None:
        self._content = content
        self._gate = gate
        self._on_first_byte = on_first_byte
        self.position = 0  # bytes consumed so far (less what was pushed back)
        self.consumed = 0  # highest position reached: body bytes received by handlers

    async def _account(self, data: bytes) -> bytes:
        if not data:
            return data
        if self.consumed == 0:
            self._on_first_byte()
        end = self.position + len(data)
        fresh = end - self.consumed
        if fresh > 0:
            if self._gate is not None:
                allowed = await self._gate.admit(fresh)
                if allowed < fresh:
                    # the bytes past the cut are dropped: the connection goes next
                    data = data[: len(data) - (fresh - allowed)]
                    end = self.position + len(data)
            self.consumed = max(self.consumed, end)
        self.position = end
        return data

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the raw body in the chunks the socket delivered (no re-slicing)."""
        content = self._content
        gate = self._gate
        if gate is None:
            # fast path: no per-chunk awaits besides the read itself
            first = True
            while True:
                data = await content.readany()
                if not data:
                    return
                if first:
                    self._on_first_byte()
                    first = False
                self.position += len(data)
                self.consumed = self.position
                yield data
        while True:
            data = await content.read(gate.read_size(1 << 20))
            if not data:
                if gate.cut_pending:
                    await gate.cut()
                return
            yield await self._account(data)

    async def drain(self) -> None:
        """Read and discard the rest of the body (counted and gated like any read)."""
        async for _ in self.chunks():
            pass

    # -- the StreamReader subset MultipartReader uses --------------------------------
    async def read(self, n: int = -1) -> bytes:
        if self._gate is not None and n > 0:
            n = self._gate.read_size(n)
        return await self._account(await self._content.read(n))

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        return await self._account(await self._content.readline(max_line_length=max_line_length))

    async def readany(self) -> bytes:
        return await self._account(await self._content.readany())

    def at_eof(self) -> bool:
        return self._content.at_eof()

    def unread_data(self, data: bytes) -> None:
        self.position -= len(data)
        with warnings.catch_warnings():
            # MultipartReader needs push-back; aiohttp deprecates it for public use only
            warnings.simplefilter("ignore", DeprecationWarning)
            self._content.unread_data(data)


@dataclass(frozen=True)
class Blob:
    """Stored content: size and digest, and the file holding it with a disk store."""

    size: int
    content_hash: str
    path: Path | None = None


class BlobWriter:
    """Hashes (and with a disk store, writes) one object's content as it streams in."""

    def __init__(self, algo: str, path: Path | None, limit: int | None) -> None:
        self._hasher = new_hasher(algo)
        self.path = path
        self.limit = limit
        self.size = 0
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._file_open = False

    async def write(self, data: bytes) -> None:
        """Add ``data``; raise :class:`BodyTooLarge` as soon as the limit is passed."""
        self.add(data)
        await self.maybe_flush()

    def add(self, data: bytes) -> None:
        """Account for ``data`` without awaiting, so a cancelled request can never leave the
        digest and the caller's own count (e.g. a TUS offset) out of step."""
        if self.limit is not None and self.size + len(data) > self.limit:
            raise BodyTooLarge(self.limit)
        self.size += len(data)
        self._hasher.update(data)
        if self.path is not None:
            self._pending.append(data)
            self._pending_bytes += len(data)

    async def maybe_flush(self) -> None:
        """Write to disk once a batch is full (the thread hop is paid per MiB)."""
        if self._pending_bytes >= _DISK_BATCH:
            await self.flush()

    async def flush(self) -> None:
        """Write what is batched to disk (no-op with the hash store)."""
        if self.path is None or (not self._pending and self._file_open):
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        mode = "ab" if self._file_open else "wb"
        self._file_open = True
        await asyncio.to_thread(_append, self.path, data, mode)

    async def finish(self) -> Blob:
        """Flush and return the :class:`Blob`."""
        await self.flush()
        return Blob(self.size, self._hasher.hexdigest(), self.path)

    async def discard(self) -> None:
        """Forget the content (the upload failed)."""
        self._pending.clear()
        if self.path is not None:
            await asyncio.to_thread(_unlink, self.path)


def _append(path: Path, data: bytes, mode: str) -> None:
    with open(path, mode) as f:
        f.write(data)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class BlobStore:
    """Where content goes: nowhere (hashes only) or files in a directory."""

    def __init__(self, algo: str, disk_dir: Path | None, new_id: Callable[[], str]) -> None:
        self.algo = algo
        self.disk_dir = disk_dir
        self._new_id = new_id
        self._created: set[Path] = set()

    @property
    def keeps_content(self) -> bool:
        return self.disk_dir is not None

    async def prepare(self) -> None:
        if self.disk_dir is not None:
            await asyncio.to_thread(self.disk_dir.mkdir, parents=True, exist_ok=True)

    def writer(self, limit: int | None) -> BlobWriter:
        path = None
        if self.disk_dir is not None:
            path = self.disk_dir / f"blob-{self._new_id()}"
            self._created.add(path)
        return BlobWriter(self.algo, path, limit)

    async def copy(self, blob: Blob) -> Blob:
        if blob.path is None or self.disk_dir is None:
            return blob
        path = self.disk_dir / f"blob-{self._new_id()}"
        self._created.add(path)
        data_path = blob.path
        await asyncio.to_thread(_copy, data_path, path)
        return Blob(blob.size, blob.content_hash, path)

    async def delete(self, blob: Blob | None) -> None:
        if blob is not None and blob.path is not None:
            self._created.discard(blob.path)
            await asyncio.to_thread(_unlink, blob.path)

    async def clear(self) -> None:
        """Delete every file this store created (``/__mock/reset``)."""
        paths = list(self._created)
        self._created.clear()
        for path in paths:
            await asyncio.to_thread(_unlink, path)


def _copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
