"""Each HTTP-level fault of the mock: what a client sees and what /__mock/stats records."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import xxhash

from harness.mockprovider import MockConfig, MockServer

KEY = "sk-test"
AUTH = {"Authorization": f"Bearer {KEY}"}


class FakeTime:
    """A monotonic clock that only moves when the mock sleeps: fault delays cost no time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@asynccontextmanager
async def serve(faults: list[dict[str, Any]], **kw: Any) -> AsyncIterator[MockServer]:
    config = MockConfig(keys=(KEY,), faults=tuple(faults))
    async with MockServer(config, port=0, **kw) as server:
        yield server


async def stats(session: aiohttp.ClientSession, server: MockServer) -> dict[str, Any]:
    async with session.get(server.url + "/__mock/stats") as resp:
        data: dict[str, Any] = await resp.json()
        return data


async def wait_for_records(server: MockServer, n: int) -> None:
    """Wait (bounded) until the mock has finished ``n`` requests: records are written when
    the server side notices the client is gone."""
    for _ in range(500):
        if len(server.state.stats.records) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the mock recorded {len(server.state.stats.records)} of {n} requests")


def object_url(server: MockServer, name: str) -> str:
    return f"{server.url}/supabase/storage/v1/object/uploads/{name}"


async def test_http_error_provider_body_with_retry_after() -> None:
    fault = {
        "type": "http_error",
        "status": 503,
        "retry_after_s": 2,
        "target": {"provider": "kimi"},
    }
    async with serve([fault]) as server, aiohttp.ClientSession() as session:
        async with session.get(server.url + "/kimi/v1/files", headers=AUTH) as resp:
            assert resp.status == 503
            assert resp.headers["Retry-After"] == "2"
            body = await resp.json()
        assert body["error"]["type"] == "server_error"
        # the other providers are not targeted
        async with session.get(server.url + "/supabase/storage/v1/bucket", headers=AUTH) as resp:
            assert resp.status == 200
        data = await stats(session, server)
    first, second = data["requests"]
    assert (first["fault"], first["status"]) == ("http_error", 503)
    assert (second["fault"], second["status"]) == (None, 200)
    assert data["totals"]["faults_applied"] == {"http_error": 1}


@pytest.mark.parametrize(
    ("body", "content_type"), [("html", "text/html"), ("empty", "application/octet-stream")]
)
async def test_http_error_gateway_html_and_empty(body: str, content_type: str) -> None:
    fault = {"type": "http_error", "status": 502, "body": body}
    async with serve([fault]) as server, aiohttp.ClientSession() as session:
        async with session.put(object_url(server, "a.bin"), data=b"x" * 10, headers=AUTH) as resp:
            assert resp.status == 502
            text = await resp.text()
            assert resp.content_type == content_type
        data = await stats(session, server)
    if body == "html":
        assert "<h1>502 Bad Gateway</h1>" in text
    else:
        assert text == ""
    assert data["requests"][0]["fault"] == "http_error"


@pytest.mark.parametrize(
    ("path", "check"),
    [
        (
            "/kimi/v1/files",
            lambda b: (
                b["error"]["type"] == "rate_limit_reached_error"
                and "please try again after 3 seconds" in b["error"]["message"]
            ),
        ),
        ("/glm/api/paas/v4/files", lambda b: b["error"]["code"] == "1302"),
        ("/supabase/storage/v1/bucket", lambda b: b["code"] == "SlowDown"),
    ],
)
async def test_rate_limit_in_each_providers_style(path: str, check: Any) -> None:
    fault = {"type": "rate_limit", "retry_after_s": 3}
    async with serve([fault]) as server, aiohttp.ClientSession() as session:
        async with session.get(server.url + path, headers=AUTH) as resp:
            assert resp.status == 429
            assert check(await resp.json())
        data = await stats(session, server)
    assert data["requests"][0]["fault"] == "rate_limit"
    assert data["totals"]["by_status"] == {"429": 1}


async def test_rate_limit_quota_style_and_max_count() -> None:
    fault = {"type": "rate_limit", "style": "kimi_quota", "max_count": 1}
    async with serve([fault]) as server, aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(3):
            async with session.get(server.url + "/kimi/v1/files", headers=AUTH) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    assert (await resp.json())["error"]["type"] == "exceeded_current_quota_error"
    assert statuses == [429, 200, 200]


async def test_concurrency_cap_rejects_above_max_in_flight() -> None:
    clock = FakeTime()
    gate = asyncio.Event()

    async def held_sleep(seconds: float) -> None:
        await gate.wait()  # the first upload stays in flight until the test lets it go

    faults = [
        {"type": "concurrency_cap", "max_in_flight": 1, "target": {"route": "storage/v1/object/*"}},
        {"type": "latency", "ms": 50, "max_count": 1},
    ]
    async with (
        serve(faults, monotonic=clock.monotonic, sleep=held_sleep) as server,
        aiohttp.ClientSession() as session,
    ):
        first = asyncio.ensure_future(
            session.post(object_url(server, "a.bin"), data=b"a" * 100, headers=AUTH)
        )
        for _ in range(500):  # bounded wait until the first request is inside the mock
            if server.state.stats.requests >= 1:
                break
            await asyncio.sleep(0.01)
        async with session.post(object_url(server, "b.bin"), data=b"b", headers=AUTH) as resp:
            assert resp.status == 429
            assert (await resp.json())["code"] == "SlowDown"
        gate.set()
        async with await first as resp:
            assert resp.status == 200
        data = await stats(session, server)
    by_path = {r["path"].rsplit("/", 1)[1]: r for r in data["requests"]}
    assert by_path["b.bin"]["fault"] == "concurrency_cap"
    assert by_path["a.bin"]["fault"] == "latency"
    assert data["totals"]["faults_applied"] == {"concurrency_cap": 1, "latency": 1}


async def test_latency_delays_the_response_by_the_drawn_amount() -> None:
    clock = FakeTime()
    fault = {"type": "latency", "ms": 250, "jitter_ms": 50}
    async with (
        serve([fault], monotonic=clock.monotonic, sleep=clock.sleep) as server,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(server.url + "/kimi/v1/files", headers=AUTH) as resp:
            assert resp.status == 200
        data = await stats(session, server)
    assert len(clock.sleeps) == 1
    assert 0.2 <= clock.sleeps[0] <= 0.3
    record = data["requests"][0]
    assert record["fault"] == "latency"
    assert record["duration_s"] == pytest.approx(clock.sleeps[0])


async def test_slow_read_throttles_the_body_to_the_rate() -> None:
    clock = FakeTime()
    size = 300_000
    fault = {"type": "slow_read", "bytes_per_s": 1_000_000}
    async with (
        serve([fault], monotonic=clock.monotonic, sleep=clock.sleep) as server,
        aiohttp.ClientSession() as session,
    ):
        body = bytes(range(256)) * (size // 256)
        async with session.post(object_url(server, "s.bin"), data=body, headers=AUTH) as resp:
            assert resp.status == 200
        data = await stats(session, server)
    record = data["requests"][0]
    assert record["fault"] == "slow_read"
    assert record["content_hash"] == xxhash.xxh3_128(body).hexdigest()
    # the mock waited exactly as long as reading at 1 MB/s takes
    assert sum(clock.sleeps) == pytest.approx(len(body) / 1_000_000, rel=0.01)


async def test_stall_makes_the_client_time_out_and_ends_when_it_leaves() -> None:
    # While stalled the mock reads nothing, so aiohttp cannot see the client leave; the stall
    # asks the socket itself, so it ends (and is recorded) soon after the client gave up
    # instead of after stall_s. wait_for_records is bounded far below the 60 s.
    fault = {"type": "stall", "after_bytes": 1000, "stall_s": 60}
    async with serve([fault]) as server, aiohttp.ClientSession() as session:
        timeout = aiohttp.ClientTimeout(total=0.5)
        with pytest.raises(asyncio.TimeoutError):
            await session.post(
                object_url(server, "st.bin"),
                data=io.BytesIO(b"z" * 4_000_000),
                headers=AUTH,
                timeout=timeout,
            )
        await wait_for_records(server, 1)
        data = await stats(session, server)
    record = data["requests"][0]
    assert (record["fault"], record["status"], record["bytes"]) == ("stall", None, 1000)
    assert record["content_hash"] is None
    assert record["object_id"] == "uploads/st.bin"


async def test_stall_lasts_stall_s_while_the_client_waits() -> None:
    clock = FakeTime()  # mock-side time only moves when the mock sleeps
    fault = {"type": "stall", "after_bytes": 1000, "stall_s": 45}
    async with (
        serve([fault], monotonic=clock.monotonic, sleep=clock.sleep) as server,
        aiohttp.ClientSession() as session,
    ):
        with pytest.raises(aiohttp.ClientError):  # the mock closes (FIN) after the stall
            async with session.post(
                object_url(server, "w.bin"), data=b"w" * 200_000, headers=AUTH
            ) as resp:
                await resp.read()
        await wait_for_records(server, 1)
    assert sum(clock.sleeps) == pytest.approx(45.0)
    assert max(clock.sleeps) <= 0.1 + 1e-9  # it looked for the client between naps
    assert server.state.stats.records[0].fault == "stall"


@pytest.mark.parametrize("mode", ["rst", "fin"])
async def test_abort_mid_body_cuts_after_exact_bytes(mode: str) -> None:
    fault = {"type": "abort_mid_body", "after_bytes": 65_536, "mode": mode}
    async with serve([fault]) as server, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.post(
                object_url(server, "ab.bin"), data=io.BytesIO(b"q" * 2_000_000), headers=AUTH
            ) as resp:
                await resp.read()
        await wait_for_records(server, 1)
        data = await stats(session, server)
        # nothing was stored: the upload never completed
        async with session.head(object_url(server, "ab.bin"), headers=AUTH) as resp:
            assert resp.status == 400
    record = data["requests"][0]
    assert (record["fault"], record["status"], record["bytes"]) == ("abort_mid_body", None, 65_536)


async def test_abort_mid_body_by_percentage_of_content_length() -> None:
    fault = {"type": "abort_mid_body", "after_pct": 25}
    async with serve([fault]) as server, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.post(
                object_url(server, "p.bin"), data=b"q" * 400_000, headers=AUTH
            ) as resp:
                await resp.read()
        await wait_for_records(server, 1)
    assert server.state.stats.records[0].bytes == 100_000


@pytest.mark.parametrize("mode", ["fin", "rst"])
async def test_drop_response_after_the_body_was_stored(mode: str) -> None:
    fault = {"type": "drop_response", "mode": mode, "max_count": 1}
    body = b"d" * 50_000
    async with serve([fault]) as server, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.post(object_url(server, "d.bin"), data=body, headers=AUTH) as resp:
                await resp.read()
        # the duplicate-upload hazard: the object exists although the client saw no answer
        async with session.post(object_url(server, "d.bin"), data=body, headers=AUTH) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"] == "Duplicate"
        data = await stats(session, server)
    dropped = data["requests"][0]
    assert (dropped["fault"], dropped["status"]) == ("drop_response", None)
    assert dropped["content_hash"] == xxhash.xxh3_128(body).hexdigest()
    assert dropped["bytes"] == len(body)


async def test_drop_response_hang_until_the_client_gives_up() -> None:
    fault = {"type": "drop_response", "mode": "hang"}
    async with serve([fault]) as server, aiohttp.ClientSession() as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.get(
                server.url + "/kimi/v1/files",
                headers=AUTH,
                timeout=aiohttp.ClientTimeout(total=0.3),
            )
        await wait_for_records(server, 1)
    record = server.state.stats.records[0]
    assert (record.fault, record.status) == ("drop_response", None)


async def test_probability_draws_are_reproducible_per_seed() -> None:
    fault = {"type": "http_error", "status": 500, "probability": 0.5}

    async def faulted_seqs(seed: int) -> list[int]:
        config = MockConfig(keys=(KEY,), faults=(fault,), seed=seed)
        async with MockServer(config) as server, aiohttp.ClientSession() as session:
            for _ in range(20):
                async with session.get(server.url + "/glm/api/paas/v4/files", headers=AUTH):
                    pass
            return [r.seq for r in server.state.stats.records if r.fault]

    first, again, other = await faulted_seqs(7), await faulted_seqs(7), await faulted_seqs(8)
    assert first == again
    assert 0 < len(first) < 20
    assert first != other


async def test_abort_mid_body_in_a_multipart_upload_reaches_the_sdk() -> None:
    import openai

    fault = {"type": "abort_mid_body", "after_bytes": 10_000, "target": {"provider": "kimi"}}
    async with serve([fault]) as server:
        client = openai.AsyncOpenAI(base_url=server.url + "/kimi/v1", api_key=KEY, max_retries=0)
        async with client:
            with pytest.raises(openai.APIConnectionError):
                await client.files.create(file=("big.txt", b"k" * 200_000), purpose="file-extract")
        await wait_for_records(server, 1)
        record = server.state.stats.records[0]
        assert (record.fault, record.status, record.bytes) == ("abort_mid_body", None, 10_000)
        assert server.state.files["kimi"] == {}


def multipart_upload(name: str, content: bytes) -> tuple[bytes, str]:
    """A Kimi/GLM upload body built by hand, so cut positions can name its parts."""
    boundary = "ubfaultboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
            f"file-extract\r\n--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


MULTIPART_PATHS = {
    "kimi": "/kimi/v1/files",
    "glm": "/glm/api/paas/v4/files",
    "supabase": "/supabase/storage/v1/object/uploads/m.bin",
}


@pytest.mark.parametrize("provider", ["kimi", "glm", "supabase"])
@pytest.mark.parametrize("mode", ["rst", "fin"])
async def test_abort_mid_body_cuts_a_multipart_upload_wherever_it_falls(
    provider: str, mode: str
) -> None:
    # A cut inside the part headers, the purpose field, the file content, or in the closing
    # boundary truncates what the multipart parser sees; it must still cut, not answer 400.
    body, content_type = multipart_upload("m.bin", b"m" * 20_000)
    positions = [1, 30, 60, 120, 180, 10_000, len(body) - 20, len(body) - 1]
    faults = [
        {"type": "abort_mid_body", "after_bytes": at, "mode": mode, "max_count": 1}
        for at in positions
    ]
    async with serve([]) as server, aiohttp.ClientSession() as session:
        for i, fault in enumerate(faults):
            async with session.put(server.url + "/__mock/faults", json={"faults": [fault]}):
                pass
            with pytest.raises(aiohttp.ClientError):
                async with session.post(
                    server.url + MULTIPART_PATHS[provider],
                    data=body,
                    headers={**AUTH, "Content-Type": content_type},
                ) as resp:
                    await resp.read()
            await wait_for_records(server, i + 1)
            record = server.state.stats.records[i]
            assert (record.fault, record.status, record.bytes) == (
                "abort_mid_body",
                None,
                positions[i],
            ), positions[i]
        # nothing was stored: no upload completed
        assert server.state.files.get(provider, {}) == {}
        assert server.state.objects == {}
        totals = (await stats(session, server))["totals"]
    assert totals["faults_applied"] == {"abort_mid_body": len(positions)}


async def _tus_location(session: aiohttp.ClientSession, server: MockServer, size: int) -> str:
    meta = "bucketName dXBsb2Fkcw==,objectName dC5iaW4="  # uploads, t.bin
    async with session.post(
        server.url + "/supabase/storage/v1/upload/resumable",
        headers={
            **AUTH,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(size),
            "Upload-Metadata": meta,
        },
    ) as resp:
        assert resp.status == 201, await resp.text()
        return resp.headers["Location"]


@pytest.mark.parametrize("kind", ["stall", "drop_response"])
@pytest.mark.parametrize("where", ["kimi", "glm", "tus"])
async def test_stall_and_drop_on_multipart_and_tus_patch(kind: str, where: str) -> None:
    clock = FakeTime()  # the stall's sleep costs no time, then the mock closes (FIN)
    content = b"s" * 20_000
    fault: dict[str, Any] = {"type": kind, "max_count": 1}
    if kind == "stall":
        fault.update(after_bytes=150, stall_s=30)  # inside the multipart part headers
    fault["target"] = (
        {"method": "PATCH"} if where == "tus" else {"provider": where, "method": "POST"}
    )
    async with (
        serve([fault], monotonic=clock.monotonic, sleep=clock.sleep) as server,
        aiohttp.ClientSession() as session,
    ):
        if where == "tus":
            url = await _tus_location(session, server, len(content))
            body = content
            headers = {
                **AUTH,
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            }
            method = "PATCH"
        else:
            url = server.url + MULTIPART_PATHS[where]
            body, content_type = multipart_upload("s.bin", content)
            headers = {**AUTH, "Content-Type": content_type}
            method = "POST"
        with pytest.raises(aiohttp.ClientError):
            async with session.request(method, url, data=body, headers=headers) as resp:
                await resp.read()
        await wait_for_records(server, 2 if where == "tus" else 1)
        data = await stats(session, server)
    record = data["requests"][-1]
    assert record["method"] == method
    assert (record["fault"], record["status"]) == (kind, None)
    assert data["totals"]["faults_applied"] == {kind: 1}
    if kind == "stall":
        assert sum(clock.sleeps) == pytest.approx(30.0)
        assert record["bytes"] == 150
        assert server.state.files.get(where, {}) == {}
    else:
        # the body arrived whole and was kept: the duplicate-upload hazard
        assert record["bytes"] == len(body)
        assert record["content_hash"] is not None or where == "tus"


async def test_requests_refused_before_the_body_still_name_their_object() -> None:
    async with serve([]) as server, aiohttp.ClientSession() as session:
        form = aiohttp.FormData()
        form.add_field("purpose", "file-extract")
        form.add_field("file", b"k" * 100, filename="k.txt")
        async with session.post(
            server.url + MULTIPART_PATHS["kimi"], data=form, headers=AUTH
        ) as resp:
            file_id = (await resp.json())["id"]
        tus = await _tus_location(session, server, 10)
        refuse = {"type": "http_error", "status": 503}
        async with session.put(server.url + "/__mock/faults", json={"faults": [refuse]}):
            pass
        for method, url in [
            ("POST", object_url(server, "dir/a.bin")),
            ("PATCH", tus),
            ("GET", f"{server.url}/kimi/v1/files/{file_id}"),
            ("POST", server.url + MULTIPART_PATHS["glm"]),
        ]:
            async with session.request(method, url, data=b"x" * 10, headers=AUTH) as resp:
                assert resp.status == 503
        # a bad key is refused before the body too
        async with session.put(server.url + "/__mock/faults", json={"faults": []}):
            pass
        async with session.post(object_url(server, "b.bin"), data=b"y") as resp:
            assert resp.status in (400, 401, 403)
        await wait_for_records(server, 7)
        records = (await stats(session, server))["requests"][2:]
    names = [(r["status"], r["object_id"], r["filename"]) for r in records]
    assert names == [
        (503, "uploads/dir/a.bin", "a.bin"),
        (503, "uploads/t.bin", "t.bin"),
        (503, file_id, "k.txt"),
        (503, None, None),  # a multipart upload names its file only inside the body
        (resp.status, "uploads/b.bin", "b.bin"),
    ]


async def test_fault_endpoint_speaks_the_catalogs_names() -> None:
    # PUT /__mock/faults validates with harness.faults: the new names and unit strings are
    # taken, an old name is refused naming the new one, GET answers in the catalog's form
    async with serve([]) as server, aiohttp.ClientSession() as session:
        url = server.url + "/__mock/faults"
        old = {"faults": [{"type": "http_error", "rate": 0.5}]}
        async with session.put(url, json=old) as resp:
            assert resp.status == 400
            assert "faults[0].rate: renamed to probability" in await resp.text()
        new = {"faults": [{"type": "latency", "ms": "250ms", "probability": "50%"}]}
        async with session.put(url, json=new) as resp:
            assert resp.status == 200
        async with session.get(url) as resp:
            (fault,) = (await resp.json())["faults"]
        assert fault == {"type": "latency", "probability": 0.5, "ms": 250, "jitter_ms": 0.0}
