"""Bad requests get the provider's own error shape and status: never a 500, no traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from harness.mockprovider import MockConfig, MockServer

AUTH = {"Authorization": "Bearer sk-test"}


@pytest.fixture
async def server(caplog: pytest.LogCaptureFixture) -> AsyncIterator[MockServer]:
    caplog.set_level(logging.DEBUG)
    config = MockConfig(
        keys=("sk-test",), kimi_max_bytes=1000, glm_max_bytes=1000, supabase_max_bytes=1000
    )
    async with MockServer(config) as srv:
        yield srv
    # nothing the clients sent may make the mock log an error or a traceback
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert "Traceback" not in caplog.text
    assert 500 not in {r.status for r in srv.state.stats.records}


async def raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send exactly these bytes (clients normalise paths; attackers do not)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


MULTIPART_CASES: list[tuple[str, dict[str, str], bytes]] = [
    ("not multipart", {"Content-Type": "application/json"}, b"{}"),
    ("no boundary", {"Content-Type": "multipart/form-data"}, b"--x\r\n"),
    ("garbage", {"Content-Type": "multipart/form-data; boundary=zz"}, b"this is not multipart"),
    (
        "truncated",
        {"Content-Type": "multipart/form-data; boundary=zz"},
        b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
    ),
    (
        "missing file",
        {"Content-Type": "multipart/form-data; boundary=zz"},
        b'--zz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfile-extract\r\n--zz--\r\n',
    ),
    (
        "missing purpose",
        {"Content-Type": "multipart/form-data; boundary=zz"},
        b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        b"abc\r\n--zz--\r\n",
    ),
]


@pytest.mark.parametrize(
    ("case", "headers", "body"), MULTIPART_CASES, ids=[c[0] for c in MULTIPART_CASES]
)
async def test_kimi_and_glm_malformed_uploads(
    server: MockServer, case: str, headers: dict[str, str], body: bytes
) -> None:
    async with httpx.AsyncClient() as client:
        kimi = await client.post(
            server.url + "/kimi/v1/files", headers={**AUTH, **headers}, content=body
        )
        glm = await client.post(
            server.url + "/glm/api/paas/v4/files", headers={**AUTH, **headers}, content=body
        )
    assert kimi.status_code == 400
    assert kimi.json()["error"]["type"] == "invalid_request_error"
    assert kimi.json()["error"]["message"].startswith("Invalid request: ")
    assert glm.status_code == 400
    assert glm.json()["error"]["code"] == "1210"


async def test_wrong_auth_in_each_dialect(server: MockServer) -> None:
    bad = {"Authorization": "Bearer nope"}
    async with httpx.AsyncClient() as client:
        kimi = await client.get(server.url + "/kimi/v1/files", headers=bad)
        glm = await client.get(server.url + "/glm/api/paas/v4/files")
        storage = await client.get(
            server.url + "/supabase/storage/v1/bucket", headers={"apikey": "nope"}
        )
        rest = await client.get(server.url + "/supabase/rest/v1/rows", headers=bad)
        # Supabase also takes the key as apikey alone
        by_apikey = await client.get(
            server.url + "/supabase/rest/v1/rows", headers={"apikey": "sk-test"}
        )
    assert (kimi.status_code, kimi.json()["error"]["type"]) == (401, "invalid_authentication_error")
    assert (glm.status_code, glm.json()["error"]["code"]) == (401, "1002")
    assert (storage.status_code, storage.json()["error"]) == (400, "InvalidJWT")
    assert (rest.status_code, rest.json()["message"]) == (401, "Invalid API key")
    assert by_apikey.status_code == 200


async def test_oversize_uploads_in_each_dialect(server: MockServer) -> None:
    big = b"x" * 1001
    async with httpx.AsyncClient() as client:
        kimi = await client.post(
            server.url + "/kimi/v1/files",
            headers=AUTH,
            data={"purpose": "file-extract"},
            files={"file": ("a", big)},
        )
        glm = await client.post(
            server.url + "/glm/api/paas/v4/files",
            headers=AUTH,
            data={"purpose": "batch"},
            files={"file": ("a", big)},
        )
        raw = await client.post(
            server.url + "/supabase/storage/v1/object/uploads/a.bin", headers=AUTH, content=big
        )
        multipart = await client.post(
            server.url + "/supabase/storage/v1/object/uploads/b.bin",
            headers=AUTH,
            files={"file": ("b.bin", big)},
        )

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: stop at limit + 1
            for _ in range(10):
                yield b"y" * 500

        streamed = await client.post(
            server.url + "/supabase/storage/v1/object/uploads/c.bin",
            headers=AUTH,
            content=chunked(),
        )
    assert kimi.status_code == 400
    assert kimi.json()["error"]["message"].startswith("File size is too large")
    assert glm.status_code == 435
    for resp in (raw, multipart, streamed):
        assert resp.status_code == 400
        assert resp.json()["statusCode"] == "413"
        assert resp.json()["error"] == "Payload too large"
    assert server.state.objects == {}
    # the raw upload with a known Content-Length was refused before reading
    raw_record = next(r for r in server.state.stats.records if r.path.endswith("/a.bin"))
    assert raw_record.bytes == 0


@pytest.mark.parametrize(
    "path",
    [
        "/supabase/storage/v1/object/uploads/../../x",
        "/supabase/storage/v1/object/uploads/a/%2e%2e/%2e%2e/x",
        "/supabase/storage/v1/object/uploads//etc/passwd",
        "/supabase/storage/v1/object/uploads/%2Fetc%2Fpasswd",
        "/supabase/storage/v1/object/uploads/a%00b",
    ],
)
async def test_object_paths_that_leave_the_bucket_are_refused(
    server: MockServer, path: str
) -> None:
    status, body = await raw_request(
        server.port,
        f"POST {path} HTTP/1.1\nHost: x\nAuthorization: Bearer sk-test\n"
        "Content-Length: 1\nConnection: close\n",
        b"x",
    )
    assert status in (400, 404)
    assert b'"statusCode"' in body
    assert server.state.objects == {}


async def test_other_bad_requests(server: MockServer) -> None:
    sb = server.url + "/supabase"
    async with httpx.AsyncClient() as client:
        checks: list[tuple[httpx.Response, int, Any]] = [
            (
                await client.get(server.url + "/kimi/v1/nothing", headers=AUTH),
                404,
                "resource_not_found_error",
            ),
            (
                await client.get(server.url + "/kimi/v1/files/nope", headers=AUTH),
                404,
                "resource_not_found_error",
            ),
            (
                await client.get(server.url + "/glm/api/paas/v4/files?limit=0", headers=AUTH),
                400,
                "1210",
            ),
            (
                await client.post(sb + "/storage/v1/bucket", headers=AUTH, content=b"{nope"),
                400,
                "InvalidRequest",
            ),
            (
                await client.post(sb + "/storage/v1/bucket", headers=AUTH, json={"id": "uploads"}),
                400,
                "Duplicate",
            ),
            (
                await client.put(
                    sb + "/storage/v1/object/uploads/none.txt", headers=AUTH, content=b"x"
                ),
                400,
                "not_found",
            ),
            (
                await client.post(
                    sb + "/storage/v1/object/nobucket/a.txt", headers=AUTH, content=b"x"
                ),
                400,
                "Bucket not found",
            ),
            (
                await client.post(sb + "/rest/v1/rows", headers=AUTH, content=b"[1, 2]"),
                400,
                "PGRST102",
            ),
            (
                await client.post(sb + "/rest/v1/rows", headers=AUTH, content=b"{bad json"),
                400,
                "PGRST102",
            ),
            (await client.get(sb + "/rest/v1/rows?name=approx.3", headers=AUTH), 400, "PGRST100"),
            (await client.get(sb + "/rest/v1/bad-name!", headers=AUTH), 404, "42P01"),
        ]
    for resp, status, marker in checks:
        assert resp.status_code == status, (resp.request.url, resp.text)
        assert marker in resp.text, resp.text


async def test_wrong_method_is_a_provider_shaped_405(server: MockServer) -> None:
    async with httpx.AsyncClient() as client:
        kimi = await client.patch(server.url + "/kimi/v1/files", headers=AUTH)
        storage = await client.patch(server.url + "/supabase/storage/v1/bucket", headers=AUTH)
    assert kimi.status_code == 405
    assert kimi.json()["error"]["type"] == "invalid_request_error"
    assert storage.status_code == 400  # Storage's legacy mode: the real code in the body
    assert storage.json()["statusCode"] == "405"


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/supabase/storage/v1/object/uploads/gone.bin", ""),
        ("/kimi/v1/files", "Content-Type: multipart/form-data; boundary=zz\n"),
    ],
)
async def test_client_vanishing_mid_body_is_recorded_quietly(
    server: MockServer, path: str, extra: str
) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    # promises 999 bytes (under the fixture's 1000-byte limits), sends 400, then hangs up
    head = f"POST {path} HTTP/1.1\nHost: x\nAuthorization: Bearer sk-test\n{extra}"
    head += "Content-Length: 999\n"
    part = (
        b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        if extra
        else b""
    )
    writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + part + b"x" * 300)
    await writer.drain()
    for _ in range(500):  # bounded: until the mock has started reading the body
        if server.state.stats.requests:
            break
        await asyncio.sleep(0.01)
    writer.close()
    await writer.wait_closed()
    for _ in range(500):
        if server.state.stats.records:
            break
        await asyncio.sleep(0.01)
    record = server.state.stats.records[0]
    assert record.status is None
    assert record.content_hash is None
    assert server.state.objects == {}
    assert server.state.files["kimi"] == {}


async def test_limits_of_count_and_mime_type() -> None:
    config = MockConfig(keys=("sk-test",), kimi_max_files=2)
    async with MockServer(config) as srv, httpx.AsyncClient() as client:
        files = srv.url + "/kimi/v1/files"
        statuses = []
        for i in range(3):
            resp = await client.post(
                files,
                headers=AUTH,
                data={"purpose": "file-extract"},
                files={"file": (f"{i}", b"x")},
            )
            statuses.append(resp.status_code)
        assert statuses == [200, 200, 400]
        assert "exceeded the max file count 2" in resp.json()["error"]["message"]

        sb = srv.url + "/supabase/storage/v1"
        created = await client.post(
            sb + "/bucket",
            headers=AUTH,
            json={"id": "images", "name": "images", "allowed_mime_types": ["image/*"]},
        )
        assert created.json() == {"name": "images"}
        text = await client.post(
            sb + "/object/images/a.txt",
            headers={**AUTH, "Content-Type": "text/plain"},
            content=b"x",
        )
        assert text.json()["statusCode"] == "415"
        meta = "eyJvd25lciI6ICJ0ZXN0In0="  # base64 of {"owner": "test"}
        png = await client.post(
            sb + "/object/images/a.png",
            headers={**AUTH, "Content-Type": "image/png", "x-metadata": meta},
            content=b"\x89PNG",
        )
        assert png.status_code == 200
        info = await client.get(sb + "/object/info/images/a.png", headers=AUTH)
        assert info.json()["metadata"] == {"owner": "test"}
        assert info.json()["content_type"] == "image/png"
