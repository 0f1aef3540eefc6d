"""Reading a file to upload as chunks: streamed with bounded read-ahead or whole, through
aiofiles or (bottleneck 1, on purpose) blocking reads in the event loop.

The reference uploader (:mod:`uploader.reference`) reads every body through a
:class:`FileSource`; its ``async_file_io`` and ``streaming`` switches choose the way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiofiles

from uploader.api import Fixes, Settings

__all__ = ["Chunk", "FileSource", "read_range"]

Chunk = bytes | memoryview


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
    ``max_in_memory_upload_chunks``); as they are read in batches and a batch's buffer
    lives until its last chunk is sent, up to about twice that is held per upload
    (measured: 3.2 MiB heap peak for one 256 MiB file, 15.6 MiB for 8 concurrent 4 MiB
    files, against 7.6 MiB with a read per chunk). Without it the whole file is read once
    and kept for the upload (bottleneck 2). ``async_io`` chooses aiofiles (reads in a thread) or a
    blocking ``read`` in the event loop (bottleneck 1).
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
            if self.async_io:
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

    async def _put(self, stream: _Stream, data: Chunk, pos: int) -> int:
        if not data:
            raise EOFError(f"{self.path.name} is shorter than expected at byte {pos}")
        if not stream.stopped:
            await stream.queue.put(data)
        return pos + len(data)


def read_range(path: Path, start: int, end: int) -> bytes:
    """Bytes ``start:end`` of ``path`` in one open-seek-read-close (one thread hop)."""
    with open(path, "rb") as f:
        if start:
            f.seek(start)
        data = f.read(end - start)
    if len(data) < end - start:
        raise EOFError(f"{path.name} is shorter than expected at byte {start + len(data)}")
    return data
