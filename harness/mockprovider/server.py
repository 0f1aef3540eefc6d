"""Run the mock: in the current loop (:class:`MockServer`) or in a thread of its own
(:meth:`MockServer.in_thread`). Ready when the context manager's enter returns."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from harness.errors import HarnessError
from harness.mockprovider.app import create_app, state_of
from harness.mockprovider.config import MockConfig
from harness.mockprovider.state import MockState

__all__ = ["MockServer"]

# Long enough for an in-flight response to finish, short enough that stopping a server
# with stalled or hanging requests (faults) does not hold a test up.
_SHUTDOWN_TIMEOUT_S = 1.0
# aiohttp reads 64 KiB at a time by default; bigger buffers mean fewer, larger chunks.
_READ_BUFSIZE = 1 << 20


class _HttpLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, but a request that is not valid HTTP (a control character in
    a header, a bad request line) is one warning line: aiohttp logs it as an error with a
    traceback, and bad input is the client's fault, never the mock's."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if level >= logging.ERROR and isinstance(exc, HttpProcessingError):
            detail = " ".join(str(exc).split())
            self.logger.warning("mock: refused a malformed HTTP request (%s): %s", exc.code, detail)
            return
        super().log(level, msg, *args, **kwargs)


class _CountingProtocol(asyncio.Protocol):
    """Wraps aiohttp's protocol to number connections as they are accepted."""

    def __init__(self, inner: asyncio.Protocol, state: MockState) -> None:
        self._inner = inner
        self._state = state

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Over TLS asyncio calls this once the handshake has completed: one handshake each.
        ident = self._state.connection_opened(self._inner)
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            self._state.stats.tls_handshake(ident, resumed=bool(tls.session_reused))
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)
        self._state.connection_closed(self._inner)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class _CountingSite(web.SockSite):
    def __init__(
        self,
        runner: web.AppRunner,
        sock: socket.socket,
        state: MockState,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, sock, backlog=1024, ssl_context=ssl_context)
        self._state = state

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        state = self._state
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _CountingProtocol(server(), state),
            sock=self._sock,
            backlog=self._backlog,
            ssl=self._ssl_context,
        )


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise HarnessError(f"mock: cannot resolve {host!r}: {exc}") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise HarnessError(f"mock: cannot bind {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


class MockServer:
    """The mock provider on ``config.host``; ``port=0`` picks a free port.

    ``async with MockServer(cfg) as srv:`` serves in the running loop; ``srv.url`` is the
    base URL, e.g. ``http://127.0.0.1:PORT`` (providers under ``/kimi/v1``,
    ``/glm/api/paas/v4`` and ``/supabase``). With ``ssl_context`` (e.g.
    :func:`harness.mockprovider.tls.make_tls`) it serves HTTPS and the URL is ``https://``.
    """

    def __init__(
        self,
        config: MockConfig,
        port: int = 0,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self._port = port
        self.ssl_context = ssl_context
        self._app_args: dict[str, Any] = {"clock": clock, "monotonic": monotonic, "sleep": sleep}
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if not self.port:
            raise HarnessError("mock: the server is not running")
        host = self.config.host
        scheme = "https" if self.ssl_context is not None else "http"
        return (
            f"{scheme}://[{host}]:{self.port}" if ":" in host else f"{scheme}://{host}:{self.port}"
        )

    @property
    def state(self) -> MockState:
        """The live state (stats, stored files), for in-process inspection."""
        if self._app is None:
            raise HarnessError("mock: the server is not running")
        return state_of(self._app)

    async def start(self) -> None:
        """Bind, start serving and return once the socket accepts connections."""
        sock = _bind(self.config.host, self._port)
        app = create_app(self.config, **self._app_args)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,  # a stall or hang ends when the client gives up
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
            read_bufsize=_READ_BUFSIZE,
            logger=_HttpLog(logging.getLogger("aiohttp.server")),
        )
        await runner.setup()
        try:
            await _CountingSite(runner, sock, state_of(app), self.ssl_context).start()
        except BaseException:
            await runner.cleanup()
            sock.close()
            raise
        self._runner, self._app = runner, app
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self.port = 0

    async def __aenter__(self) -> MockServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @classmethod
    @contextmanager
    def in_thread(cls, config: MockConfig, port: int = 0, **kwargs: Any) -> Iterator[MockServer]:
        """Serve from a background thread with its own loop (for sync clients)."""
        server = cls(config, port, **kwargs)
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []
        stop = asyncio.Event()

        async def main() -> None:
            try:
                await server.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                await stop.wait()
            finally:
                await server.stop()

        thread = threading.Thread(
            target=loop.run_until_complete, args=(main(),), name="uploadbench-mock", daemon=True
        )
        thread.start()
        ready.wait()
        try:
            if failure:
                raise failure[0]
            yield server
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join()
            loop.close()
