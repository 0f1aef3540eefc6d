"""``async``: the reference uploader.

One pooled aiohttp session with explicit limits, chunked streaming with bounded read-ahead
(:mod:`uploader.filesource`) and a known Content-Length, the loop's turns shared between the
bodies (:mod:`uploader.loopshare`), a fresh body per attempt, semaphore-bounded
concurrency, the metadata insert as an async request that never blocks the loop (the
seed's blocking call only with ``offload_blocking=off``), full-jitter retries that honour
the server's requested wait, a size-aware deadline plus a stall watchdog, and TUS
resumable uploads for large Supabase files.

Each of the five :class:`~uploader.api.Fixes` switches, turned off, puts back exactly one
bottleneck of the investigation and changes nothing else.

Metadata rows go to :func:`uploader.protocol.metadata_url` of the target; where the target
names no table (a Kimi or GLM target without ``metadata_project_url``) none is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from uploader import protocol, tls
from uploader.api import Fixes, LocalFile, Outcome, OutcomeClass, Settings, Target
from uploader.filesource import Chunk, FileSource
from uploader.loopshare import LoopShare
from uploader.retry import RetryPolicy
from uploader.selection import supabase_method
from uploader.timeouts import StallWatchdog, UploadTimeout, deadline_s, run_watched

__all__ = ["ReferenceUploader"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]
Exchange = tuple[int, dict[str, str], bytes]

# Pages of GLM's file list read while looking for an upload whose answer was lost: bounded
# so a huge account cannot turn one retry into thousands of requests.
_MAX_LIST_PAGES = 20
_MAX_ANSWER_BYTES = 1024 * 1024
# Keep-alive longer than any backoff we wait, so a retry reuses the pooled connection.
_KEEPALIVE_S = 30.0


class ReferenceUploader:
    """The reference :class:`~uploader.api.AsyncUploader`.

    ``fixes`` overrides ``settings.fixes`` when given (``async[streaming=off]`` passes it).
    ``clock`` stamps outcomes and drives the watchdog, which naps with ``watch_sleep``
    (inject both together for fake time); ``sleep`` waits between retries; ``wall_clock``
    (Unix time) reads HTTP-date ``Retry-After`` values.
    """

    def __init__(
        self,
        fixes: Fixes | None = None,
        *,
        clock: Clock = time.perf_counter,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Clock = time.time,
        watch_sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.fixes = fixes
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._watch_sleep = watch_sleep

    async def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        fixes = self.fixes if self.fixes is not None else settings.fixes
        run = _Run(
            target, settings, fixes, self._clock, self._sleep, self._wall_clock, self._watch_sleep
        )
        async with run:
            return await run.upload_all(files)


@dataclass
class _Result:
    outcome: OutcomeClass
    attempts: int
    status: int | None = None
    file_id: str | None = None
    bytes_sent: int = 0
    error: str | None = None


@dataclass
class _Failure:
    """Why one attempt failed and whether another may help."""

    outcome: OutcomeClass
    message: str
    retryable: bool
    status: int | None = None
    retry_after_s: float | None = None
    body_complete: bool = False  # the whole body was handed over: the server may have it


class _HttpFailure(Exception):
    def __init__(self, failure: _Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class _Progress:
    """Bytes of the current body handed to the connection."""

    def __init__(self, total: int, watchdog: StallWatchdog) -> None:
        self.total = total
        self.sent = 0
        self.watchdog = watchdog

    def add(self, nbytes: int) -> None:
        self.sent += nbytes
        self.watchdog.progress(nbytes)

    @property
    def complete(self) -> bool:
        return self.sent >= self.total


class _Run:
    """State of one ``upload_many`` call: the pooled session, the metadata client, the
    semaphore, the jitter RNG and the ids already claimed (duplicate detection)."""

    def __init__(
        self,
        target: Target,
        settings: Settings,
        fixes: Fixes,
        clock: Clock,
        sleep: Sleep,
        wall_clock: Clock,
        watch_sleep: Sleep,
    ) -> None:
        self.target = target
        self.settings = settings
        self.fixes = fixes
        self.clock = clock
        self.sleep = sleep
        self.watch_sleep = watch_sleep
        self.wall_clock = wall_clock
        self.rng = random.Random(settings.seed)
        self.concurrency = max(1, settings.concurrency)
        self.session: aiohttp.ClientSession | None = None
        self.records_metadata = False
        self.meta_client: httpx.Client | None = None  # only for the blocking insert
        self.claimed: set[str] = set()
        # the loop's turns shared between the uploads' bodies (uploader.loopshare)
        self.share = LoopShare()
        # one context for every session of the run: the target's CA, or aiohttp's default
        self.ssl: ssl.SSLContext | bool = tls.ssl_context(target) or True

    async def __aenter__(self) -> _Run:
        if self.fixes.pooling:
            self.session = self._new_session(force_close=False)
        self.records_metadata = (
            self.target.record_metadata and protocol.metadata_url(self.target) is not None
        )
        if self.records_metadata and not self.fixes.offload_blocking:
            # httpx's read/write timeouts are the time between bytes: the stall watchdog
            # of this small request, so a stalled insert is retried as fast as an upload.
            self.meta_client = httpx.Client(
                timeout=httpx.Timeout(
                    self.settings.stall_timeout_s,
                    connect=self.settings.connect_timeout_s,
                    pool=self.settings.min_timeout_s,
                ),
                limits=httpx.Limits(max_connections=self.concurrency),
                verify=tls.httpx_verify(self.target),
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
        if self.meta_client is not None:
            self.meta_client.close()

    def _new_session(self, *, force_close: bool) -> aiohttp.ClientSession:
        # Pool size == semaphore size, so no request waits for a pool slot (which aiohttp
        # would count against its connect timeout).
        connector = aiohttp.TCPConnector(
            limit=self.concurrency,
            limit_per_host=self.concurrency,
            keepalive_timeout=None if force_close else _KEEPALIVE_S,
            force_close=force_close,
            ssl=self.ssl,
        )
        # No total timeout: the size-aware deadline and the stall watchdog bound attempts.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.settings.connect_timeout_s)
        return aiohttp.ClientSession(connector=connector, timeout=timeout)

    async def upload_all(self, files: Sequence[LocalFile]) -> list[Outcome]:
        # Concurrency off (bottleneck 4) keeps everything else, semaphore included.
        slots = asyncio.Semaphore(self.concurrency if self.fixes.concurrency else 1)

        async def one(file: LocalFile) -> Outcome:
            async with slots:
                return await self.upload_one(file)

        return list(await asyncio.gather(*(one(f) for f in files)))

    async def upload_one(self, file: LocalFile) -> Outcome:
        started = self.clock()
        source = FileSource(file.path, self.settings, self.fixes)
        try:
            async with self._session_for_upload() as session:
                if self.target.provider == "supabase" and (
                    supabase_method(file.size, self.settings) == "tus"
                ):
                    result = await self._upload_tus(session, file, source)
                else:
                    result = await self._upload_single(session, file, source)
        except OSError as exc:
            result = _Result("connection_error", 1, error=self._msg(f"cannot read file: {exc}"))
        finally:
            await source.aclose()
        if result.outcome == "ok" and self.records_metadata:
            problem = await self._record_metadata(file, result)
            if problem is not None:
                result.outcome = "http_error"
                result.error = f"stored as {result.file_id}, metadata insert failed: {problem}"
        return Outcome(
            name=file.name,
            size=file.size,
            outcome=result.outcome,
            started_at=started,
            ended_at=self.clock(),
            attempts=result.attempts,
            status=result.status,
            file_id=result.file_id,
            bytes_sent=result.bytes_sent,
            error=result.error,
        )

    @contextlib.asynccontextmanager
    async def _session_for_upload(self) -> AsyncIterator[aiohttp.ClientSession]:
        if self.session is not None:
            yield self.session
            return
        # Pooling off (bottleneck 5): a new session and connection for every upload.
        session = self._new_session(force_close=True)
        try:
            yield session
        finally:
            await session.close()

    def _msg(self, text: str) -> str:
        return protocol.one_line(protocol.scrub(text, self.target.key))

    # -- one HTTP exchange ------------------------------------------------------------

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        req: protocol.HttpRequest,
        progress: _Progress,
        source: FileSource | None = None,
        start: int = 0,
    ) -> Exchange:
        async def body() -> AsyncIterator[Chunk]:
            if req.head:
                progress.add(len(req.head))
                yield req.head
            if source is not None and req.body_size:
                async for chunk in source.chunks(start, start + req.body_size):
                    # before the chunk, never after the last one (filesource.py: the body
                    # must end at once after its last byte)
                    await self.share.turn(len(chunk))
                    progress.add(len(chunk))
                    yield chunk
            if req.tail:
                progress.add(len(req.tail))
                yield req.tail

        data = body() if req.content_length else None
        async with session.request(
            req.method, req.url, headers=dict(req.headers), data=data
        ) as resp:
            progress.watchdog.progress()
            # Answers are small JSON; a runaway body (a misrouted download) is cut short
            # rather than held whole.
            payload = bytearray()
            async for piece in resp.content.iter_chunked(64 * 1024):
                payload += piece
                progress.watchdog.progress()
                if len(payload) > _MAX_ANSWER_BYTES:
                    break
            return resp.status, dict(resp.headers), bytes(payload[:_MAX_ANSWER_BYTES])

    async def _watched(
        self,
        session: aiohttp.ClientSession,
        req: protocol.HttpRequest,
        source: FileSource | None = None,
        start: int = 0,
    ) -> tuple[Exchange | None, _Failure | None]:
        """Send ``req`` under a fresh watchdog; a transport failure becomes a _Failure."""
        watchdog = StallWatchdog(
            self.clock, self.settings.stall_timeout_s, deadline_s(req.body_size, self.settings)
        )
        progress = _Progress(req.content_length, watchdog)
        try:
            exchange = await run_watched(
                self._exchange(session, req, progress, source, start), watchdog, self.watch_sleep
            )
        except UploadTimeout as exc:
            return None, _Failure(
                "timeout",
                f"{exc.reason} after {exc.waited_s:.2f}s",
                True,
                body_complete=progress.complete,
            )
        except TimeoutError as exc:  # aiohttp's connect and read timeouts
            return None, _Failure(
                "timeout",
                self._msg(f"{type(exc).__name__}: {exc}"),
                True,
                body_complete=progress.complete,
            )
        except (aiohttp.ClientError, OSError) as exc:
            return None, _Failure(
                "connection_error",
                self._msg(f"{type(exc).__name__}: {exc}"),
                True,
                body_complete=progress.complete,
            )
        return exchange, None

    def _http_failure(self, exchange: Exchange) -> _Failure:
        status, headers, body = exchange
        info = protocol.classify_response(
            self.target.provider, status, headers, body, now_unix=self.wall_clock()
        )
        code = f" {info.code}" if info.code else ""
        return _Failure(
            "http_error",
            self._msg(f"HTTP {info.real_status}{code}: {info.message}"),
            info.retryable,
            status=info.real_status,
            retry_after_s=info.retry_after_s,
        )

    async def _next_delay(self, policy: RetryPolicy, failure: _Failure) -> bool:
        """Wait before the next attempt; False when there is none to make."""
        if not failure.retryable:
            return False
        delay = policy.delay_s(self.rng, failure.retry_after_s)
        if delay is None:
            return False
        await self.sleep(delay)
        return True

    # -- single-request uploads (Kimi, GLM, small Supabase files) ----------------------

    def _single_request(self, file: LocalFile, attempt: int) -> protocol.HttpRequest:
        if self.target.provider == "supabase":
            # A retry may follow an attempt that the server completed but whose answer
            # was lost: upsert makes the retry overwrite instead of failing as Duplicate.
            return protocol.supabase_object_upload(
                self.target, file.name, file.size, upsert=attempt > 1
            )
        return protocol.openai_upload(
            self.target, file.name, file.size, boundary=f"uploadbench-{secrets.token_hex(12)}"
        )

    async def _upload_single(
        self, session: aiohttp.ClientSession, file: LocalFile, source: FileSource
    ) -> _Result:
        policy = RetryPolicy.from_settings(self.settings)
        while True:
            policy = policy.increment()
            req = self._single_request(file, policy.attempts)
            exchange, failure = await self._watched(session, req, source)
            if exchange is not None:
                status, _, body = exchange
                if 200 <= status < 300:
                    return self._single_success(file, status, body, policy.attempts)
                failure = self._http_failure(exchange)
            assert failure is not None
            if failure.body_complete and self.target.provider != "supabase":
                # The server may hold the file although we saw no answer: look before
                # sending it again, or the retry makes a duplicate.
                found = await self._find_stored(session, file)
                if found is not None:
                    self.claimed.add(found.file_id)
                    size = found.bytes if found.bytes is not None else file.size
                    return _Result("ok", policy.attempts, None, found.file_id, size)
            if not await self._next_delay(policy, failure):
                return _Result(
                    failure.outcome, policy.attempts, failure.status, error=failure.message
                )

    def _single_success(self, file: LocalFile, status: int, body: bytes, attempts: int) -> _Result:
        try:
            if self.target.provider == "supabase":
                key = protocol.parse_supabase_object(body)
                return _Result("ok", attempts, status, key, file.size)
            stored = protocol.parse_openai_file(body)
        except protocol.ProtocolError as exc:
            return _Result("http_error", attempts, status, error=self._msg(str(exc)))
        self.claimed.add(stored.file_id)
        if stored.bytes is not None and stored.bytes != file.size:
            return _Result(
                "integrity_error",
                attempts,
                status,
                stored.file_id,
                stored.bytes,
                f"server stored {stored.bytes} bytes of {file.size}",
            )
        return _Result("ok", attempts, status, stored.file_id, file.size)

    async def _find_stored(
        self, session: aiohttp.ClientSession, file: LocalFile
    ) -> protocol.StoredFile | None:
        after: str | None = None
        for _ in range(_MAX_LIST_PAGES):
            exchange, _ = await self._watched(
                session, protocol.list_files(self.target, after=after)
            )
            if exchange is None or not 200 <= exchange[0] < 300:
                return None
            try:
                files, has_more = protocol.parse_file_list(exchange[2])
            except protocol.ProtocolError:
                return None
            for stored in files:
                if (
                    stored.filename == file.name
                    and stored.bytes == file.size
                    and stored.file_id not in self.claimed
                ):
                    return stored
            if not has_more or not files:
                return None
            after = files[-1].file_id
        return None

    # -- TUS resumable (large Supabase files) -----------------------------------------

    async def _upload_tus(
        self, session: aiohttp.ClientSession, file: LocalFile, source: FileSource
    ) -> _Result:
        policy = RetryPolicy.from_settings(self.settings)
        attempts = 0
        upload: str | None = None
        offset = 0
        resync = False
        status: int | None = None
        while True:
            policy = policy.increment()
            attempts += 1
            try:
                if upload is None:
                    upload = await self._tus_create(session, file, upsert=attempts > 1)
                    offset, resync = 0, False
                elif resync:
                    offset = await self._tus_offset(session, upload)
                    resync = False
                while offset < file.size:
                    length = min(self.settings.tus_chunk_size, file.size - offset)
                    req = protocol.tus_patch(self.target, upload, offset, length)
                    exchange, failure = await self._watched(session, req, source, offset)
                    if failure is not None:
                        raise _HttpFailure(failure)
                    assert exchange is not None
                    status = exchange[0]
                    if not 200 <= status < 300:
                        raise _HttpFailure(self._http_failure(exchange))
                    new_offset = protocol.parse_upload_offset(exchange[1])
                    if new_offset <= offset or new_offset > file.size:
                        raise protocol.ProtocolError(
                            f"TUS offset went from {offset} to {new_offset}"
                        )
                    offset = new_offset
                    # Progress restores the retry budget: a long upload through a flaky
                    # link may need more cuts in total than one request may.
                    policy = RetryPolicy.from_settings(self.settings).increment()
                key = f"{self.target.bucket}/{file.name}"
                return _Result("ok", attempts, status, key, offset)
            except _HttpFailure as exc:
                failure = exc.failure
            except protocol.ProtocolError as exc:
                failure = _Failure("http_error", self._msg(str(exc)), False, status)
            if failure.status in (404, 410) and upload is not None:
                upload, failure.retryable = None, True  # the upload expired: start anew
            resync = upload is not None
            if not await self._next_delay(policy, failure):
                return _Result(
                    failure.outcome, attempts, failure.status, None, offset, failure.message
                )

    async def _tus_create(
        self, session: aiohttp.ClientSession, file: LocalFile, *, upsert: bool
    ) -> str:
        req = protocol.tus_create(self.target, file.name, file.size, upsert=upsert)
        exchange, failure = await self._watched(session, req)
        if failure is not None:
            raise _HttpFailure(failure)
        assert exchange is not None
        if not 200 <= exchange[0] < 300:
            raise _HttpFailure(self._http_failure(exchange))
        return protocol.parse_tus_location(exchange[1], req.url)

    async def _tus_offset(self, session: aiohttp.ClientSession, upload: str) -> int:
        exchange, failure = await self._watched(session, protocol.tus_head(self.target, upload))
        if failure is not None:
            raise _HttpFailure(failure)
        assert exchange is not None
        if not 200 <= exchange[0] < 300:
            raise _HttpFailure(self._http_failure(exchange))
        return protocol.parse_upload_offset(exchange[1])

    # -- metadata row (the seed system's blocking database insert) --------------------

    async def _record_metadata(self, file: LocalFile, result: _Result) -> str | None:
        """Insert the row, retrying like uploads; None on success, else a message.

        With ``offload_blocking`` the insert never blocks the loop: it is an async request
        on the upload's session (pooled or not, as the ``pooling`` switch says), under the
        same watchdog as uploads. A blocking client in a worker thread was measured first:
        on 1,000 files of 64 KiB its thread hops and httpx's per-request cost contended
        for the GIL with the loop and took 1.67 s against 1.04 s. Off, it is the seed's
        blocking call inside the loop (bottleneck 3).
        """
        row = protocol.metadata_row(self.target, file, result.file_id, result.bytes_sent)
        req = protocol.metadata_insert(self.target, row)
        policy = RetryPolicy.from_settings(self.settings)
        while True:
            policy = policy.increment()
            if self.fixes.offload_blocking:
                async with self._session_for_upload() as session:
                    exchange, failure = await self._watched(session, req)
            else:
                exchange, failure = self._insert_blocking(req)
            if exchange is not None:
                if 200 <= exchange[0] < 300:
                    return None
                failure = self._http_failure(exchange)
            assert failure is not None
            if not await self._next_delay(policy, failure):
                return failure.message

    def _insert_blocking(
        self, req: protocol.HttpRequest
    ) -> tuple[Exchange | None, _Failure | None]:
        assert self.meta_client is not None
        try:
            # Bottleneck 3 on purpose: the blocking call inside the event loop.
            return _send_blocking(self.meta_client, req), None
        except httpx.HTTPError as exc:
            message = self._msg(f"{type(exc).__name__}: {exc}")
            return None, _Failure("connection_error", message, True)


def _send_blocking(client: httpx.Client, req: protocol.HttpRequest) -> Exchange:
    resp = client.request(req.method, req.url, headers=dict(req.headers), content=req.head)
    return resp.status_code, dict(resp.headers), resp.content
