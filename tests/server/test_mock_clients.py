"""The official clients work against the mock unchanged: openai (Kimi routes), supabase
(Storage and PostgREST), and httpx requests shaped like the GLM SDK's."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest
import xxhash
from supabase import Client, create_client

from harness.mockprovider import MockConfig, MockServer

KEY = "sk-test"


@contextmanager
def supabase_client(url: str, key: str) -> Iterator[Client]:
    """``create_client`` whose HTTP sessions are closed afterwards (no leaked sockets)."""
    client = create_client(url, key)
    try:
        yield client
    finally:
        client.storage.session.close()
        client.postgrest.aclose()


def stats(server: MockServer) -> dict:
    return httpx.get(server.url + "/__mock/stats").json()


def test_openai_sdk_files_roundtrip_on_kimi(mock_server_thread: MockServer, tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"uploadbench " * 1000)
    client = openai.OpenAI(base_url=mock_server_thread.url + "/kimi/v1", api_key=KEY, max_retries=0)
    with path.open("rb") as fh:
        created = client.files.create(file=fh, purpose="file-extract")
    assert created.bytes == path.stat().st_size
    assert created.filename == "report.txt"
    assert created.status == "ok"  # Kimi's, not OpenAI's "processed"
    assert len(created.id) == 20

    assert [f.id for f in client.files.list()] == [created.id]
    assert client.files.retrieve(created.id).bytes == created.bytes
    # Kimi's content route answers extracted text; the mock's says what it received
    extracted = client.files.content(created.id).text
    assert "report.txt" in extracted
    assert xxhash.xxh3_128(path.read_bytes()).hexdigest() in extracted
    assert client.files.delete(created.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)
    client.close()

    upload = stats(mock_server_thread)["requests"][0]
    assert upload["route"] == "POST /files"
    assert upload["object_id"] == created.id
    assert upload["filename"] == "report.txt"
    assert upload["content_hash"] == xxhash.xxh3_128(path.read_bytes()).hexdigest()
    assert upload["content_bytes"] == created.bytes
    assert upload["bytes"] > created.bytes  # the multipart framing counts as received


def test_openai_sdk_sees_kimi_errors_typed(mock_server_thread: MockServer) -> None:
    url = mock_server_thread.url + "/kimi/v1"
    with (
        pytest.raises(openai.AuthenticationError) as auth,
        openai.OpenAI(base_url=url, api_key="wrong", max_retries=0) as wrong,
    ):
        wrong.files.list()
    assert auth.value.body == {
        "type": "invalid_authentication_error",
        "message": "Invalid Authentication",
    }
    with openai.OpenAI(base_url=url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError, match="Invalid purpose"):
            client.files.create(file=("a.txt", b"abc"), purpose="assistants")
        with pytest.raises(openai.BadRequestError, match="File size is zero"):
            client.files.create(file=("a.txt", b""), purpose="file-extract")


async def test_async_openai_sdk_upload(mock_server: MockServer) -> None:
    client = openai.AsyncOpenAI(base_url=mock_server.url + "/kimi/v1", api_key=KEY, max_retries=0)
    async with client:
        created = await client.files.create(file=("x.bin", b"\x00" * 4096), purpose="batch")
    assert created.purpose == "batch"
    assert (
        mock_server.state.stats.records[0].content_hash
        == xxhash.xxh3_128(b"\x00" * 4096).hexdigest()
    )


def test_supabase_client_storage_and_table(tmp_path: Path) -> None:
    config = MockConfig(keys=(KEY,), store=f"disk:{tmp_path / 'store'}")
    content = bytes(range(256)) * 512
    local = tmp_path / "photo.bin"
    local.write_bytes(content)
    with (
        MockServer.in_thread(config) as server,
        supabase_client(server.url + "/supabase", KEY) as client,
    ):
        bucket = client.storage.from_("uploads")
        result = bucket.upload(
            "2026/photo.bin", local, {"content-type": "application/octet-stream"}
        )
        assert result.full_path == "uploads/2026/photo.bin"
        assert [e["name"] for e in bucket.list("2026")] == ["photo.bin"]
        assert [e["name"] for e in bucket.list()] == ["2026"]  # a folder entry
        assert bucket.download("2026/photo.bin") == content
        # upsert replaces, a plain upload of an existing key is a Duplicate
        bucket.upload("2026/photo.bin", b"new", {"upsert": "true"})
        assert bucket.download("2026/photo.bin") == b"new"

        table = client.table("file_uploads")
        table.insert({"name": "photo.bin", "size": len(content), "hash": "h1"}).execute()
        table.insert([{"name": "a.txt", "size": 1}, {"name": "b.txt", "size": 2}]).execute()
        rows = table.select("*").eq("name", "photo.bin").execute().data
        assert rows == [{"name": "photo.bin", "size": len(content), "hash": "h1", "id": 1}]
        assert [
            r["name"] for r in table.select("name").gt("size", 1).order("id").execute().data
        ] == [
            "photo.bin",
            "b.txt",
        ]
        records = stats(server)["requests"]
    upload = records[0]
    assert upload["route"] == "POST storage/v1/object/{bucket}/{path}"
    assert upload["object_id"] == "uploads/2026/photo.bin"
    assert upload["content_hash"] == xxhash.xxh3_128(content).hexdigest()


def test_supabase_client_errors_parse(mock_server_thread: MockServer) -> None:
    url = mock_server_thread.url + "/supabase"
    with supabase_client(url, KEY) as client, supabase_client(url, "wrong-key") as bad:
        _check_storage_errors(client, bad)


def _check_storage_errors(client: Client, bad: Client) -> None:
    from storage3.exceptions import StorageApiError

    client.storage.from_("uploads").upload("a.txt", b"one")
    with pytest.raises(StorageApiError) as dup:
        client.storage.from_("uploads").upload("a.txt", b"two")
    assert dup.value.code == "Duplicate"
    with pytest.raises(StorageApiError) as missing:
        client.storage.from_("nope").upload("a.txt", b"x")
    assert missing.value.status == "404"  # storage3 passes the body's string through
    with pytest.raises(StorageApiError):
        bad.storage.from_("uploads").upload("b.txt", b"x")


@pytest.mark.parametrize("purpose_first", [True, False])
def test_glm_files_with_httpx(mock_server_thread: MockServer, purpose_first: bool) -> None:
    base = mock_server_thread.url + "/glm/api/paas/v4"
    auth = {"Authorization": f"Bearer {KEY}"}
    content = b'{"custom_id": "1"}\n' * 100
    # httpx sends data fields before files, like the zhipuai SDK; build the other order by hand
    if purpose_first:
        resp = httpx.post(
            base + "/files",
            headers=auth,
            data={"purpose": "batch"},
            files={"file": ("b.jsonl", content)},
        )
    else:
        boundary = "glmtestboundary"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.jsonl"\r\n'
            f"Content-Type: application/jsonl\r\n\r\n".encode()
            + content
            + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
            f"batch\r\n--{boundary}--\r\n".encode()
        )
        resp = httpx.post(
            base + "/files",
            headers={**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            content=body,
        )
    assert resp.status_code == 200, resp.text
    created = resp.json()
    assert created["id"].startswith("file-")
    assert created["bytes"] == len(content)
    assert "status" not in created

    listed = httpx.get(
        base + "/files", headers=auth, params={"purpose": "batch", "limit": 1}
    ).json()
    assert listed == {"object": "list", "data": [created], "has_more": False}
    assert httpx.get(base + f"/files/{created['id']}/content", headers=auth).status_code == 200
    assert httpx.delete(base + f"/files/{created['id']}", headers=auth).json()["deleted"] is True
    missing = httpx.get(base + f"/files/{created['id']}", headers=auth)
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"code", "message"}
    upload = stats(mock_server_thread)["requests"][0]
    assert upload["content_hash"] == xxhash.xxh3_128(content).hexdigest()


def test_glm_too_large_is_http_435_and_sha256_on_request() -> None:
    config = MockConfig(keys=(KEY,), glm_max_bytes=1000, hash_algo="sha256")
    with MockServer.in_thread(config) as server:
        base = server.url + "/glm/api/paas/v4/files"
        auth = {"Authorization": f"Bearer {KEY}"}
        big = httpx.post(
            base, headers=auth, data={"purpose": "batch"}, files={"file": ("a", b"x" * 1001)}
        )
        ok = httpx.post(
            base, headers=auth, data={"purpose": "batch"}, files={"file": ("a", b"x" * 1000)}
        )
        records = stats(server)["requests"]
    assert big.status_code == 435
    assert big.json() == {"error": {"code": "435", "message": "File size exceeds 1000 bytes"}}
    assert ok.status_code == 200
    assert records[1]["hash_algo"] == "sha256"
    assert records[1]["content_hash"] == hashlib.sha256(b"x" * 1000).hexdigest()


def test_supabase_signed_upload_and_signed_download(tmp_path: Path) -> None:
    config = MockConfig(keys=(KEY,), store=f"disk:{tmp_path}")
    with (
        MockServer.in_thread(config) as server,
        supabase_client(server.url + "/supabase", KEY) as client,
    ):
        bucket = client.storage.from_("uploads")
        signed = bucket.create_signed_upload_url("in/box.bin")
        result = bucket.upload_to_signed_url("in/box.bin", signed["token"], b"signed body")
        assert result.full_path == "uploads/in/box.bin"
        url = bucket.create_signed_url("in/box.bin", 60)["signedURL"]
        assert httpx.get(url).content == b"signed body"
        forged = httpx.get(url.replace(signed["token"], "0" * 32).split("?")[0] + "?token=nope")
        assert forged.status_code == 400
