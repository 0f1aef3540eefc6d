"""A small uploader plugin for uploadbench: the shape of your own client under test.

Run it (from the repository root, so the worker can import ``examples.myuploader``)::

    uploadbench validate examples/myuploader.toml
    uploadbench run examples/myuploader.toml

The contract it implements is written down in docs/plugins.md: ``upload_many(files, target,
settings)`` returns one :class:`uploader.Outcome` per file, in the order of ``files``. This
one is deliberately plain: sequential, blocking httpx, one request per file, no retries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx

from uploader import LocalFile, Outcome, OutcomeClass, Settings, Target

__all__ = ["MyUploader"]


class MyUploader:
    """Uploads each file in one request: Kimi/GLM ``POST {base_url}/files`` (multipart, the
    OpenAI files API) or Supabase Storage ``POST {base_url}/storage/v1/object/{bucket}/{name}``.
    """

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        timeout = httpx.Timeout(settings.min_timeout_s, connect=settings.connect_timeout_s)
        # trust_env=False: never route the benchmark through a proxy from the environment.
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            return [self._upload_one(client, file, target) for file in files]

    def _upload_one(self, client: httpx.Client, file: LocalFile, target: Target) -> Outcome:
        started = time.perf_counter()
        try:
            response = self._send(client, file, target)
        except httpx.TimeoutException:
            return _outcome(file, started, "timeout", error="timed out")
        except httpx.HTTPError as exc:
            # Never put the key in an error: it is written to results.json.
            return _outcome(file, started, "connection_error", error=type(exc).__name__)
        if response.status_code >= 400:
            return _outcome(
                file, started, "http_error", status=response.status_code, error="HTTP error"
            )
        body = response.json()
        file_id = body.get("id") or body.get("Key")
        return _outcome(
            file, started, "ok", status=response.status_code, file_id=file_id, sent=file.size
        )

    def _send(self, client: httpx.Client, file: LocalFile, target: Target) -> httpx.Response:
        content = file.path.read_bytes()
        if target.provider == "supabase":
            return client.post(
                f"{target.base_url}/storage/v1/object/{target.bucket}/{file.name}",
                headers={
                    "apikey": target.key,
                    "Authorization": f"Bearer {target.key}",
                    "Content-Type": "application/octet-stream",
                },
                content=content,
            )
        return client.post(
            f"{target.base_url}/files",
            headers={"Authorization": f"Bearer {target.key}"},
            data={"purpose": target.purpose},
            files={"file": (file.name, content)},
        )


def _outcome(
    file: LocalFile,
    started: float,
    outcome: OutcomeClass,
    *,
    status: int | None = None,
    file_id: str | None = None,
    sent: int = 0,
    error: str | None = None,
) -> Outcome:
    return Outcome(
        name=file.name,
        size=file.size,
        outcome=outcome,
        started_at=started,
        ended_at=time.perf_counter(),
        status=status,
        file_id=file_id,
        bytes_sent=sent,
        error=error,
    )
