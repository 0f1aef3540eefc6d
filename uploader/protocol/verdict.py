"""Turn one single-request upload answer into an outcome, without I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from uploader.api import OutcomeClass, ProviderKind
from uploader.protocol.errors import classify_response
from uploader.protocol.responses import ProtocolError, parse_openai_file, parse_supabase_object

__all__ = ["UploadVerdict", "judge_upload"]


@dataclass(frozen=True)
class UploadVerdict:
    """What one upload answer means for the file."""

    outcome: OutcomeClass
    status: int
    file_id: str | None = None
    bytes_stored: int = 0
    message: str | None = None
    retryable: bool = False
    retry_after_s: float | None = None


def judge_upload(
    provider: ProviderKind,
    size: int,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now_unix: float,
) -> UploadVerdict:
    """Judge the answer to a Kimi/GLM ``POST /files`` or a Supabase object upload of a
    ``size``-byte file: ok, integrity_error (the server counted other bytes) or
    http_error (classified, with the real status)."""
    if not 200 <= status < 300:
        info = classify_response(provider, status, headers, body, now_unix=now_unix)
        code = f" {info.code}" if info.code else ""
        return UploadVerdict(
            "http_error",
            info.real_status,
            message=f"HTTP {info.real_status}{code}: {info.message}",
            retryable=info.retryable,
            retry_after_s=info.retry_after_s,
        )
    try:
        if provider == "supabase":
            # Supabase echoes no byte count: what we sent is all we can report.
            return UploadVerdict("ok", status, parse_supabase_object(body), size)
        stored = parse_openai_file(body)
    except ProtocolError as exc:
        return UploadVerdict("http_error", status, message=str(exc))
    if stored.bytes is not None and stored.bytes != size:
        return UploadVerdict(
            "integrity_error",
            status,
            stored.file_id,
            stored.bytes,
            f"server stored {stored.bytes} bytes of {size}",
        )
    return UploadVerdict("ok", status, stored.file_id, size)
