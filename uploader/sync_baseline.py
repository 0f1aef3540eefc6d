"""``sync``: the legacy baseline the reference must beat.

Sequential; each file is read whole into memory; a new connection per upload; the
metadata row is inserted with a blocking call after each upload; no retries (the legacy
code had none) and one fixed timeout per network operation, whatever the file's size
(``Settings.min_timeout_s`` unless one is given): the legacy had no "timeout prediction".
httpx for Kimi and GLM, the official ``supabase`` client for Supabase, as the seed system
used them.

Metadata rows go to :func:`uploader.protocol.metadata_url` of the target; where the target
names no table (a Kimi or GLM target without ``metadata_project_url``) none is
recorded.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase import Client, create_client
from supabase.lib.client_options import SyncClientOptions

from uploader import protocol, tls
from uploader.api import LocalFile, Outcome, OutcomeClass, Settings, Target
from uploader.timeouts import legacy_timeout_s

__all__ = ["SyncBaselineUploader"]

Clock = Callable[[], float]


class SyncBaselineUploader:
    """The legacy :class:`~uploader.api.SyncUploader`. ``clock`` stamps outcomes,
    ``wall_clock`` reads HTTP-date answers, ``timeout_s`` is the one fixed timeout of each
    network operation (connect aside); ``None`` takes ``settings.min_timeout_s``, so a
    scenario sets the legacy timeout the same way for every variant."""

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

    def _timeout(self, settings: Settings) -> httpx.Timeout:
        fixed = legacy_timeout_s(settings, self.timeout_s)
        return httpx.Timeout(fixed, connect=settings.connect_timeout_s)

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        project = protocol.supabase_project_url(target)
        wanted = target.provider == "supabase" or target.record_metadata
        timeout = self._timeout(settings)
        # The official client's own httpx client, given the legacy fixed timeout.
        with httpx.Client(timeout=timeout, verify=tls.httpx_verify(target)) as http:
            supabase: Client | None = None
            if project is not None and wanted:
                supabase = create_client(
                    project, target.key, options=SyncClientOptions(httpx_client=http)
                )
            return [self._upload_one(file, target, settings, supabase) for file in files]

    def _upload_one(
        self, file: LocalFile, target: Target, settings: Settings, supabase: Client | None
    ) -> Outcome:
        started = self._clock()
        status: int | None = None
        file_id: str | None = None
        bytes_sent = 0
        outcome: OutcomeClass = "ok"
        error: str | None = None
        try:
            data = file.path.read_bytes()  # the legacy whole-file read
            if target.provider == "supabase":
                assert supabase is not None
                status, file_id, bytes_sent = self._supabase(supabase, file, target, data)
            else:
                status, file_id, bytes_sent, problem = self._openai(file, target, settings, data)
                if problem is not None:
                    outcome, error = problem
            del data
            if outcome == "ok" and target.record_metadata and supabase is not None:
                row = protocol.metadata_row(target, file, file_id, bytes_sent)
                supabase.table(target.table).insert(row).execute()  # blocking, as it was
        except StorageApiError as exc:
            outcome, status = "http_error", _int_or_none(exc.status)
            error = f"HTTP {exc.status} {exc.code}: {exc.message}"
        except APIError as exc:
            outcome = "http_error"
            error = f"stored as {file_id}, metadata insert failed: {exc.code} {exc.message}"
        except httpx.TimeoutException as exc:
            outcome, error = "timeout", f"{type(exc).__name__}: {exc}"
        except httpx.HTTPStatusError as exc:  # storage3 on an answer it cannot parse
            outcome, status = "http_error", exc.response.status_code
            error = f"HTTP {status}: {exc.response.text[:200]}"
        except (httpx.TransportError, OSError) as exc:
            outcome, error = "connection_error", f"{type(exc).__name__}: {exc}"
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # storage3 raises these on non-JSON or oddly shaped error bodies (gateway pages).
            outcome, error = "http_error", f"unparseable answer: {type(exc).__name__}: {exc}"
        return Outcome(
            name=file.name,
            size=file.size,
            outcome=outcome,
            started_at=started,
            ended_at=self._clock(),
            attempts=1,
            status=status,
            file_id=file_id,
            bytes_sent=bytes_sent,
            error=protocol.safe_error(error, target.key),
        )

    def _openai(
        self, file: LocalFile, target: Target, settings: Settings, data: bytes
    ) -> tuple[int, str | None, int, tuple[OutcomeClass, str] | None]:
        req = protocol.openai_upload(
            target, file.name, len(data), boundary=f"uploadbench-{secrets.token_hex(12)}"
        )
        timeout = self._timeout(settings)
        # A new client per upload: the legacy code's connection per upload.
        with httpx.Client(timeout=timeout, verify=tls.httpx_verify(target)) as client:
            resp = client.post(
                req.url, headers=dict(req.headers), content=(req.head, data, req.tail)
            )
        verdict = protocol.judge_upload(
            target.provider,
            file.size,
            resp.status_code,
            dict(resp.headers),
            resp.content,
            now_unix=self._wall_clock(),
        )
        problem = None if verdict.outcome == "ok" else (verdict.outcome, verdict.message or "")
        return verdict.status, verdict.file_id, verdict.bytes_stored, problem

    def _supabase(
        self, supabase: Client, file: LocalFile, target: Target, data: bytes
    ) -> tuple[int, str, int]:
        options: Any = {
            "content-type": protocol.content_type_for(file.name),
            # One connection per upload, as the legacy deployment (a client per request).
            "headers": {"Connection": "close"},
        }
        answer = supabase.storage.from_(target.bucket).upload(file.name, data, options)
        return 200, answer.full_path, len(data)


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
