"""The unit suite is socket-free, and kept so: every test here runs with network sockets
blocked (pytest-socket, as urllib3 does for its unit tests). Unix sockets stay allowed because
asyncio's event loop wakes itself through a socketpair. A test that needs a server belongs in
``tests/server/`` or ``tests/e2e/``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_socket


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    pytest_socket.disable_socket(allow_unix_socket=True)
    try:
        yield
    finally:
        pytest_socket.enable_socket()
