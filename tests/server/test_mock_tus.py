"""TUS resumable uploads on the Supabase routes, driven by a small hand-written client."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
import xxhash

from harness.mockprovider import MockServer

TUS = {"Tus-Resumable": "1.0.0", "Authorization": "Bearer sk-test"}
PATCH_TYPE = {"Content-Type": "application/offset+octet-stream"}


def metadata(**pairs: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


async def create(client: httpx.AsyncClient, base: str, name: str, length: int) -> str:
    resp = await client.post(
        base,
        headers={
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": metadata(
                bucketName="uploads", objectName=name, contentType="video/mp4"
            ),
        },
    )
    assert resp.status_code == 201, resp.text
    return resp.headers["Location"]


async def offset_of(client: httpx.AsyncClient, location: str) -> int:
    resp = await client.head(location, headers=TUS)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    return int(resp.headers["Upload-Offset"])


@pytest.mark.parametrize("store", ["hash", "disk"])
async def test_cut_upload_resumes_from_head_offset_with_right_hash(
    make_mock_server: Any, tmp_path: Path, store: str
) -> None:
    content = bytes(range(251)) * 12_000  # ~3 MB, not a multiple of anything convenient
    config_store = "hash" if store == "hash" else f"disk:{tmp_path}"
    async with make_mock_server(store=config_store) as mock_server, httpx.AsyncClient() as client:
        base = mock_server.url + "/supabase/storage/v1/upload/resumable"
        options = await client.options(base, headers=TUS)
        assert options.status_code == 204
        assert "creation" in options.headers["Tus-Extension"]
        location = await create(client, base, "videos/clip.mp4", len(content))

        fault = {
            "type": "abort_mid_body",
            "after_bytes": 300_000,
            "max_count": 1,
            "target": {"method": "PATCH", "route": "storage/v1/upload/resumable/*"},
        }
        put = await client.put(mock_server.url + "/__mock/faults", json={"faults": [fault]})
        assert put.status_code == 200
        with pytest.raises(httpx.TransportError):
            await client.patch(
                location,
                headers={**TUS, **PATCH_TYPE, "Upload-Offset": "0"},
                content=content,
            )
        offset = await offset_of(client, location)
        assert offset == 300_000  # exactly what arrived before the cut

        # a stale offset is refused, the one HEAD reported is accepted
        stale = await client.patch(
            location, headers={**TUS, **PATCH_TYPE, "Upload-Offset": "0"}, content=b"x"
        )
        assert stale.status_code == 409
        done = await client.patch(
            location,
            headers={**TUS, **PATCH_TYPE, "Upload-Offset": str(offset)},
            content=content[offset:],
        )
        assert done.status_code == 204
        assert int(done.headers["Upload-Offset"]) == len(content)
        info = await client.get(
            mock_server.url + "/supabase/storage/v1/object/info/uploads/videos/clip.mp4",
            headers=TUS,
        )
        stats = (await client.get(mock_server.url + "/__mock/stats")).json()
        download = await client.get(
            mock_server.url + "/supabase/storage/v1/object/uploads/videos/clip.mp4", headers=TUS
        )
    if store == "disk":
        assert download.content == content

    assert info.status_code == 200
    assert info.json()["size"] == len(content)
    assert info.json()["content_type"] == "video/mp4"
    patches = [r for r in stats["requests"] if r["method"] == "PATCH"]
    assert [(r["fault"], r["status"], r["bytes"]) for r in patches] == [
        ("abort_mid_body", None, 300_000),
        (None, 409, 0),
        (None, 204, len(content) - 300_000),
    ]
    assert patches[-1]["route"] == "PATCH storage/v1/upload/resumable/{upload_id}"
    assert patches[-1]["content_hash"] == xxhash.xxh3_128(content).hexdigest()
    assert patches[-1]["object_id"] == "uploads/videos/clip.mp4"
    assert patches[0]["content_hash"] is None


async def test_tus_protocol_errors(mock_server: MockServer) -> None:
    base = mock_server.url + "/supabase/storage/v1/upload/resumable"
    async with httpx.AsyncClient() as client:
        no_version = await client.post(
            base, headers={"Authorization": "Bearer sk-test", "Upload-Length": "3"}
        )
        assert no_version.status_code == 412
        no_meta = await client.post(base, headers={**TUS, "Upload-Length": "3"})
        assert no_meta.status_code == 400
        assert no_meta.json()["code"] == "MetadataRequired"
        escape = await client.post(
            base,
            headers={
                **TUS,
                "Upload-Length": "3",
                "Upload-Metadata": metadata(bucketName="uploads", objectName="../etc/passwd"),
            },
        )
        assert escape.status_code == 400
        location = await create(client, base, "a.bin", 3)
        wrong_type = await client.patch(
            location, headers={**TUS, "Upload-Offset": "0"}, content=b"abc"
        )
        assert wrong_type.status_code == 415
        too_long = await client.patch(
            location, headers={**TUS, **PATCH_TYPE, "Upload-Offset": "0"}, content=b"abcd"
        )
        assert too_long.status_code == 413
        ok = await client.patch(
            location, headers={**TUS, **PATCH_TYPE, "Upload-Offset": "0"}, content=b"abc"
        )
        assert ok.status_code == 204
        # the object now exists: a second upload of the same name without x-upsert is refused
        again = await client.post(
            base,
            headers={
                **TUS,
                "Upload-Length": "3",
                "Upload-Metadata": metadata(bucketName="uploads", objectName="a.bin"),
            },
        )
        assert again.status_code == 409
        deleted = await client.delete(location, headers=TUS)
        assert deleted.status_code == 204
        gone = await client.head(location, headers=TUS)
        assert gone.status_code == 404
        unknown = await client.patch(
            base + "/nope", headers={**TUS, **PATCH_TYPE, "Upload-Offset": "0"}, content=b"x"
        )
        assert unknown.status_code == 404
    statuses = [r.status for r in mock_server.state.stats.records]
    assert 500 not in statuses


async def test_deferred_length_is_declared_by_a_later_patch(mock_server: MockServer) -> None:
    base = mock_server.url + "/supabase/storage/v1/upload/resumable"
    async with httpx.AsyncClient() as client:
        created = await client.post(
            base,
            headers={
                **TUS,
                "Upload-Defer-Length": "1",
                "Upload-Metadata": metadata(bucketName="uploads", objectName="stream.log"),
            },
        )
        assert created.status_code == 201
        location = created.headers["Location"]
        head = await client.head(location, headers=TUS)
        assert head.headers["Upload-Defer-Length"] == "1"
        first = await client.patch(
            location, headers={**TUS, **PATCH_TYPE, "Upload-Offset": "0"}, content=b"abc"
        )
        assert first.status_code == 204
        last = await client.patch(
            location,
            headers={**TUS, **PATCH_TYPE, "Upload-Offset": "3", "Upload-Length": "6"},
            content=b"def",
        )
        assert last.status_code == 204
    record = mock_server.state.stats.records[-1]
    assert record.content_hash == xxhash.xxh3_128(b"abcdef").hexdigest()
    assert ("uploads", "stream.log") in mock_server.state.objects


async def test_supabase_rules_six_mib_chunks_and_one_writer_at_a_time(tmp_path: Path) -> None:
    import asyncio

    from harness.mockprovider import MockConfig

    release = asyncio.Event()
    started = asyncio.Event()

    async def held(seconds: float) -> None:  # the throttled PATCH waits for the test
        started.set()
        await release.wait()

    fault = {
        "type": "slow_read",
        "bytes_per_s": 10_000_000,
        "max_count": 1,
        "target": {"method": "PATCH"},
    }
    config = MockConfig(keys=("sk-test",), tus_enforce_chunk_size=True, faults=(fault,))
    six = 6 * 1024 * 1024
    async with MockServer(config, sleep=held) as srv, httpx.AsyncClient(timeout=30) as client:
        base = srv.url + "/supabase/storage/v1/upload/resumable"
        location = await create(client, base, "big.bin", six + 10)
        odd = await client.patch(
            location, headers={**TUS, **PATCH_TYPE, "Upload-Offset": "0"}, content=b"x" * 1000
        )
        assert odd.status_code == 400
        assert odd.json()["code"] == "InvalidChunkSize"

        first = asyncio.ensure_future(
            client.patch(
                location, headers={**TUS, **PATCH_TYPE, "Upload-Offset": "0"}, content=b"y" * six
            )
        )
        await asyncio.wait_for(started.wait(), 10)
        second = await client.patch(
            location, headers={**TUS, **PATCH_TYPE, "Upload-Offset": "0"}, content=b"y" * six
        )
        assert second.status_code == 409  # Supabase's per-upload lock
        release.set()
        assert (await first).status_code == 204
        last = await client.patch(
            location, headers={**TUS, **PATCH_TYPE, "Upload-Offset": str(six)}, content=b"z" * 10
        )
        assert last.status_code == 204
    assert (
        srv.state.stats.records[-1].content_hash
        == xxhash.xxh3_128(b"y" * six + b"z" * 10).hexdigest()
    )
