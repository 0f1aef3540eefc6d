"""Fixtures shared by every test folder: the mock provider, started on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from harness.mockprovider import MockConfig, MockServer

MOCK_KEY = "sk-test"

MockFactory = Callable[..., AbstractAsyncContextManager[MockServer]]


@pytest.fixture
def make_mock_server() -> MockFactory:
    """``async with make_mock_server(faults=[...], store="disk:...") as srv:``; keyword
    arguments override :class:`MockConfig` fields (the key defaults to ``sk-test``)."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[MockServer]:
        config = MockConfig(**{"keys": (MOCK_KEY,), **overrides})
        async with MockServer(config, port=0) as server:
            yield server

    return make


@pytest.fixture
async def mock_server() -> AsyncIterator[MockServer]:
    """A fresh mock in the test's event loop, key ``sk-test``."""
    async with MockServer(MockConfig(keys=(MOCK_KEY,)), port=0) as server:
        yield server


@pytest.fixture
def mock_server_thread() -> Iterator[MockServer]:
    """A fresh mock in a background thread (for sync clients), key ``sk-test``."""
    with MockServer.in_thread(MockConfig(keys=(MOCK_KEY,)), port=0) as server:
        yield server
