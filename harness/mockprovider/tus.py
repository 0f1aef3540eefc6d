"""TUS 1.0 resumable uploads at ``/supabase/storage/v1/upload/resumable`` (Supabase flavour).

The offset advances by every byte a PATCH delivered, even when the connection is cut
mid-body, so a client can resume from what ``HEAD`` reports; the object's hash is carried
across PATCHes and recorded on the one that completes it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from harness.mockprovider import shapes
from harness.mockprovider.body import BodyTooLarge
from harness.mockprovider.common import check_auth
from harness.mockprovider.state import RequestContext, TusUpload, ctx_of
from harness.mockprovider.storage import check_object_name, object_limit, store_object

__all__ = ["SUPABASE_CHUNK", "add_tus_routes", "parse_upload_metadata"]

TUS_VERSION = "1.0.0"
SUPABASE_CHUNK = 6 * 1024 * 1024  # every PATCH but the last must be exactly this
_EXTENSIONS = "creation,creation-with-upload,creation-defer-length,termination"
_OFFSET_TYPE = "application/offset+octet-stream"


def parse_upload_metadata(value: str) -> dict[str, str]:
    """``key b64,key b64,...`` -> dict; a key may come without a value. ValueError if bad."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in value.split(","))):
        key, _, encoded = item.partition(" ")
        if not key or " " in encoded.strip():
            raise ValueError(f"bad Upload-Metadata pair {item!r}")
        try:
            out[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError(f"Upload-Metadata value of {key!r} is not base64 UTF-8") from None
    return out


def _err(status: int, code: str, message: str) -> shapes.ProviderError:
    return shapes.ProviderError(shapes.tus_error(status, code, message))


def _headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, **extra}


def _check_version(request: web.Request) -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise shapes.ProviderError(
            shapes.tus_error(
                412,
                "PreconditionFailed",
                f"Tus-Resumable must be {TUS_VERSION}",
                {"Tus-Version": TUS_VERSION},
            )
        )


def _int_header(request: web.Request, name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise _err(400, "InvalidRequest", f"{name} must be a non-negative integer")
    return int(value)


async def _options(request: web.Request) -> web.StreamResponse:
    state = ctx_of(request).state
    return web.Response(
        status=204,
        headers=_headers(
            **{
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": _EXTENSIONS,
                "Tus-Max-Size": str(state.config.supabase_max_bytes),
            }
        ),
    )


def _upload_id(bucket: str, name: str, version: str) -> str:
    raw = f"{bucket}/{name}/{version}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _create(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    _check_version(request)
    state = ctx.state
    length = _int_header(request, "Upload-Length")
    deferred = request.headers.get("Upload-Defer-Length") == "1"
    if (length is None) == (not deferred):
        raise _err(400, "InvalidRequest", "give Upload-Length or Upload-Defer-Length: 1")
    try:
        meta = parse_upload_metadata(request.headers.get("Upload-Metadata", ""))
    except ValueError as exc:
        raise _err(400, "InvalidRequest", str(exc)) from None
    bucket_id, name = meta.get("bucketName"), meta.get("objectName")
    if not bucket_id or not name:
        raise _err(400, "MetadataRequired", "Upload-Metadata needs bucketName and objectName")
    bucket = state.buckets.get(bucket_id)
    if bucket is None:
        raise _err(404, "NoSuchBucket", "Bucket not found")
    try:
        check_object_name(state, name)
    except shapes.ProviderError:
        raise _err(400, "InvalidKey", f"Invalid key: {name!r}") from None
    ctx.rec.object_id = f"{bucket_id}/{name}"
    ctx.rec.filename = name.rsplit("/", 1)[-1]
    upsert = request.headers.get("x-upsert", "").lower() == "true"
    if (bucket_id, name) in state.objects and not upsert:
        raise _err(409, "Duplicate", "The resource already exists")
    limit = object_limit(state, bucket)
    if length is not None and length > limit:
        raise _err(413, "EntityTooLarge", "The object exceeded the maximum allowed size")
    user_meta: dict[str, Any] | None = None
    if meta.get("metadata"):
        try:
            parsed = json.loads(meta["metadata"])
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _err(400, "InvalidRequest", "metadata must be a JSON object")
        user_meta = parsed
    upload = TusUpload(
        id=_upload_id(bucket_id, name, state.new_hex()[:16]),
        bucket=bucket_id,
        name=name,
        length=length,
        writer=state.blobs.writer(limit if length is None else length),
        upsert=upsert,
        content_type=meta.get("contentType") or "application/octet-stream",
        cache_control=meta.get("cacheControl") or "3600",
        metadata=user_meta,
    )
    state.tus[upload.id] = upload
    location = f"{request.scheme}://{request.host}{request.path.rstrip('/')}/{upload.id}"
    headers = _headers(Location=location)
    if request.content_type == _OFFSET_TYPE:  # creation-with-upload
        await _receive(ctx, upload)
        headers["Upload-Offset"] = str(upload.offset)
    elif length == 0:  # nothing to PATCH: the object exists at once
        await _complete(ctx, upload)
    return web.Response(status=201, headers=headers)


def _upload(request: web.Request) -> tuple[RequestContext, TusUpload]:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    upload = ctx.state.tus.get(request.match_info["upload_id"])
    if upload is None:
        raise _err(404, "NotFound", "Upload not found")
    ctx.rec.object_id = f"{upload.bucket}/{upload.name}"
    ctx.rec.filename = upload.name.rsplit("/", 1)[-1]
    return ctx, upload


async def _head(request: web.Request) -> web.StreamResponse:
    _check_version(request)
    _, upload = _upload(request)
    return web.Response(
        status=200,
        headers=_headers(
            **{
                "Upload-Offset": str(upload.offset),
                **(
                    {"Upload-Length": str(upload.length)}
                    if upload.length is not None
                    else {"Upload-Defer-Length": "1"}
                ),
                "Cache-Control": "no-store",
            }
        ),
    )


async def _patch(request: web.Request) -> web.StreamResponse:
    _check_version(request)
    ctx, upload = _upload(request)
    if request.content_type != _OFFSET_TYPE:
        raise _err(415, "UnsupportedMediaType", f"Content-Type must be {_OFFSET_TYPE}")
    offset = _int_header(request, "Upload-Offset")
    if offset is None:
        raise _err(400, "InvalidRequest", "Upload-Offset is required")
    if upload.busy:
        # Supabase holds an advisory lock per upload: a second writer gets 409
        raise _err(409, "Conflict", "another request is writing this upload")
    if offset != upload.offset:
        raise _err(
            409,
            "Conflict",
            f"Upload-Offset {offset} does not match the current offset {upload.offset}",
        )
    if upload.length is None:
        # a deferred length is given by a later PATCH (tus creation-defer-length)
        declared = _int_header(request, "Upload-Length")
        if declared is not None:
            if declared < upload.offset or declared > (upload.writer.limit or declared):
                raise _err(400, "InvalidRequest", "Upload-Length is out of range")
            upload.length = declared
    size = request.content_length
    if (
        ctx.state.config.tus_enforce_chunk_size
        and size is not None
        and upload.length is not None
        and offset + size < upload.length
        and size != SUPABASE_CHUNK
    ):
        raise _err(400, "InvalidChunkSize", f"non-final chunks must be {SUPABASE_CHUNK} bytes")
    await _receive(ctx, upload)
    return web.Response(status=204, headers=_headers(**{"Upload-Offset": str(upload.offset)}))


async def _receive(ctx: RequestContext, upload: TusUpload) -> None:
    """Append the PATCH body; the offset follows every chunk, so a cut keeps what arrived."""
    remaining = None if upload.length is None else upload.length - upload.offset
    upload.busy = True
    try:
        async for chunk in ctx.body.chunks():
            if remaining is not None:
                if len(chunk) > remaining:
                    raise _err(413, "EntityTooLarge", "the body goes past Upload-Length")
                remaining -= len(chunk)
            upload.writer.add(chunk)
            upload.offset += len(chunk)  # in step with the digest before any await
            await upload.writer.maybe_flush()
    except BodyTooLarge:
        raise _err(413, "EntityTooLarge", "the body goes past Upload-Length") from None
    finally:
        upload.busy = False
    if upload.offset == upload.length and not upload.done:
        await _complete(ctx, upload)


async def _complete(ctx: RequestContext, upload: TusUpload) -> None:
    state = ctx.state
    blob = await upload.writer.finish()
    upload.done = True
    ctx.rec.content_hash = blob.content_hash
    ctx.rec.content_bytes = blob.size
    existing = (upload.bucket, upload.name) in state.objects
    if existing and not upload.upsert:
        await state.blobs.delete(blob)
        raise _err(409, "Duplicate", "The resource already exists")
    await store_object(
        state,
        upload.bucket,
        upload.name,
        blob,
        upload.content_type,
        upload.cache_control,
        upload.metadata,
    )


async def _delete(request: web.Request) -> web.StreamResponse:
    _check_version(request)
    ctx, upload = _upload(request)
    del ctx.state.tus[upload.id]
    if not upload.done:
        await upload.writer.discard()
    return web.Response(status=204, headers=_headers())


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AddRoute = Callable[[str, str, str, Handler], None]


def add_tus_routes(add: AddRoute) -> None:
    """Register the TUS routes (with and without a trailing slash on the collection)."""
    base = "storage/v1/upload/resumable"
    for path in (base, base + "/"):
        add("supabase", "OPTIONS", path, _options)
        add("supabase", "POST", path, _create)
    add("supabase", "OPTIONS", base + "/{upload_id}", _options)
    add("supabase", "HEAD", base + "/{upload_id}", _head)
    add("supabase", "PATCH", base + "/{upload_id}", _patch)
    add("supabase", "DELETE", base + "/{upload_id}", _delete)
