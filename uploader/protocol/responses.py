"""Parsers for the providers' success answers, without I/O.

Each takes the raw status, headers and body and returns a small value, or raises
:class:`ProtocolError` when the answer does not have the documented shape (schema drift is
reported, never guessed around).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

__all__ = [
    "ProtocolError",
    "StoredFile",
    "header",
    "parse_file_list",
    "parse_openai_file",
    "parse_supabase_object",
    "parse_tus_location",
    "parse_upload_offset",
]


class ProtocolError(ValueError):
    """A 2xx answer whose body or headers are not what the provider documents."""


@dataclass(frozen=True)
class StoredFile:
    """What a provider says it stored: its id, byte count (if it says) and file name."""

    file_id: str
    bytes: int | None
    filename: str | None = None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup over any mapping."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _json_object(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"answer is not JSON: {body[:60]!r}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"answer is not a JSON object: {type(data).__name__}")
    return data


def _stored(item: Mapping[str, object]) -> StoredFile:
    file_id = item.get("id")
    size = item.get("bytes")
    filename = item.get("filename")
    if not isinstance(file_id, str) or not file_id:
        raise ProtocolError("file object has no string 'id'")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        raise ProtocolError("file object 'bytes' is not an integer")
    return StoredFile(file_id, size, filename if isinstance(filename, str) else None)


def parse_openai_file(body: bytes) -> StoredFile:
    """Kimi / GLM FileObject: ``{"id", "object": "file", "bytes", "filename", ...}``."""
    return _stored(_json_object(body))


def parse_file_list(body: bytes) -> tuple[list[StoredFile], bool]:
    """Kimi / GLM ``{"object": "list", "data": [...], "has_more"?}`` -> files, has_more."""
    data = _json_object(body)
    items = data.get("data")
    if not isinstance(items, list):
        raise ProtocolError("file list has no 'data' array")
    files = [_stored(item) for item in items if isinstance(item, dict)]
    return files, data.get("has_more") is True


def parse_supabase_object(body: bytes) -> str:
    """Supabase ``{"Key": "bucket/path", "Id": ...}`` -> the Key (the only required field)."""
    key = _json_object(body).get("Key")
    if not isinstance(key, str) or not key:
        raise ProtocolError("storage answer has no string 'Key'")
    return key


def parse_tus_location(headers: Mapping[str, str], request_url: str) -> str:
    """The absolute upload URL from a TUS creation answer (Location may be relative)."""
    location = header(headers, "Location")
    if not location:
        raise ProtocolError("TUS creation answer has no Location")
    return urljoin(request_url, location)


def parse_upload_offset(headers: Mapping[str, str]) -> int:
    """``Upload-Offset`` of a TUS HEAD or PATCH answer."""
    raw = header(headers, "Upload-Offset")
    if raw is None or not raw.strip().isdigit():
        raise ProtocolError(f"TUS answer has no valid Upload-Offset: {raw!r}")
    return int(raw)
