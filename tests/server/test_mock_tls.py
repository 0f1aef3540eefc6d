"""The mock over TLS: the official clients upload to it trusting the per-start CA, the
pinned version is the one negotiated, a client without the CA fails (no insecure mode),
handshakes are counted, and every built-in variant works through ``Target.ca_file``."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import xxhash
from supabase import create_client
from supabase.lib.client_options import SyncClientOptions

from harness.mockprovider import MockConfig, MockServer
from harness.mockprovider.tls import MockTls, make_tls
from harness.rig.process import ServerProcess
from harness.rig.servers import MockRig
from uploader import LocalFile, Settings, Target
from uploader.command import CommandUploader
from uploader.naive import NaiveAsyncUploader
from uploader.reference import ReferenceUploader
from uploader.sync_baseline import SyncBaselineUploader

KEY = "sk-test"
ROOT = Path(__file__).resolve().parents[2]


class TlsMock:
    """A TLS mock in a thread and the path of the CA certificate its clients trust."""

    def __init__(self, server: MockServer, tls: MockTls, ca_file: Path) -> None:
        self.server, self.tls, self.ca_file = server, tls, ca_file
        self.url = server.url

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def reset(self) -> None:
        httpx.post(self.url + "/__mock/reset", verify=self.context()).raise_for_status()

    def totals(self) -> dict[str, int]:
        with httpx.Client(verify=self.context()) as client:
            return client.get(self.url + "/__mock/stats").json()["totals"]  # type: ignore[no-any-return]


def _tls_mock(tmp_path: Path, version: str) -> Iterator[TlsMock]:
    tls = make_tls(version)
    ca_file = tls.write_ca(tmp_path / f"ca-{version}.pem")
    config = MockConfig(keys=(KEY,), store=f"disk:{tmp_path / 'store'}")
    with MockServer.in_thread(config, ssl_context=tls.server_context) as server:
        yield TlsMock(server, tls, ca_file)


@pytest.fixture
def tls_mock(tmp_path: Path) -> Iterator[TlsMock]:
    """A TLS 1.3 mock in a background thread, key ``sk-test``, store on disk."""
    yield from _tls_mock(tmp_path, "1.3")


@pytest.fixture(params=["1.2", "1.3"])
def pinned_mock(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TlsMock]:
    yield from _tls_mock(tmp_path, request.param)


def test_openai_client_uploads_to_kimi_over_tls(tls_mock: TlsMock, tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"uploadbench over tls " * 1000)
    assert tls_mock.url.startswith("https://127.0.0.1:")
    with (
        httpx.Client(verify=tls_mock.context()) as http,
        openai.OpenAI(
            base_url=tls_mock.url + "/kimi/v1", api_key=KEY, http_client=http, max_retries=0
        ) as client,
        path.open("rb") as fh,
    ):
        created = client.files.create(file=fh, purpose="file-extract")
    assert created.bytes == path.stat().st_size
    assert created.status == "ok"
    totals = tls_mock.totals()
    assert totals["provider_handshakes"] == 1
    assert totals["tls_handshakes"] == 2  # the upload's and this stats call's


def test_openai_client_trusts_the_ca_through_ssl_cert_file(
    tls_mock: TlsMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what a plugin gets from the worker: $SSL_CERT_FILE, no code change at all
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_mock.ca_file))
    with openai.OpenAI(base_url=tls_mock.url + "/kimi/v1", api_key=KEY, max_retries=0) as client:
        created = client.files.create(file=("a.txt", b"hello tls"), purpose="file-extract")
    assert created.bytes == len(b"hello tls")


def test_supabase_client_uploads_to_storage_over_tls(tls_mock: TlsMock) -> None:
    content = bytes(range(256)) * 64
    with httpx.Client(verify=tls_mock.context()) as http:
        client = create_client(
            tls_mock.url + "/supabase", KEY, options=SyncClientOptions(httpx_client=http)
        )
        bucket = client.storage.from_("uploads")
        result = bucket.upload("tls/photo.bin", content, {"content-type": "image/png"})
        assert result.full_path == "uploads/tls/photo.bin"
        assert bucket.download("tls/photo.bin") == content
        client.table("file_uploads").insert({"name": "photo.bin", "size": len(content)}).execute()
    with httpx.Client(verify=tls_mock.context()) as http:
        records = http.get(tls_mock.url + "/__mock/stats").json()["requests"]
    upload = next(r for r in records if r["object_id"] == "uploads/tls/photo.bin")
    assert upload["content_hash"] == xxhash.xxh3_128(content).hexdigest()


def test_zhipuai_client_uploads_to_glm_over_tls(tls_mock: TlsMock) -> None:
    zhipuai = pytest.importorskip(
        "zhipuai", reason="zhipuai is not installed: nox -s tests installs it (noxfile.py ZHIPUAI)"
    )
    with httpx.Client(verify=tls_mock.context()) as http:
        client = zhipuai.ZhipuAI(
            api_key=KEY,
            base_url=tls_mock.url + "/glm/api/paas/v4",
            http_client=http,
            disable_token_cache=True,  # send the key as is, not a JWT made from "id.secret"
            max_retries=0,
        )
        created = client.files.create(file=("b.jsonl", b'{"a": 1}\n'), purpose="batch")
    assert created.bytes == len(b'{"a": 1}\n')


def test_pinned_version_is_negotiated(pinned_mock: TlsMock) -> None:
    port = int(pinned_mock.url.rsplit(":", 1)[1])
    context = pinned_mock.context()  # allows 1.2 and 1.3: the server chooses
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == f"TLSv{pinned_mock.tls.version}"


def test_localhost_name_is_valid_too(tls_mock: TlsMock) -> None:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo("localhost", None)}
    except OSError:
        addresses = set()
    if "127.0.0.1" not in addresses:
        pytest.skip("localhost does not resolve to 127.0.0.1 here")
    url = tls_mock.url.replace("127.0.0.1", "localhost")
    with httpx.Client(verify=tls_mock.context()) as http:
        assert http.get(url + "/__mock/health").json() == {"status": "ok"}


def test_a_client_without_the_ca_fails_with_a_certificate_error(tls_mock: TlsMock) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(tls_mock.url + "/__mock/health")
    with (
        openai.OpenAI(base_url=tls_mock.url + "/kimi/v1", api_key=KEY, max_retries=0) as client,
        pytest.raises(openai.APIConnectionError),
    ):
        client.files.list()
    assert tls_mock.totals()["provider_connections"] == 0


def test_two_connections_are_two_handshakes(tls_mock: TlsMock) -> None:
    for _ in range(2):  # a client each: a connection and a handshake each
        with httpx.Client(verify=tls_mock.context()) as http:
            for _ in range(3):  # kept alive: no new handshake
                resp = http.get(
                    tls_mock.url + "/kimi/v1/files", headers={"Authorization": f"Bearer {KEY}"}
                )
                assert resp.status_code == 200
    totals = tls_mock.totals()
    assert totals["requests"] == 6
    assert totals["provider_connections"] == 2
    assert totals["provider_handshakes"] == 2
    assert totals["tls_handshakes"] == 3  # and the stats call's own


def _files(tmp_path: Path, n: int, size: int) -> list[LocalFile]:
    out = []
    for i in range(n):
        path = tmp_path / "in" / f"f{i}.bin"
        path.parent.mkdir(exist_ok=True)
        data = bytes([i]) * size
        path.write_bytes(data)
        out.append(LocalFile(path, size, xxhash.xxh3_128(data).hexdigest()))
    return out


CURL = (
    'curl -sS -f -o /dev/null -X POST -T {path} -H "Expect:" -H "apikey: {key}" '
    '-H "Authorization: Bearer {key}" -H "Content-Type: application/octet-stream" '
    '-H "x-upsert: true" --cacert {cafile} {url}'
)


@pytest.mark.parametrize("provider", ["kimi", "supabase"])
def test_every_builtin_variant_uploads_through_target_ca_file(
    tls_mock: TlsMock, tmp_path: Path, provider: str
) -> None:
    files = _files(tmp_path, 3, 300 * 1024)
    target = Target(
        provider=provider,  # type: ignore[arg-type]
        base_url=tls_mock.url + ("/kimi/v1" if provider == "kimi" else "/supabase"),
        key=KEY,
        metadata_project_url=tls_mock.url + "/supabase",
        ca_file=str(tls_mock.ca_file),
    )
    settings = Settings(concurrency=2)
    runs = {
        "sync": lambda: SyncBaselineUploader().upload_many(files, target, settings),
        "naive-async": lambda: asyncio.run(
            NaiveAsyncUploader().upload_many(files, target, settings)
        ),
        "async": lambda: asyncio.run(ReferenceUploader().upload_many(files, target, settings)),
    }
    if provider == "supabase" and shutil.which("curl"):
        runs["cmd:curl"] = lambda: asyncio.run(
            CommandUploader(CURL).upload_many(files, target, settings)
        )
    for name, run in runs.items():
        tls_mock.reset()  # Supabase refuses an object that exists
        outcomes = run()
        assert [o.outcome for o in outcomes] == ["ok"] * 3, (name, [o.error for o in outcomes])
    # without the CA the same target fails, on certificates, not silently
    blind = Target(provider=target.provider, base_url=target.base_url, key=KEY)
    outcome = SyncBaselineUploader().upload_many(files[:1], blind, settings)[0]
    assert outcome.outcome == "connection_error"
    assert "CERTIFICATE_VERIFY_FAILED" in (outcome.error or "")


def test_mock_process_prints_https_and_writes_the_ca_first(tmp_path: Path) -> None:
    ca_file = tmp_path / "sub" / "ca.pem"
    server = ServerProcess(
        [sys.executable, "-m", "harness.mockprovider", "--tls", "1.2", "--ca-file", str(ca_file)],
        "mock provider",
        tmp_path / "mock.log",
        timeout_s=30,
    )
    try:
        assert server.url.startswith("https://127.0.0.1:")
        assert ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        ctx = ssl.create_default_context(cafile=str(ca_file))
        assert httpx.get(server.url + "/__mock/health", verify=ctx).json() == {"status": "ok"}
    finally:
        server.stop()


def test_ca_file_without_tls_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "mock", "--ca-file", str(tmp_path / "ca.pem")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "--ca-file needs --tls" in done.stderr


def test_mock_rig_controls_a_tls_mock(tmp_path: Path) -> None:
    rig = MockRig(
        python=sys.executable, seed=0, hash_algo=None, log_dir=tmp_path / "logs", tls="1.3"
    )
    try:
        assert rig.url.startswith("https://")
        assert rig.ca_file == tmp_path / "mock-ca.pem"
        rig.prepare_trial(0, [])
        assert rig.stats()["totals"]["requests"] == 0
    finally:
        rig.stop()
