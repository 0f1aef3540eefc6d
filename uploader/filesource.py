"""Reading a file to upload as chunks: streamed with bounded read-ahead or whole, through
aiofiles or (bottleneck 1, on purpose) blocking reads in the event loop.

The reference uploader (:mod:`uploader.reference`) reads every body through a
:class:`FileSource`; its ``async_file_io`` and ``streaming`` switches choose the way.

Streamed reads never wait for the disk in the event loop, and mostly need no thread either:
on Linux a chunk whose pages are all in the page cache is copied in the loop with
``preadv(RWF_NOWAIT)`` (the kernel fails it with EAGAIN instead of waiting for the disk; a
memory copy of 256 KiB, about 0.1 ms here), and only a chunk that is not cached goes to a
worker thread (Samba reads the same way). A thread hop per chunk cost more than the copy:
in a cProfile of the loop thread over a 256 MiB upload over TLS, submitting the reads to
the pool took a fifth of its time on a loaded 2-core machine (waking the pool's thread,
then taking the GIL back); the process's CPU per 256 MiB went from 0.283 to 0.244 s
(medians of 9, scenarios/limits-tls.toml with --base).
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiofiles

from uploader.api import Fixes, Settings

__all__ = ["Chunk", "FileSource", "read_cached", "read_range"]

Chunk = bytes | memoryview

# Linux 4.14+: a read that copies only pages already in the page cache and otherwise fails
# with EAGAIN at once. None elsewhere: every read then goes to a thread (aiofiles).
_RWF_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)
# errnos of a file system or kernel that does not take the flag: read through a thread
_NOWAIT_UNSUPPORTED = {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS}


class _Stream:
    """One range being read ahead: the bounded queue, the stop flag and the reader task."""

    def __init__(self, read_ahead: int) -> None:
        self.queue: asyncio.Queue[Chunk | BaseException] = asyncio.Queue(read_ahead)
        self.stopped = False
        self.task: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """Ask the reader to end and unblock it if it waits for queue space. Never awaits:
        cancelling a reader inside ``aiofiles.open`` would leak the opened file."""
        self.stopped = True
        while not self.queue.empty():
            self.queue.get_nowait()


class FileSource:
    """Reads byte ranges of one file as chunks.

    With ``streaming`` at most ``read_ahead`` chunks wait in the queue (s3transfer's
    ``max_in_memory_upload_chunks``). A chunk in the page cache is read alone into its
    own buffer, in the loop (module doc); reads that go to a thread fill every free slot
    in one call, and such a batch's buffer lives until its last chunk is sent, so up to
    about twice ``read_ahead`` is held per upload (measured with thread reads only: 3.2
    MiB heap peak for one 256 MiB file, 15.6 MiB for 8 concurrent 4 MiB files; with
    page-cache reads 2.0-3.1 MiB for the 256 MiB file over TLS). Without it the whole file
    is read once and kept for the upload (bottleneck 2). ``async_io`` chooses reads that
    never block the loop (page cache or thread; aiofiles where ``RWF_NOWAIT`` is missing or
    the file is not a regular one) or a blocking ``read`` in the event loop (bottleneck 1).
    """

    def __init__(self, path: Path, settings: Settings, fixes: Fixes) -> None:
        self.path = path
        self.chunk_size = max(1, settings.chunk_size)
        self.read_ahead = max(1, settings.read_ahead_chunks)
        self.async_io = fixes.async_file_io
        self.streaming = fixes.streaming
        self._whole: bytes | None = None
        self._streams: list[_Stream] = []

    async def aclose(self) -> None:
        """Stop every reader still running and wait until their files are closed."""
        self._whole = None
        streams, self._streams = self._streams, []
        for stream in streams:
            stream.stop()
        tasks = [s.task for s in streams if s.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read_whole(self) -> bytes:
        if self._whole is None:
            if self.async_io:
                async with aiofiles.open(self.path, "rb") as f:
                    self._whole = await f.read()
            else:
                # Bottleneck 1 on purpose: a blocking read inside the event loop.
                with open(self.path, "rb") as f:  # noqa: ASYNC230
                    self._whole = f.read()
        return self._whole

    async def chunks(self, start: int, end: int) -> AsyncIterator[Chunk]:
        if not self.streaming:
            view = memoryview(await self._read_whole())
            for pos in range(start, end, self.chunk_size):
                yield view[pos : min(end, pos + self.chunk_size)]
            return
        if self.async_io and end - start <= self.chunk_size:
            # A range that fits in one chunk is opened, read and closed in ONE thread call:
            # aiofiles would take four hops (open, seek, read, close), which is most of the
            # cost of a small file and contends for the GIL with the event loop.
            data = await asyncio.to_thread(read_range, self.path, start, end)
            if data:
                yield data
            return
        stream = _Stream(self.read_ahead)
        stream.task = asyncio.create_task(self._produce(stream, start, end))
        self._streams.append(stream)
        pos = start
        try:
            while pos < end:
                item = await stream.queue.get()
                if isinstance(item, BaseException):
                    raise item
                pos += len(item)
                yield item
        finally:
            # No await here: after the last byte the body must end at once, because
            # aiohttp cancels a request writer still running when the answer arrives and
            # then closes the connection instead of pooling it. The reader ends by itself.
            if pos < end:  # abandoned mid-body (cut, stall, error)
                stream.stop()

    async def _produce(self, stream: _Stream, start: int, end: int) -> None:
        try:
            fd = None
            if self.async_io and _RWF_NOWAIT is not None:
                fd = await asyncio.to_thread(_open_regular, self.path)
            if fd is not None:
                await self._produce_cached(fd, stream, start, end)
            elif self.async_io:
                async with aiofiles.open(self.path, "rb") as af:
                    if start:  # only a resumed range seeks: a pipe cannot, even to 0
                        await af.seek(start)
                    pos = start
                    while pos < end and not stream.stopped:
                        # Fill every free slot of the read-ahead in ONE thread call: a hop
                        # per chunk cost a third of the throughput of a 256 MiB upload at
                        # 256 KiB chunks (0.64x curl against 0.84x batched). Memory stays
                        # bounded: slots are only free once their chunks were taken.
                        # The first read is one chunk, so sending starts at once: ten
                        # uploads each reading a whole window first delayed every body.
                        free = (
                            max(1, stream.queue.maxsize - stream.queue.qsize())
                            if pos > start
                            else 1
                        )
                        data = await af.read(min(free * self.chunk_size, end - pos))
                        if not data:
                            raise EOFError(f"{self.path.name} is shorter than expected at {pos}")
                        view = memoryview(data)
                        for at in range(0, len(data), self.chunk_size):
                            if stream.stopped:
                                break
                            pos = await self._put(stream, view[at : at + self.chunk_size], pos)
            else:
                # Bottleneck 1 on purpose: blocking reads inside the event loop.
                with open(self.path, "rb") as f:  # noqa: ASYNC230
                    if start:
                        f.seek(start)
                    pos = start
                    while pos < end and not stream.stopped:
                        data = f.read(min(self.chunk_size, end - pos))
                        pos = await self._put(stream, data, pos)
        except (OSError, EOFError) as exc:
            if not stream.stopped:
                await stream.queue.put(exc)

    async def _produce_cached(self, fd: int, stream: _Stream, start: int, end: int) -> None:
        """Read ahead chunk by chunk: from the page cache in the loop, else in a thread.
        Closes ``fd``."""
        try:
            pos = start
            nowait = True
            while pos < end and not stream.stopped:
                size = min(self.chunk_size, end - pos)
                buf = bytearray(size)
                got = read_cached(fd, buf, pos) if nowait else None
                if got is None:  # the flag is refused here: threads from now on
                    nowait, got = False, 0
                if got < size:
                    # Not cached (or the flag refused): the rest of this chunk and of the
                    # free read-ahead slots in ONE thread call, as aiofiles reads would.
                    free = max(1, stream.queue.maxsize - stream.queue.qsize())
                    rest = min(free * self.chunk_size, end - pos) - got
                    data = await asyncio.to_thread(os.pread, fd, rest, pos + got)
                    if got:
                        data = bytes(buf[:got]) + data
                    view = memoryview(data)
                    for at in range(0, len(data), self.chunk_size):
                        if stream.stopped:
                            break
                        pos = await self._put(stream, view[at : at + self.chunk_size], pos)
                    if len(data) < got + rest:
                        raise EOFError(f"{self.path.name} is shorter than expected at {pos}")
                    continue
                pos = await self._put(stream, memoryview(buf), pos)
                # One chunk per turn of the loop: ten uploads filling their read-ahead in
                # one turn would hold the loop for ten copies of the whole window.
                await asyncio.sleep(0)
        finally:
            os.close(fd)  # a read-only regular file: no I/O to wait for

    async def _put(self, stream: _Stream, data: Chunk, pos: int) -> int:
        if not data:
            raise EOFError(f"{self.path.name} is shorter than expected at byte {pos}")
        if not stream.stopped:
            await stream.queue.put(data)
        return pos + len(data)


def _open_regular(path: Path) -> int | None:
    """A read-only descriptor of ``path`` if it is a regular file (which ``pread`` can read
    at any offset), else None: a FIFO is streamed through aiofiles, and opened only there."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        return None
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def read_cached(fd: int, buf: bytearray, pos: int) -> int | None:
    """Fill ``buf`` from ``fd`` at ``pos`` with pages already in the page cache, never
    waiting for the disk: the number of bytes copied (less than ``len(buf)`` when a page
    is not cached, or at the end of the file), or None where ``RWF_NOWAIT`` is refused."""
    if _RWF_NOWAIT is None:
        return None
    view = memoryview(buf)
    got = 0
    while got < len(buf):
        try:
            n = os.preadv(fd, [view[got:]], pos + got, _RWF_NOWAIT)
        except BlockingIOError:
            break
        except OSError as exc:
            if exc.errno in _NOWAIT_UNSUPPORTED:
                return None if got == 0 else got
            raise
        if n == 0:  # end of file
            break
        got += n
    return got


def read_range(path: Path, start: int, end: int) -> bytes:
    """Bytes ``start:end`` of ``path`` in one open-seek-read-close (one thread hop)."""
    with open(path, "rb") as f:
        if start:
            f.seek(start)
        data = f.read(end - start)
    if len(data) < end - start:
        raise EOFError(f"{path.name} is shorter than expected at byte {start + len(data)}")
    return data
