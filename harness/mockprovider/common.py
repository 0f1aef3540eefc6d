"""Small helpers every provider module uses: auth, multipart parsing errors, JSON bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from harness.mockprovider import shapes
from harness.mockprovider.body import BlobWriter
from harness.mockprovider.state import RequestContext

__all__ = [
    "MALFORMED",
    "READ_CHUNK",
    "check_auth",
    "read_json",
    "read_small_part",
    "stream_part",
]

# Big reads keep per-chunk Python overhead negligible next to the hash (xxh3 ~10 GB/s).
READ_CHUNK = 1024 * 1024

# What aiohttp's multipart parser raises on malformed input (never a 500 for these).
MALFORMED: tuple[type[BaseException], ...] = (
    ValueError,
    AssertionError,
    KeyError,
    HttpProcessingError,
)


def check_auth(request: web.Request, ctx: RequestContext) -> None:
    """Accept any configured key as ``Authorization: Bearer KEY`` (Supabase: also ``apikey``);
    otherwise raise the provider's 401-style error."""
    keys = ctx.state.config.keys
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip() in keys:
        return
    if ctx.provider == "supabase" and request.headers.get("apikey", "") in keys:
        return
    raise shapes.ProviderError(
        shapes.unauthorized(ctx.api, ctx.state.config.supabase_legacy_status)
    )


async def read_small_part(part: BodyPartReader, limit: int) -> bytes | None:
    """A form field's value, or ``None`` if it is longer than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await part.read_chunk(max(limit + 1, 8192))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


async def stream_part(part: BodyPartReader, writer: BlobWriter) -> None:
    """Stream a file part into ``writer``; on any failure the partial content is dropped."""
    try:
        while True:
            chunk = await part.read_chunk(READ_CHUNK)
            if not chunk:
                break
            await writer.write(chunk)
    except BaseException:
        await writer.discard()
        raise


async def read_json(ctx: RequestContext, limit: int, bad: Callable[[str], web.Response]) -> Any:
    """A small JSON request body (bucket and list requests, rows); errors via ``bad``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in ctx.body.chunks():
        size += len(chunk)
        if size > limit:
            raise shapes.ProviderError(bad(f"request body larger than {limit} bytes"))
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise shapes.ProviderError(bad(f"body is not valid JSON: {exc.msg}")) from None
    except UnicodeDecodeError as exc:
        raise shapes.ProviderError(bad(f"body is not valid JSON: {exc.reason}")) from None
