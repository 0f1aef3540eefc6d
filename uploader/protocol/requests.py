"""Request builders for every provider call the uploaders make, without I/O.

Each builder returns an :class:`HttpRequest`: method, URL, headers, and the bytes that go
before and after the file's content. A driver (aiohttp, httpx, curl) sends ``head``, then
``body_size`` bytes of the file, then ``tail``; ``Content-Length`` is always known, so no
upload is chunked (Supabase's raw-body size check and several gateways need the length).
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from uploader.api import LocalFile, Target

__all__ = [
    "HttpRequest",
    "content_type_for",
    "list_files",
    "metadata_insert",
    "metadata_row",
    "metadata_url",
    "openai_upload",
    "supabase_multipart_upload",
    "supabase_object_upload",
    "supabase_object_url",
    "supabase_project_url",
    "tus_create",
    "tus_endpoint",
    "tus_head",
    "tus_patch",
    "upload_url",
]

TUS_VERSION = "1.0.0"


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request: ``head`` + ``body_size`` file bytes + ``tail`` is the body."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    head: bytes = b""
    body_size: int = 0
    tail: bytes = b""

    @property
    def content_length(self) -> int:
        return len(self.head) + self.body_size + len(self.tail)

    def body_bytes(self, content: bytes = b"") -> bytes:
        """The whole body with ``content`` in the middle (for small or in-memory bodies)."""
        return self.head + content + self.tail


def _base(target: Target) -> str:
    return target.base_url.rstrip("/")


def _bearer(target: Target) -> dict[str, str]:
    return {"Authorization": f"Bearer {target.key}"}


def _supabase_auth(target: Target) -> dict[str, str]:
    # Supabase's gateway wants the key twice: as apikey and as the bearer token.
    return {"apikey": target.key, "Authorization": f"Bearer {target.key}"}


def content_type_for(name: str) -> str:
    """The MIME type a client would send for ``name``."""
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def _quote_header_value(value: str) -> str:
    # RFC 7578 §4.2: quote and escape the filename; browsers percent-encode '"' and CR/LF.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _multipart(
    boundary: str, fields: Mapping[str, str], file_field: str, filename: str, content_type: str
) -> tuple[bytes, bytes, str]:
    """Framing of a multipart body with text fields first and one file part last."""
    if not boundary or len(boundary) > 70:
        raise ValueError("multipart boundary must be 1..70 characters")
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    parts.append(
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{file_field}"; '
        f'filename="{_quote_header_value(filename)}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    )
    head = "".join(parts).encode("utf-8")
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")
    return head, tail, f"multipart/form-data; boundary={boundary}"


def openai_upload(target: Target, filename: str, size: int, boundary: str) -> HttpRequest:
    """Kimi / GLM ``POST /files``: multipart ``purpose`` then ``file`` (the OpenAI SDK's order)."""
    head, tail, ctype = _multipart(
        boundary, {"purpose": target.purpose}, "file", filename, content_type_for(filename)
    )
    headers = {**_bearer(target), "Content-Type": ctype}
    req = HttpRequest("POST", f"{_base(target)}/files", headers, head, size, tail)
    return _with_length(req)


def _with_length(req: HttpRequest) -> HttpRequest:
    headers = {**req.headers, "Content-Length": str(req.content_length)}
    return HttpRequest(req.method, req.url, headers, req.head, req.body_size, req.tail)


def _object_path(name: str) -> str:
    return quote(name, safe="/")


def supabase_object_url(target: Target, name: str) -> str:
    return f"{_base(target)}/storage/v1/object/{quote(target.bucket, safe='')}/{_object_path(name)}"


def supabase_object_upload(
    target: Target, name: str, size: int, *, upsert: bool = False, content_type: str | None = None
) -> HttpRequest:
    """Supabase Storage raw-body upload: ``POST /storage/v1/object/{bucket}/{name}``."""
    headers = {
        **_supabase_auth(target),
        "Content-Type": content_type or content_type_for(name),
        "x-upsert": "true" if upsert else "false",
        "cache-control": "max-age=3600",
    }
    return _with_length(HttpRequest("POST", supabase_object_url(target, name), headers, b"", size))


def supabase_multipart_upload(
    target: Target,
    name: str,
    size: int,
    boundary: str,
    *,
    upsert: bool = False,
    content_type: str | None = None,
) -> HttpRequest:
    """Supabase Storage multipart upload, as storage3's ``upload()`` sends it."""
    filename = name.rsplit("/", 1)[-1]
    head, tail, ctype = _multipart(
        boundary,
        {"cacheControl": "3600"},
        "file",
        filename,
        content_type or content_type_for(name),
    )
    headers = {
        **_supabase_auth(target),
        "Content-Type": ctype,
        "x-upsert": "true" if upsert else "false",
    }
    req = HttpRequest("POST", supabase_object_url(target, name), headers, head, size, tail)
    return _with_length(req)


def tus_endpoint(target: Target) -> str:
    return f"{_base(target)}/storage/v1/upload/resumable"


def _tus_metadata(pairs: Mapping[str, str]) -> str:
    # tus 1.0: comma-separated "key base64(value)" pairs.
    return ",".join(
        f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
        for key, value in pairs.items()
    )


def tus_create(
    target: Target, name: str, size: int, *, upsert: bool = False, content_type: str | None = None
) -> HttpRequest:
    """TUS creation ``POST .../upload/resumable`` (no body); the answer's Location is the upload."""
    metadata = {
        "bucketName": target.bucket,
        "objectName": name,
        "contentType": content_type or content_type_for(name),
        "cacheControl": "3600",
    }
    headers = {
        **_supabase_auth(target),
        "Tus-Resumable": TUS_VERSION,
        "Upload-Length": str(size),
        "Upload-Metadata": _tus_metadata(metadata),
        "x-upsert": "true" if upsert else "false",
        "Content-Length": "0",
    }
    return HttpRequest("POST", tus_endpoint(target), headers)


def tus_patch(target: Target, upload: str, offset: int, length: int) -> HttpRequest:
    """One TUS chunk: ``length`` file bytes starting at ``offset``."""
    if offset < 0 or length < 0:
        raise ValueError("offset and length must be >= 0")
    headers = {
        **_supabase_auth(target),
        "Tus-Resumable": TUS_VERSION,
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
        "Content-Length": str(length),
    }
    return HttpRequest("PATCH", upload, headers, b"", length)


def tus_head(target: Target, upload: str) -> HttpRequest:
    """Ask the server how many bytes of ``upload`` it holds (re-sync after a cut)."""
    return HttpRequest("HEAD", upload, {**_supabase_auth(target), "Tus-Resumable": TUS_VERSION})


def upload_url(target: Target, name: str) -> str:
    """The single-request upload URL for ``name`` (the ``{url}`` of ``cmd:`` templates)."""
    if target.provider == "supabase":
        return supabase_object_url(target, name)
    return f"{_base(target)}/files"


def list_files(target: Target, *, after: str | None = None, limit: int = 100) -> HttpRequest:
    """Kimi / GLM ``GET /files`` (GLM pages with ``after``; Kimi ignores it)."""
    if target.provider == "supabase":
        raise ValueError("list_files is for kimi and glm targets")
    query = f"?limit={limit}&order=created_at" if target.provider == "glm" else ""
    if after is not None and target.provider == "glm":
        query += f"&after={quote(after, safe='')}"
    return HttpRequest("GET", f"{_base(target)}/files{query}", _bearer(target))


def supabase_project_url(target: Target) -> str | None:
    """The Supabase project URL that holds the uploads table, or None if there is none.

    The target's ``metadata_project_url`` when set (whoever configures the target knows
    where the database is); else a Supabase target is its own project, and Kimi or GLM,
    which carry no database, have none.
    """
    if target.metadata_project_url is not None:
        return target.metadata_project_url.rstrip("/")
    if target.provider == "supabase":
        return _base(target)
    return None


def metadata_url(target: Target) -> str | None:
    """``rest/v1/{table}`` of :func:`supabase_project_url`, or None."""
    project = supabase_project_url(target)
    if project is None:
        return None
    return f"{project}/rest/v1/{quote(target.table, safe='')}"


def metadata_row(
    target: Target, file: LocalFile, file_id: str | None, bytes_stored: int
) -> dict[str, object]:
    """The row the seed system inserted after each upload."""
    return {
        "name": file.name,
        "size": file.size,
        "bytes": bytes_stored,
        "content_hash": file.content_hash,
        "hash_algo": file.hash_algo,
        "provider": target.provider,
        "file_id": file_id,
    }


def metadata_insert(target: Target, row: Mapping[str, object]) -> HttpRequest:
    """PostgREST ``POST rest/v1/{table}`` with one JSON row; None URL raises ValueError."""
    url = metadata_url(target)
    if url is None:
        raise ValueError(f"no metadata table is known for {target.provider} at {target.base_url}")
    body = json.dumps(row, separators=(",", ":")).encode("utf-8")
    headers = {
        **_supabase_auth(target),
        "Content-Type": "application/json",
        "Prefer": "return=minimal",
        "Content-Length": str(len(body)),
    }
    return HttpRequest("POST", url, headers, body)
