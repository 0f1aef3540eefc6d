"""The aiohttp application: routes of the three providers and ``/__mock/``, plus the one
middleware that records every request and applies the HTTP-level faults."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import select
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from harness.mockprovider import control, files_api, rest, shapes, storage, tus
from harness.mockprovider.body import BodyCut, BodyGate, BodyStream
from harness.mockprovider.config import MockConfig
from harness.mockprovider.faults import MAX_STALL_S, FaultSpec, Selection, default_rate_limit_style
from harness.mockprovider.state import CTX_KEY, STATE_KEY, MockState, RequestContext
from harness.mockprovider.stats import RequestRecord
from harness.rig.layout import PROVIDER_PATHS

__all__ = ["PREFIXES", "create_app", "state_of"]

log = logging.getLogger("uploadbench.mock")

# Where each provider lives (the one table, shared with the runner); clients use base URL +
# prefix unchanged.
PREFIXES: dict[str, str] = PROVIDER_PATHS

# Storage bodies can be large; aiohttp's 1 MiB default would 413 anything read whole, and we
# never read bodies whole (see body.py), so the cap only guards request.read()/post().
_CLIENT_MAX_SIZE = 1 << 62

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def state_of(app: web.Application) -> MockState:
    """The :class:`MockState` behind an app made by :func:`create_app`."""
    state = app[STATE_KEY]
    assert isinstance(state, MockState)
    return state


def _provider_of(path: str) -> tuple[str, str]:
    for provider, prefix in PREFIXES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return provider, path[len(prefix) :]
    return "mock", path


_REGEX_PART = re.compile(r"\{(\w+):[^}]*\}")


def _display(method: str, template: str) -> str:
    """``POST object/{bucket}/{path:.+}`` -> ``POST object/{bucket}/{path}``."""
    return method + " " + _REGEX_PART.sub(r"{\1}", template)


def _early_names(
    state: MockState, provider: str, info: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """``(object_id, filename)`` as far as the URL names them, so a request refused before
    its body is read (a fault, a bad key) can still be told apart; handlers overwrite both
    once they know more. A Kimi/GLM upload names its file only inside the body."""
    if "bucket" in info and "path" in info:
        path = info["path"]
        return f"{info['bucket']}/{path}", path.rsplit("/", 1)[-1]
    if "file_id" in info:
        entry = state.files.get(provider, {}).get(info["file_id"])
        return info["file_id"], entry.filename if entry is not None else None
    if "upload_id" in info:
        upload = state.tus.get(info["upload_id"])
        if upload is not None:
            return f"{upload.bucket}/{upload.name}", upload.name.rsplit("/", 1)[-1]
    return None, None


def create_app(
    config: MockConfig,
    *,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> web.Application:
    """Build the mock provider app. ``clock`` stamps created_at fields, ``monotonic`` times
    requests, ``sleep`` is used by the latency, slow_read, stall and hang faults."""
    state = MockState(config, clock=clock, monotonic=monotonic, sleep=sleep)
    app = web.Application(middlewares=[_observe], client_max_size=_CLIENT_MAX_SIZE)
    app[STATE_KEY] = state

    def add(provider: str, method: str, template: str, handler: Handler) -> None:
        path = PREFIXES[provider] + "/" + template.lstrip("/")
        route = app.router.add_route(method, path, handler)
        state.route_templates[route] = _display(method, template)

    files_api.add_files_routes(add, files_api.KIMI)
    files_api.add_files_routes(add, files_api.GLM)
    storage.add_storage_routes(add)
    tus.add_tus_routes(add)
    rest.add_rest_routes(add)
    control.add_control_routes(app)
    app.on_startup.append(_prepare)
    return app


async def _prepare(app: web.Application) -> None:
    await state_of(app).blobs.prepare()


def _gate(sel: Selection, ctx: RequestContext, request: web.Request) -> BodyGate | None:
    if sel.slow_read is None and sel.cut is None:
        return None
    state = ctx.state
    rec = ctx.rec
    cut_at = None
    mode = "rst"
    stall_s = None
    if sel.cut is not None:
        spec = sel.cut[1]
        if spec.type == "stall":
            cut_at = spec.after_bytes or 0
            stall_s = spec.stall_s
            mode = "fin"
        else:
            mode = spec.mode
            if spec.after_bytes is not None:
                cut_at = spec.after_bytes
            else:
                length = request.content_length or 0
                cut_at = int(length * (spec.after_pct or 0.0) / 100.0)

    def applied(item: tuple[int, FaultSpec] | None) -> Callable[[], None]:
        def note() -> None:
            if item is not None:
                state.plan.mark_applied(item[0])
                rec.add_fault(item[1].type)

        return note

    return BodyGate(
        bytes_per_s=sel.slow_read[1].bytes_per_s if sel.slow_read else None,
        cut_at=cut_at,
        cut_mode=mode,
        stall_s=stall_s,
        clock=state.monotonic,
        sleep=state.sleep,
        on_throttle=applied(sel.slow_read),
        on_cut=applied(sel.cut),
        peer_gone=lambda: _peer_gone(request.transport),
    )


# FIN (Linux: RDHUP, seen even with unread bytes buffered), or RST / both ways shut
_HANGUP = getattr(select, "POLLRDHUP", 0) | select.POLLHUP | select.POLLERR


def _peer_gone(transport: asyncio.BaseTransport | None) -> bool:
    """Whether the client closed or reset the connection, asked of the socket itself: a
    stalled request reads nothing, so the loop would not notice (no ``connection_lost``)."""
    if transport is None or transport.is_closing():
        return True
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    try:
        poller = select.poll()
        poller.register(sock.fileno(), _HANGUP)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # already closed: fileno() is -1
        return True


def _close(request: web.Request, mode: str) -> None:
    """Cut the connection: ``fin`` closes it, ``rst`` resets it (SO_LINGER 0, then close)."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return
    if mode == "rst":
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        # FIN first, so the client reads an orderly end of stream; the close that follows
        # may still answer unread request bytes with RST, as any server's would
        if transport.can_write_eof():
            with contextlib.suppress(OSError):
                transport.write_eof()
        transport.close()


def _reject(sel: Selection, ctx: RequestContext) -> web.Response:
    assert sel.reject is not None
    index, spec = sel.reject
    state = ctx.state
    state.plan.mark_applied(index)
    ctx.rec.add_fault(spec.type)
    legacy = state.config.supabase_legacy_status
    if spec.type == "http_error":
        return shapes.fault_error(ctx.api, spec.status, spec.body, spec.retry_after_s, legacy)
    style = spec.style or default_rate_limit_style(ctx.provider)
    limit = spec.max_in_flight if spec.type == "concurrency_cap" else None
    return shapes.rate_limited(ctx.api, style, spec.retry_after_s, limit)


@web.middleware
async def _observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if path.startswith("/__mock/"):
        return await handler(request)
    state = state_of(request.app)
    provider, route_path = _provider_of(path)
    method = request.method
    match_info = request.match_info
    template = (
        state.route_templates.get(match_info.route) if match_info.http_exception is None else None
    ) or f"{method} (unknown route)"
    started = state.monotonic()
    rec = RequestRecord(
        seq=state.stats.next_seq(),
        provider=provider,
        method=method,
        route=template,
        path=path,
        hash_algo=state.config.hash_algo,
        connection_id=state.connection_id(request.protocol),
        started_at=started,
    )
    state.stats.provider_request_on(rec.connection_id)
    if match_info.http_exception is None:
        rec.object_id, rec.filename = _early_names(state, provider, match_info)
    sel = state.plan.select(provider, method, route_path)

    def first_byte() -> None:
        rec.ttfb_s = state.monotonic() - started

    ctx = RequestContext(state, rec, BodyStream(request.content, None, first_byte), provider, "")
    ctx.api = shapes.sub_api(provider, route_path)
    gate = _gate(sel, ctx, request)
    ctx.body = BodyStream(request.content, gate, first_byte)
    request[CTX_KEY] = ctx
    legacy = state.config.supabase_legacy_status
    try:
        resp: web.StreamResponse | None = None
        try:
            if sel.reject is not None:
                resp = _reject(sel, ctx)
            elif match_info.http_exception is not None:
                status = 405 if match_info.http_exception.status == 405 else 404
                resp = shapes.unknown_route(ctx.api, method, route_path, legacy, status)
            else:
                try:
                    resp = await handler(request)
                except (BodyCut, ConnectionError, asyncio.CancelledError):
                    raise
                except Exception:
                    # A cut position drops the bytes past it, so a parser (multipart,
                    # JSON) can fail on the truncated body before it asks for more: the
                    # pending cut still happens, whatever the handler made of it.
                    if gate is not None and gate.cut_pending:
                        await gate.cut()
                    raise
                if gate is not None and gate.cut_pending:
                    await gate.cut()
        except shapes.ProviderError as err:
            resp = err.response
        except BodyCut as cut:
            _close(request, cut.mode)
            return web.Response(status=499)  # never sent: the transport is gone
        except web.HTTPException as exc:
            # aiohttp's own refusals (e.g. 413 from a body read whole) in provider shape
            resp = shapes.fault_error(ctx.api, exc.status, "provider", None, legacy)
        except (ConnectionError, asyncio.CancelledError):
            raise  # the client went away; nothing to answer
        except Exception as exc:
            # a bug in the mock, not the client's fault: say so in one line, still no 500 page
            log.error("mock handler failed on %s %s: %r", method, path, exc)
            resp = shapes.fault_error(ctx.api, 500, "provider", None, legacy)
        if sel.latency is not None:
            state.plan.mark_applied(sel.latency[0])
            rec.add_fault("latency")
            await state.sleep(sel.latency_s)
        if sel.drop is not None:
            state.plan.mark_applied(sel.drop[0])
            rec.add_fault("drop_response")
            mode = sel.drop[1].mode
            if mode == "hang":
                # the handler is cancelled when the client gives up (handler_cancellation)
                await state.sleep(MAX_STALL_S)
                mode = "fin"
            _close(request, mode)
            return web.Response(status=499)
        rec.status = resp.status
        return resp
    finally:
        state.plan.release(sel)
        rec.bytes = ctx.body.consumed
        rec.duration_s = state.monotonic() - started
        state.stats.add(rec)
