"""Heap peaks under pytest-memray (``pytest --memray``): the reference streams a 256 MiB
file in bounded memory; the sync baseline's peak is recorded beside it for comparison.

Both tests allocate nothing big outside the uploader: the file is written in 1 MiB blocks
and the mock keeps only digests.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Iterator

import httpx
import pytest
import xxhash

from harness.mockprovider import MockConfig, MockServer
from harness.mockprovider.tls import make_tls
from uploader.api import LocalFile, Settings, Target
from uploader.reference import ReferenceUploader
from uploader.sync_baseline import SyncBaselineUploader

KEY = "sk-test"
MIB = 1024 * 1024
SIZE = 256 * MIB


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> LocalFile:
    """256 MiB of incompressible content, written in 1 MiB blocks (no big allocation)."""
    path = tmp_path_factory.mktemp("big") / "big-256mib.bin"
    block = os.urandom(MIB)
    digest = xxhash.xxh3_128()
    with path.open("wb") as f:
        for i in range(SIZE // MIB):
            chunk = i.to_bytes(8, "big") + block[8:]  # every block differs
            digest.update(chunk)
            f.write(chunk)
    return LocalFile(path, SIZE, digest.hexdigest())


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer.in_thread(MockConfig(keys=(KEY,)), port=0) as srv:
        yield srv


def supabase(srv: MockServer) -> Target:
    """A fresh Supabase target: the mock forgets objects of the previous test."""
    httpx.post(f"{srv.url}/__mock/reset", timeout=30).raise_for_status()
    return Target("supabase", srv.url + "/supabase", KEY, record_metadata=False)


@pytest.mark.slow
@pytest.mark.limit_memory("16 MB")
def test_reference_streams_256_mib_in_bounded_memory(
    server: MockServer, big_file: LocalFile
) -> None:
    (outcome,) = asyncio.run(
        ReferenceUploader().upload_many([big_file], supabase(server), Settings())
    )
    assert outcome.outcome == "ok", outcome.error
    assert outcome.bytes_sent == SIZE


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MockServer, str]]:
    tls = make_tls("1.3")
    ca_file = str(tls.write_ca(tmp_path_factory.mktemp("ca") / "ca.pem"))
    with MockServer.in_thread(
        MockConfig(keys=(KEY,)), port=0, ssl_context=tls.server_context
    ) as srv:
        yield srv, ca_file


@pytest.mark.slow
@pytest.mark.limit_memory("16 MB")
def test_reference_streams_256_mib_over_tls_in_bounded_memory(
    tls_server: tuple[MockServer, str], big_file: LocalFile
) -> None:
    """Over TLS 1.3 too (issue 16): the page-cache reads, the SSL transport's buffers and
    the mock's decryption (in this process) stay within the same 16 MB."""
    srv, ca_file = tls_server
    verify = ssl.create_default_context(cafile=ca_file)
    httpx.post(f"{srv.url}/__mock/reset", timeout=30, verify=verify).raise_for_status()
    target = Target("supabase", srv.url + "/supabase", KEY, record_metadata=False, ca_file=ca_file)
    settings = Settings(tus_threshold_bytes=1 << 30)  # one raw-body request, like curl's
    (outcome,) = asyncio.run(ReferenceUploader().upload_many([big_file], target, settings))
    assert outcome.outcome == "ok", outcome.error
    assert outcome.bytes_sent == SIZE


@pytest.mark.slow
@pytest.mark.limit_memory("1 GB")
def test_sync_baseline_holds_the_whole_file(server: MockServer, big_file: LocalFile) -> None:
    """Recorded for comparison (pytest-memray prints the peak with --memray): about three
    times the file, the whole-file read plus the copy httpx/h11 make of the request body
    (760 MiB for 256 MiB when measured)."""
    (outcome,) = SyncBaselineUploader().upload_many([big_file], supabase(server), Settings())
    assert outcome.outcome == "ok", outcome.error
