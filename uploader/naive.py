"""``naive-async``: ``async def`` code that still blocks the event loop.

The investigation's bottlenecks #1 and #3 as people really write them: the whole file
read with a plain ``open().read()``, the upload and the metadata insert made with a
blocking HTTP call, all inside coroutines fanned out with :func:`asyncio.gather`. It looks
concurrent and runs one file at a time, with the loop frozen during each upload.

Metadata rows go to :func:`uploader.protocol.metadata_url` of the target; where the target
names no table (a Kimi or GLM target without ``metadata_project_url``) none is
recorded.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence

import httpx

from uploader import protocol, tls
from uploader.api import LocalFile, Outcome, OutcomeClass, Settings, Target
from uploader.timeouts import legacy_timeout_s

__all__ = ["NaiveAsyncUploader"]

Clock = Callable[[], float]


class NaiveAsyncUploader:
    """The naive :class:`~uploader.api.AsyncUploader`; no retries, one fixed timeout per
    network operation (:func:`uploader.timeouts.legacy_timeout_s`)."""

    def __init__(
        self,
        *,
        clock: Clock = time.perf_counter,
        wall_clock: Clock = time.time,
        timeout_s: float | None = None,
    ) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self.timeout_s = timeout_s

    async def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        return list(await asyncio.gather(*(self.upload_one(f, target, settings) for f in files)))

    async def upload_one(self, file: LocalFile, target: Target, settings: Settings) -> Outcome:
        started = self._clock()
        status: int | None = None
        file_id: str | None = None
        stored = 0
        outcome: OutcomeClass = "ok"
        error: str | None = None
        timeout = httpx.Timeout(
            legacy_timeout_s(settings, self.timeout_s), connect=settings.connect_timeout_s
        )
        try:
            # Bottleneck 1, as written in the wild: a blocking whole-file read in a coroutine.
            with open(file.path, "rb") as f:  # noqa: ASYNC230
                data = f.read()
            if target.provider == "supabase":
                req = protocol.supabase_object_upload(target, file.name, len(data))
            else:
                boundary = f"uploadbench-{secrets.token_hex(12)}"
                req = protocol.openai_upload(target, file.name, len(data), boundary)
            # The blocking module-level call (a new connection each time) inside the loop.
            resp = httpx.post(  # noqa: ASYNC210
                req.url,
                headers=dict(req.headers),
                content=(req.head, data, req.tail),
                timeout=timeout,
                verify=tls.httpx_verify(target),
            )
            del data
            verdict = protocol.judge_upload(
                target.provider,
                file.size,
                resp.status_code,
                dict(resp.headers),
                resp.content,
                now_unix=self._wall_clock(),
            )
            outcome, status = verdict.outcome, verdict.status
            file_id, stored, error = verdict.file_id, verdict.bytes_stored, verdict.message
            if outcome == "ok" and target.record_metadata:
                error = self._insert_metadata(file, target, file_id, stored, timeout)
                if error is not None:
                    outcome = "http_error"
        except httpx.TimeoutException as exc:
            outcome, error = "timeout", f"{type(exc).__name__}: {exc}"
        except (httpx.TransportError, OSError) as exc:
            outcome, error = "connection_error", f"{type(exc).__name__}: {exc}"
        return Outcome(
            name=file.name,
            size=file.size,
            outcome=outcome,
            started_at=started,
            ended_at=self._clock(),
            attempts=1,
            status=status,
            file_id=file_id,
            bytes_sent=stored,
            error=protocol.safe_error(error, target.key),
        )

    def _insert_metadata(
        self,
        file: LocalFile,
        target: Target,
        file_id: str | None,
        stored: int,
        timeout: httpx.Timeout,
    ) -> str | None:
        if protocol.metadata_url(target) is None:
            return None
        row = protocol.metadata_row(target, file, file_id, stored)
        req = protocol.metadata_insert(target, row)
        # Bottleneck 3: the blocking database insert, called straight from the coroutine.
        resp = httpx.post(
            req.url,
            headers=dict(req.headers),
            content=req.head,
            timeout=timeout,
            verify=tls.httpx_verify(target),
        )
        if 200 <= resp.status_code < 300:
            return None
        return f"stored as {file_id}, metadata insert failed: HTTP {resp.status_code}"
