"""The OpenAI-style ``/files`` API as Kimi and GLM serve it; :class:`FilesDialect` holds
what differs between them (ids, error shapes, limits, list format)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import MultipartReader, web

from harness.mockprovider import shapes
from harness.mockprovider.body import BodyTooLarge
from harness.mockprovider.common import MALFORMED, check_auth, read_small_part, stream_part
from harness.mockprovider.state import FileEntry, MockState, RequestContext, ctx_of

__all__ = ["GLM", "KIMI", "FilesDialect", "add_files_routes"]

_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
_FIELD_LIMIT = 64 * 1024  # form fields other than the file are tiny


@dataclass(frozen=True)
class FilesDialect:
    """One provider's flavour of the files API."""

    provider: str  # "kimi" or "glm"
    object_status: str | None  # Kimi answers status "ok"; GLM sends none

    def max_bytes(self, state: MockState) -> int:
        cfg = state.config
        return cfg.kimi_max_bytes if self.provider == "kimi" else cfg.glm_max_bytes

    def max_files(self, state: MockState) -> int:
        cfg = state.config
        return cfg.kimi_max_files if self.provider == "kimi" else cfg.glm_max_files

    def purposes(self, state: MockState) -> tuple[str, ...]:
        cfg = state.config
        return cfg.kimi_purposes if self.provider == "kimi" else cfg.glm_purposes

    def new_id(self, state: MockState) -> str:
        if self.provider == "kimi":
            # 20 characters of lowercase base32hex, like Kimi's xid-style ids
            return state.random_choice(_BASE32HEX, 20)
        now = state.clock()
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}"
        return f"file-{stamp}-{state.random_choice('abcdefghijklmnopqrstuvwxyz0123456789', 5)}"

    def file_object(self, entry: FileEntry) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": entry.id,
            "object": "file",
            "bytes": entry.blob.size,
            "created_at": entry.created_at,
            "filename": entry.filename,
            "purpose": entry.purpose,
        }
        if self.object_status is not None:
            obj["status"] = self.object_status
            obj["status_details"] = ""
        return obj

    # -- errors ----------------------------------------------------------------------
    def bad_request(self, detail: str) -> web.Response:
        if self.provider == "kimi":
            return shapes.kimi_error(400, "invalid_request_error", f"Invalid request: {detail}")
        return shapes.glm_error(400, "1210", f"Incorrect API call parameters: {detail}")

    def bad_purpose(self, allowed: tuple[str, ...]) -> web.Response:
        names = ", ".join(f"'{p}'" for p in allowed)
        if self.provider == "kimi":
            return shapes.kimi_error(
                400, "invalid_request_error", f"Invalid purpose: only {names} accepted"
            )
        return shapes.glm_error(400, "1214", f"purpose: invalid value, allowed: {names}")

    def zero_size(self) -> web.Response:
        if self.provider == "kimi":
            return shapes.kimi_error(
                400,
                "invalid_request_error",
                "File size is zero, please confirm and re-upload the file",
            )
        return shapes.glm_error(400, "1214", "File size is zero")

    def too_large(self, limit: int) -> web.Response:
        mb = _size_text(limit)
        if self.provider == "kimi":
            return shapes.kimi_error(
                400,
                "invalid_request_error",
                f"File size is too large, max file size is {mb}, "
                "please confirm and re-upload the file",
            )
        # GLM has its own status for this: HTTP 435
        return shapes.glm_error(435, "435", f"File size exceeds {mb}")

    def too_many(self, limit: int) -> web.Response:
        message = (
            f"The number of files you have uploaded exceeded the max file count {limit}, "
            "please delete previous uploaded files"
        )
        if self.provider == "kimi":
            return shapes.kimi_error(400, "invalid_request_error", message)
        return shapes.glm_error(400, "1214", message)

    def not_found(self, file_id: str) -> web.Response:
        message = f"file {file_id} not found"
        if self.provider == "kimi":
            return shapes.kimi_error(404, "resource_not_found_error", message)
        return shapes.glm_error(404, "404", message)


def _size_text(limit: int) -> str:
    """``100MB`` as the providers write it; exact bytes for limits below a MiB."""
    mib = 1024 * 1024
    return f"{limit // mib}MB" if limit >= mib and limit % mib == 0 else f"{limit} bytes"


KIMI = FilesDialect("kimi", object_status="ok")
GLM = FilesDialect("glm", object_status=None)


def _fail(response: web.Response) -> shapes.ProviderError:
    return shapes.ProviderError(response)


async def _upload(request: web.Request, dialect: FilesDialect) -> web.StreamResponse:
    ctx = ctx_of(request)
    state = ctx.state
    check_auth(request, ctx)
    if request.content_type != "multipart/form-data":
        raise _fail(dialect.bad_request("Content-Type must be multipart/form-data"))
    try:
        reader = MultipartReader(request.headers, ctx.body)  # type: ignore[arg-type]
    except MALFORMED:
        raise _fail(dialect.bad_request("malformed multipart Content-Type")) from None
    allowed = dialect.purposes(state)
    limit = dialect.max_bytes(state)
    blob = None
    filename: str | None = None
    purpose: str | None = None
    try:
        while True:
            part = await reader.next()
            if part is None:
                break
            if isinstance(part, MultipartReader):
                raise _fail(dialect.bad_request("nested multipart is not supported"))
            if part.name == "file":
                if blob is not None:
                    raise _fail(dialect.bad_request("only one file may be uploaded"))
                if not part.filename:
                    raise _fail(dialect.bad_request("the file part has no filename"))
                filename = part.filename
                writer = state.blobs.writer(limit)
                try:
                    await stream_part(part, writer)
                except BodyTooLarge:
                    raise _fail(dialect.too_large(limit)) from None
                blob = await writer.finish()
            else:
                value = await read_small_part(part, _FIELD_LIMIT)
                if value is None:
                    raise _fail(dialect.bad_request(f"field {part.name!r} is too long"))
                if part.name == "purpose":
                    purpose = value.decode("utf-8", "replace")
                    if purpose not in allowed:
                        raise _fail(dialect.bad_purpose(allowed))
        # Read to the end of the request (an epilogue, or a cut inside the closing
        # boundary): an upload counts only once its whole body has arrived.
        await ctx.body.drain()
    except MALFORMED:
        await state.blobs.delete(blob)
        raise _fail(dialect.bad_request("malformed multipart body")) from None
    except BaseException:
        await state.blobs.delete(blob)
        raise

    missing = [name for name, v in (("file", blob), ("purpose", purpose)) if v is None]
    if blob is None or purpose is None or filename is None:
        await state.blobs.delete(blob)
        raise _fail(dialect.bad_request(f"missing required field(s): {', '.join(missing)}"))
    rec = ctx.rec
    rec.content_hash = blob.content_hash
    rec.content_bytes = blob.size
    rec.filename = filename
    if blob.size == 0:
        await state.blobs.delete(blob)
        raise _fail(dialect.zero_size())
    files = state.files[dialect.provider]
    if len(files) >= dialect.max_files(state):
        await state.blobs.delete(blob)
        raise _fail(dialect.too_many(dialect.max_files(state)))
    entry = FileEntry(dialect.new_id(state), filename, purpose, int(state.clock()), blob)
    files[entry.id] = entry
    rec.object_id = entry.id
    return shapes.json_response(dialect.file_object(entry))


def _lookup(request: web.Request, dialect: FilesDialect) -> tuple[RequestContext, FileEntry]:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    file_id = request.match_info["file_id"]
    entry = ctx.state.files[dialect.provider].get(file_id)
    if entry is None:
        raise _fail(dialect.not_found(file_id))
    ctx.rec.object_id = entry.id
    return ctx, entry


async def _list(request: web.Request, dialect: FilesDialect) -> web.StreamResponse:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    entries = list(ctx.state.files[dialect.provider].values())
    query = request.query
    if "purpose" in query:
        entries = [e for e in entries if e.purpose == query["purpose"]]
    # ``after`` is honoured for both: the openai SDK pages with it when has_more is absent
    after = query.get("after")
    if after is not None:
        ids = [e.id for e in entries]
        entries = entries[ids.index(after) + 1 :] if after in ids else []
    if dialect.provider == "kimi":
        return shapes.json_response(
            {"object": "list", "data": [dialect.file_object(e) for e in entries]}
        )
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise _fail(dialect.bad_request("limit must be an integer 1..100"))
    page = entries[:limit]
    return shapes.json_response(
        {
            "object": "list",
            "data": [dialect.file_object(e) for e in page],
            "has_more": len(entries) > limit,
        }
    )


async def _retrieve(request: web.Request, dialect: FilesDialect) -> web.StreamResponse:
    _, entry = _lookup(request, dialect)
    return shapes.json_response(dialect.file_object(entry))


async def _delete(request: web.Request, dialect: FilesDialect) -> web.StreamResponse:
    ctx, entry = _lookup(request, dialect)
    del ctx.state.files[dialect.provider][entry.id]
    await ctx.state.blobs.delete(entry.blob)
    return shapes.json_response({"id": entry.id, "object": "file", "deleted": True})


async def _content(request: web.Request, dialect: FilesDialect) -> web.StreamResponse:
    _, entry = _lookup(request, dialect)
    if entry.blob.path is not None and entry.purpose != "file-extract":
        return web.FileResponse(
            entry.blob.path, headers={"Content-Type": "application/octet-stream"}
        )
    # "extracted text": the mock does not parse documents, it describes what it got
    text = (
        f"mock extracted text of {entry.filename}: {entry.blob.size} bytes, "
        f"{ctx_of(request).state.config.hash_algo} {entry.blob.content_hash}\n"
    )
    return web.Response(text=text, content_type="text/plain")


Handler = Callable[[web.Request], Any]
AddRoute = Callable[[str, str, str, Handler], None]


def add_files_routes(add: AddRoute, dialect: FilesDialect) -> None:
    """Register the files routes through ``add(provider, method, template, handler)``."""

    def bind(fn: Callable[[web.Request, FilesDialect], Any]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            result: web.StreamResponse = await fn(request, dialect)
            return result

        return handler

    p = dialect.provider
    add(p, "POST", "/files", bind(_upload))
    add(p, "GET", "/files", bind(_list))
    add(p, "GET", "/files/{file_id}", bind(_retrieve))
    add(p, "DELETE", "/files/{file_id}", bind(_delete))
    add(p, "GET", "/files/{file_id}/content", bind(_content))
