"""Supabase Storage under ``/supabase/storage/v1``: buckets and objects (storage3 2.x calls).

Errors follow the Storage server: ``{"statusCode": "<real>", "error", "code", "message"}``
sent with HTTP 400 for every non-500 error unless ``supabase_legacy_status`` is off.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import MultipartReader, web

from harness.mockprovider import shapes
from harness.mockprovider.body import Blob, BodyTooLarge
from harness.mockprovider.common import (
    MALFORMED,
    check_auth,
    read_json,
    read_small_part,
    stream_part,
)
from harness.mockprovider.state import Bucket, MockState, RequestContext, StoredObject, ctx_of

__all__ = ["ObjectError", "add_storage_routes", "check_object_name", "object_limit"]

_JSON_LIMIT = 1024 * 1024
_FIELD_LIMIT = 64 * 1024
_MAX_FIELDS = 10  # Storage's multipart limits: 1 file, 10 fields


class ObjectError:
    """Storage's error table (internal/errors/*.ts)."""

    @staticmethod
    def make(
        state: MockState, status: int, error: str, code: str, message: str
    ) -> shapes.ProviderError:
        return shapes.ProviderError(
            shapes.storage_error(
                status, error, code, message, legacy=state.config.supabase_legacy_status
            )
        )

    @classmethod
    def no_such_bucket(cls, state: MockState) -> shapes.ProviderError:
        return cls.make(state, 404, "Bucket not found", "NoSuchBucket", "Bucket not found")

    @classmethod
    def no_such_key(cls, state: MockState) -> shapes.ProviderError:
        return cls.make(state, 404, "not_found", "NoSuchKey", "Object not found")

    @classmethod
    def duplicate(cls, state: MockState) -> shapes.ProviderError:
        return cls.make(
            state, 409, "Duplicate", "ResourceAlreadyExists", "The resource already exists"
        )

    @classmethod
    def too_large(cls, state: MockState) -> shapes.ProviderError:
        return cls.make(
            state,
            413,
            "Payload too large",
            "EntityTooLarge",
            "The object exceeded the maximum allowed size",
        )

    @classmethod
    def invalid(cls, state: MockState, message: str) -> shapes.ProviderError:
        return cls.make(state, 400, "InvalidRequest", "InvalidRequest", message)

    @classmethod
    def invalid_key(cls, state: MockState, name: str) -> shapes.ProviderError:
        return cls.make(state, 400, "InvalidKey", "InvalidKey", f"Invalid key: {name!r}")

    @classmethod
    def invalid_mime(cls, state: MockState, mime: str) -> shapes.ProviderError:
        return cls.make(
            state, 415, "invalid_mime_type", "InvalidMimeType", f"mime type {mime} is not supported"
        )


def check_object_name(state: MockState, name: str) -> str:
    """Refuse names that leave the bucket: ``..``/``.`` segments, absolute paths, NUL,
    backslashes, empty segments."""
    parts = name.split("/")
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or len(name.encode()) > 1024
    ):
        raise ObjectError.invalid_key(state, name)
    return name


def _bucket(state: MockState, bucket_id: str) -> Bucket:
    bucket = state.buckets.get(bucket_id)
    if bucket is None:
        raise ObjectError.no_such_bucket(state)
    return bucket


def object_limit(state: MockState, bucket: Bucket) -> int:
    """The bucket's file_size_limit, capped by the global limit."""
    limit = state.config.supabase_max_bytes
    if bucket.file_size_limit is not None:
        limit = min(limit, bucket.file_size_limit)
    return limit


def check_mime(state: MockState, bucket: Bucket, mime: str) -> None:
    allowed = bucket.allowed_mime_types
    if allowed and not any(fnmatch.fnmatchcase(mime, pattern) for pattern in allowed):
        raise ObjectError.invalid_mime(state, mime)


def decode_metadata_header(state: MockState, value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        data = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise ObjectError.invalid(state, "x-metadata must be base64 of a JSON object") from None
    if not isinstance(data, dict):
        raise ObjectError.invalid(state, "x-metadata must be base64 of a JSON object")
    return data


def _bad_json(state: MockState) -> Callable[[str], web.Response]:
    def bad(reason: str) -> web.Response:
        return shapes.storage_error(
            400,
            "InvalidRequest",
            "InvalidRequest",
            reason,
            legacy=state.config.supabase_legacy_status,
        )

    return bad


async def _body_json(ctx: RequestContext) -> Any:
    return await read_json(ctx, _JSON_LIMIT, _bad_json(ctx.state))


# -- buckets ---------------------------------------------------------------------------
async def _list_buckets(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    return shapes.json_response([b.to_json() for b in ctx.state.buckets.values()])


async def _get_bucket(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    return shapes.json_response(_bucket(ctx.state, request.match_info["bucket"]).to_json())


def _bucket_fields(state: MockState, doc: Any, bucket: Bucket | None) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ObjectError.invalid(state, "body must be a JSON object")
    out: dict[str, Any] = {}
    if "public" in doc:
        if not isinstance(doc["public"], bool):
            raise ObjectError.invalid(state, "public must be a boolean")
        out["public"] = doc["public"]
    if "file_size_limit" in doc:
        limit = doc["file_size_limit"]
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ObjectError.invalid(state, "file_size_limit must be a non-negative integer")
        out["file_size_limit"] = limit or None
    if "allowed_mime_types" in doc:
        types = doc["allowed_mime_types"]
        if types is not None and (
            not isinstance(types, list) or not all(isinstance(t, str) for t in types)
        ):
            raise ObjectError.invalid(state, "allowed_mime_types must be a list of strings")
        out["allowed_mime_types"] = types or None
    return out


async def _create_bucket(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    state = ctx.state
    doc = await _body_json(ctx)
    fields = _bucket_fields(state, doc, None)
    assert isinstance(doc, dict)
    bucket_id = doc.get("id") or doc.get("name")
    if not isinstance(bucket_id, str) or not bucket_id or "/" in bucket_id:
        raise ObjectError.invalid(state, "id must be a bucket name without '/'")
    if bucket_id in state.buckets:
        raise ObjectError.duplicate(state)
    now = state.iso_now()
    state.buckets[bucket_id] = Bucket(
        bucket_id,
        str(doc.get("name") or bucket_id),
        fields.get("public", False),
        fields.get("file_size_limit"),
        fields.get("allowed_mime_types"),
        now,
        now,
    )
    return shapes.json_response({"name": bucket_id})


async def _update_bucket(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    state = ctx.state
    bucket = _bucket(state, request.match_info["bucket"])
    fields = _bucket_fields(state, await _body_json(ctx), bucket)
    for key, value in fields.items():
        setattr(bucket, key, value)
    bucket.updated_at = state.iso_now()
    return shapes.json_response({"message": "Successfully updated"})


async def _empty_bucket(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    state = ctx.state
    bucket = _bucket(state, request.match_info["bucket"])
    for key in [k for k in state.objects if k[0] == bucket.id]:
        await state.blobs.delete(state.objects.pop(key).blob)
    return shapes.json_response({"message": "Successfully emptied"})


async def _delete_bucket(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    state = ctx.state
    bucket = _bucket(state, request.match_info["bucket"])
    if any(k[0] == bucket.id for k in state.objects):
        raise ObjectError.make(
            state,
            409,
            "InvalidRequest",
            "InvalidBucketState",
            "The bucket you tried to delete is not empty",
        )
    del state.buckets[bucket.id]
    return shapes.json_response({"message": "Successfully deleted"})


# -- objects -----------------------------------------------------------------------------
async def _put_object(request: web.Request) -> web.StreamResponse:
    """POST (create, ``x-upsert``) or PUT (update) an object, multipart or raw body."""
    ctx = ctx_of(request)
    check_auth(request, ctx)
    upsert = request.headers.get("x-upsert", "").lower() == "true"
    return await _write_object(request, ctx, create=request.method == "POST", upsert=upsert)


async def _write_object(
    request: web.Request, ctx: RequestContext, *, create: bool, upsert: bool
) -> web.StreamResponse:
    state = ctx.state
    bucket = _bucket(state, request.match_info["bucket"])
    name = check_object_name(state, request.match_info["path"])
    ctx.rec.object_id = f"{bucket.id}/{name}"
    ctx.rec.filename = name.rsplit("/", 1)[-1]
    existing = state.objects.get((bucket.id, name))
    if create:
        if existing is not None and not upsert:
            raise ObjectError.duplicate(state)
    elif existing is None:
        raise ObjectError.no_such_key(state)
    limit = object_limit(state, bucket)
    cache_control = request.headers.get("cache-control", "no-cache")
    if cache_control.startswith("max-age="):
        cache_control = cache_control[len("max-age=") :]
    metadata = decode_metadata_header(state, request.headers.get("x-metadata"))
    if request.content_type == "multipart/form-data":
        blob, mime, cache_control, metadata = await _read_multipart(
            ctx, request, bucket, limit, cache_control, metadata
        )
    else:
        mime = request.content_type or "application/octet-stream"
        check_mime(state, bucket, mime)
        # a known oversize body is refused before a byte is read
        if request.content_length is not None and request.content_length > limit:
            raise ObjectError.too_large(state)
        writer = state.blobs.writer(limit)
        try:
            async for chunk in ctx.body.chunks():
                await writer.write(chunk)
        except BodyTooLarge:
            await writer.discard()
            raise ObjectError.too_large(state) from None
        except BaseException:
            await writer.discard()
            raise
        blob = await writer.finish()
    ctx.rec.content_hash = blob.content_hash
    ctx.rec.content_bytes = blob.size
    obj = await store_object(state, bucket.id, name, blob, mime, cache_control, metadata)
    return shapes.json_response({"Key": f"{bucket.id}/{name}", "Id": obj.id})


# -- signed URLs -------------------------------------------------------------------------
def _signed_path(kind: str, bucket: str, name: str, token: str) -> str:
    return f"/object/{kind}/{bucket}/{quote(name)}?token={token}"


async def _sign_upload(request: web.Request) -> web.StreamResponse:
    """``POST object/upload/sign/{bucket}/{path}``: a token for one later upload."""
    ctx = ctx_of(request)
    check_auth(request, ctx)
    state = ctx.state
    bucket = _bucket(state, request.match_info["bucket"])
    name = check_object_name(state, request.match_info["path"])
    token = state.new_hex()
    upsert = request.headers.get("x-upsert", "").lower() == "true"
    state.tokens[token] = ("upload", bucket.id, name, upsert)
    return shapes.json_response(
        {"url": _signed_path("upload/sign", bucket.id, name, token), "token": token}
    )


def _check_token(request: web.Request, ctx: RequestContext, kind: str) -> bool:
    """The token's upsert flag; InvalidSignature unless it was issued for this object."""
    state = ctx.state
    entry = state.tokens.get(request.query.get("token", ""))
    wanted = (kind, request.match_info["bucket"], request.match_info["path"])
    if entry is None or entry[:3] != wanted:
        raise ObjectError.make(
            state, 400, "InvalidSignature", "InvalidSignature", "invalid signature"
        )
    return entry[3]


async def _signed_upload(request: web.Request) -> web.StreamResponse:
    """``PUT object/upload/sign/{bucket}/{path}?token=``: the token is the credential."""
    ctx = ctx_of(request)
    upsert = _check_token(request, ctx, "upload")
    return await _write_object(request, ctx, create=True, upsert=upsert)


async def _sign_download(request: web.Request) -> web.StreamResponse:
    """``POST object/sign/{bucket}/{path}`` -> ``{"signedURL": ...}`` (expiry not enforced)."""
    ctx, obj = _object(request)
    token = ctx.state.new_hex()
    ctx.state.tokens[token] = ("sign", obj.bucket, obj.name, False)
    return shapes.json_response({"signedURL": _signed_path("sign", obj.bucket, obj.name, token)})


async def _signed_download(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    _check_token(request, ctx, "sign")
    obj = ctx.state.objects.get((request.match_info["bucket"], request.match_info["path"]))
    if obj is None:
        raise ObjectError.no_such_key(ctx.state)
    return await _send_object(ctx, obj, request.method == "HEAD")


async def store_object(
    state: MockState,
    bucket: str,
    name: str,
    blob: Blob,
    mime: str,
    cache_control: str,
    metadata: dict[str, Any] | None,
) -> StoredObject:
    """Create or replace an object (the old content is dropped)."""
    now = state.iso_now()
    old = state.objects.get((bucket, name))
    obj = StoredObject(
        bucket,
        name,
        old.id if old else state.new_uuid(),
        blob,
        mime,
        cache_control,
        metadata,
        old.created_at if old else now,
        now,
    )
    state.objects[(bucket, name)] = obj
    if old is not None and old.blob is not blob:
        await state.blobs.delete(old.blob)
    return obj


async def _read_multipart(
    ctx: RequestContext,
    request: web.Request,
    bucket: Bucket,
    limit: int,
    cache_control: str,
    metadata: dict[str, Any] | None,
) -> tuple[Blob, str, str, dict[str, Any] | None]:
    state = ctx.state
    try:
        reader = MultipartReader(request.headers, ctx.body)  # type: ignore[arg-type]
    except MALFORMED:
        raise ObjectError.invalid(state, "malformed multipart Content-Type") from None
    blob: Blob | None = None
    mime = "text/plain;charset=UTF-8"
    form_mime: str | None = None
    fields = 0
    try:
        while True:
            part = await reader.next()
            if part is None:
                break
            if isinstance(part, MultipartReader):
                raise ObjectError.invalid(state, "nested multipart is not supported")
            if part.filename is not None or part.name == "file":
                if blob is not None:
                    raise ObjectError.invalid(state, "only one file may be uploaded")
                mime = part.headers.get("Content-Type", mime)
                check_mime(state, bucket, mime)
                writer = state.blobs.writer(limit)
                try:
                    await stream_part(part, writer)
                except BodyTooLarge:
                    raise ObjectError.too_large(state) from None
                blob = await writer.finish()
                continue
            fields += 1
            if fields > _MAX_FIELDS:
                raise ObjectError.invalid(state, f"more than {_MAX_FIELDS} form fields")
            value = await read_small_part(part, _FIELD_LIMIT)
            if value is None:
                raise ObjectError.invalid(state, f"form field {part.name!r} is too long")
            text = value.decode("utf-8", "replace")
            if part.name == "cacheControl":
                cache_control = text
            elif part.name == "contentType":
                form_mime = text
            elif part.name in ("metadata", "userMetadata"):
                try:
                    parsed = json.loads(text)
                except ValueError:
                    raise ObjectError.invalid(state, "metadata must be a JSON object") from None
                if not isinstance(parsed, dict):
                    raise ObjectError.invalid(state, "metadata must be a JSON object")
                metadata = parsed
        # Read to the end of the request (an epilogue, or a cut inside the closing
        # boundary): an upload counts only once its whole body has arrived.
        await ctx.body.drain()
    except MALFORMED:
        await state.blobs.delete(blob)
        raise ObjectError.invalid(state, "malformed multipart body") from None
    except BaseException:
        await state.blobs.delete(blob)
        raise
    if blob is None:
        raise ObjectError.invalid(state, "the multipart body has no file part")
    if form_mime:
        mime = form_mime
    return blob, mime, cache_control, metadata


def _object(request: web.Request) -> tuple[RequestContext, StoredObject]:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    state = ctx.state
    bucket = _bucket(state, request.match_info["bucket"])
    name = check_object_name(state, request.match_info["path"])
    obj = state.objects.get((bucket.id, name))
    ctx.rec.object_id = f"{bucket.id}/{name}"
    if obj is None:
        raise ObjectError.no_such_key(state)
    return ctx, obj


async def _get_object(request: web.Request) -> web.StreamResponse:
    ctx, obj = _object(request)
    return await _send_object(ctx, obj, request.method == "HEAD")


async def _send_object(ctx: RequestContext, obj: StoredObject, head: bool) -> web.StreamResponse:
    headers = {
        "ETag": f'"{obj.blob.content_hash}"',
        "Cache-Control": f"max-age={obj.cache_control}",
        "Content-Type": obj.content_type,
    }
    if head:
        headers["Content-Length"] = str(obj.blob.size)
        return web.Response(status=200, headers=headers)
    if obj.blob.path is None:
        raise ObjectError.make(
            ctx.state,
            501,
            "NotImplemented",
            "NotImplemented",
            "the mock keeps only hashes; start it with store='disk:DIR' to download",
        )
    return web.FileResponse(obj.blob.path, headers=headers)


async def _object_info(request: web.Request) -> web.StreamResponse:
    _, obj = _object(request)
    return shapes.json_response(_info_json(obj))


def _info_json(obj: StoredObject) -> dict[str, Any]:
    return {
        "id": obj.id,
        "name": obj.name,
        "version": obj.id,
        "bucket_id": obj.bucket,
        "size": obj.blob.size,
        "content_type": obj.content_type,
        "cache_control": obj.cache_control,
        "etag": f'"{obj.blob.content_hash}"',
        "metadata": obj.metadata,
        "last_modified": obj.updated_at,
        "created_at": obj.created_at,
    }


def _list_entry(obj: StoredObject, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": obj.id,
        "updated_at": obj.updated_at,
        "created_at": obj.created_at,
        "last_accessed_at": obj.updated_at,
        "metadata": obj.file_metadata(),
    }


def _folder_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": None,
        "updated_at": None,
        "created_at": None,
        "last_accessed_at": None,
        "metadata": None,
    }


async def _list_objects(request: web.Request) -> web.StreamResponse:
    """``POST object/list/{bucket}``: one folder level under ``prefix``, folders first."""
    ctx = ctx_of(request)
    check_auth(request, ctx)
    state = ctx.state
    bucket = _bucket(state, request.match_info["bucket"])
    doc = await _body_json(ctx) or {}
    if not isinstance(doc, dict):
        raise ObjectError.invalid(state, "body must be a JSON object")
    prefix = str(doc.get("prefix") or "").strip("/")
    search = str(doc.get("search") or "")
    try:
        limit = int(doc.get("limit", 100))
        offset = int(doc.get("offset", 0))
    except (TypeError, ValueError, OverflowError):  # JSON's 1e999 is a float infinity
        raise ObjectError.invalid(state, "limit and offset must be integers") from None
    if limit < 0 or offset < 0:
        raise ObjectError.invalid(state, "limit and offset must not be negative")
    sort = doc.get("sortBy") or {}
    column = sort.get("column", "name") if isinstance(sort, dict) else "name"
    descending = isinstance(sort, dict) and str(sort.get("order", "asc")).lower() == "desc"
    folders: set[str] = set()
    files: list[dict[str, Any]] = []
    lead = prefix + "/" if prefix else ""
    for (b, name), obj in state.objects.items():
        if b != bucket.id or not name.startswith(lead):
            continue
        rest = name[len(lead) :]
        head, sep, _ = rest.partition("/")
        if search and search not in head:
            continue
        if sep:
            folders.add(head)
        else:
            files.append(_list_entry(obj, head))
    key = column if column in ("name", "updated_at", "created_at") else "name"
    files.sort(key=lambda e: str(e.get(key) or ""), reverse=descending)
    entries = [_folder_entry(f) for f in sorted(folders, reverse=descending)] + files
    return shapes.json_response(entries[offset : offset + limit])


async def _remove_objects(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    state = ctx.state
    bucket = _bucket(state, request.match_info["bucket"])
    doc = await _body_json(ctx)
    prefixes = doc.get("prefixes") if isinstance(doc, dict) else None
    if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
        raise ObjectError.invalid(state, "prefixes must be a list of object names")
    removed = []
    for name in prefixes:
        obj = state.objects.pop((bucket.id, name), None)
        if obj is not None:
            await state.blobs.delete(obj.blob)
            removed.append(_info_json(obj))
    return shapes.json_response(removed)


async def _move_or_copy(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    state = ctx.state
    doc = await _body_json(ctx)
    if not isinstance(doc, dict):
        raise ObjectError.invalid(state, "body must be a JSON object")
    bucket = _bucket(state, str(doc.get("bucketId", "")))
    source = check_object_name(state, str(doc.get("sourceKey", "")))
    dest = check_object_name(state, str(doc.get("destinationKey", "")))
    dest_bucket = _bucket(state, str(doc.get("destinationBucket") or bucket.id))
    obj = state.objects.get((bucket.id, source))
    if obj is None:
        raise ObjectError.no_such_key(state)
    if (dest_bucket.id, dest) in state.objects:
        raise ObjectError.duplicate(state)
    copying = request.path.endswith("/copy")
    blob = await state.blobs.copy(obj.blob) if copying else obj.blob
    new = await store_object(
        state, dest_bucket.id, dest, blob, obj.content_type, obj.cache_control, obj.metadata
    )
    if copying:
        return shapes.json_response({"Key": f"{dest_bucket.id}/{dest}", "Id": new.id})
    del state.objects[(bucket.id, source)]
    return shapes.json_response({"message": "Successfully moved"})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AddRoute = Callable[[str, str, str, Handler], None]


def add_storage_routes(add: AddRoute) -> None:
    """Register the Storage routes; specific paths first (the router matches in order)."""
    s = "supabase"
    add(s, "GET", "storage/v1/bucket", _list_buckets)
    add(s, "POST", "storage/v1/bucket", _create_bucket)
    add(s, "GET", "storage/v1/bucket/{bucket}", _get_bucket)
    add(s, "PUT", "storage/v1/bucket/{bucket}", _update_bucket)
    add(s, "DELETE", "storage/v1/bucket/{bucket}", _delete_bucket)
    add(s, "POST", "storage/v1/bucket/{bucket}/empty", _empty_bucket)
    add(s, "POST", "storage/v1/object/list/{bucket}", _list_objects)
    add(s, "POST", "storage/v1/object/move", _move_or_copy)
    add(s, "POST", "storage/v1/object/copy", _move_or_copy)
    add(s, "POST", "storage/v1/object/upload/sign/{bucket}/{path:.+}", _sign_upload)
    add(s, "PUT", "storage/v1/object/upload/sign/{bucket}/{path:.+}", _signed_upload)
    add(s, "POST", "storage/v1/object/sign/{bucket}/{path:.+}", _sign_download)
    add(s, "GET", "storage/v1/object/sign/{bucket}/{path:.+}", _signed_download)
    add(s, "GET", "storage/v1/object/info/{bucket}/{path:.+}", _object_info)
    add(s, "GET", "storage/v1/object/authenticated/{bucket}/{path:.+}", _get_object)
    add(s, "POST", "storage/v1/object/{bucket}/{path:.+}", _put_object)
    add(s, "PUT", "storage/v1/object/{bucket}/{path:.+}", _put_object)
    add(s, "GET", "storage/v1/object/{bucket}/{path:.+}", _get_object)
    add(s, "HEAD", "storage/v1/object/{bucket}/{path:.+}", _get_object)
    add(s, "DELETE", "storage/v1/object/{bucket}", _remove_objects)
