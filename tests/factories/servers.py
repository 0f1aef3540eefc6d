"""Small real servers for tests: a TCP echo server on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

__all__ = ["Echo", "echo_server"]


@dataclass
class Echo:
    """A TCP echo server that counts what it received."""

    port: int
    received: int = 0
    connections: int = 0
    server: asyncio.Server | None = field(default=None, repr=False)


@asynccontextmanager
async def echo_server() -> AsyncIterator[Echo]:
    """An echo server on 127.0.0.1, port 0, that counts connections and bytes received."""
    state = Echo(port=0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            while data := await reader.read(65536):
                state.received += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    state.server = server
    yield state
    server.close()
    await server.wait_closed()
