"""Memory gates under pytest-memray (``pytest --memray``, as ``nox -s tests`` runs).

``limit_memory`` fails a test when the bytes live at the heap high-water mark of the test
body reach the limit, counted over every thread of this process. The mock provider runs in
this process too, so each limit covers the client and the server together: the 64 MiB file
must cross both without either side holding it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from harness.fileset import materialize
from harness.mockprovider import MockConfig, MockServer
from harness.scenario import FilesSpec
from uploader.api import LocalFile, Settings, Target
from uploader.reference import ReferenceUploader

KEY = "sk-test"
MIB = 1024 * 1024
SIZE = 64 * MIB


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> LocalFile:
    cache = tmp_path_factory.mktemp("files")
    (file,) = materialize(FilesSpec(count=1, sizes=(SIZE,), content="random", seed=64), cache).files
    return file


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer.in_thread(MockConfig(keys=(KEY,)), port=0) as server:
        yield server


@pytest.mark.limit_memory("16 MB")
def test_reference_streams_64_mib_multipart_to_kimi(mock: MockServer, big_file: LocalFile) -> None:
    """Kimi takes multipart: the reference must stream the part, not build the body."""
    target = Target("kimi", mock.url + "/kimi/v1", KEY, record_metadata=False)
    (outcome,) = asyncio.run(ReferenceUploader().upload_many([big_file], target, Settings()))
    assert outcome.outcome == "ok", outcome.error
    assert outcome.size == SIZE


@pytest.mark.limit_memory("8 MB")
async def test_mock_receives_64_mib_raw_body_without_holding_it(
    tmp_path: Path, big_file: LocalFile
) -> None:
    """The mock's raw-body path (Supabase Storage upload) counts and hashes as it reads.
    The client streams the file from disk in aiohttp's 64 KiB reads, in the same loop."""
    config = MockConfig(keys=(KEY,))
    async with MockServer(config, port=0) as server:
        url = f"{server.url}/supabase/storage/v1/object/uploads/limits/big.bin"
        headers = {
            "Authorization": f"Bearer {KEY}",
            "apikey": KEY,
            "Content-Type": "application/octet-stream",
            "Content-Length": str(SIZE),
        }
        async with aiohttp.ClientSession() as session:
            with big_file.path.open("rb") as body:
                async with session.post(url, data=body, headers=headers) as response:
                    assert response.status == 200, await response.text()
            async with session.get(f"{server.url}/__mock/stats") as response:
                stats = await response.json()
    uploads = [
        (r["content_bytes"], r["content_hash"]) for r in stats["requests"] if r["content_bytes"]
    ]
    assert uploads == [(SIZE, big_file.content_hash)]
