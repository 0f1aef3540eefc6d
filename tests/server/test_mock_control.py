"""The /__mock/ control routes: health, stats (connections, records), reset, faults."""

from __future__ import annotations

import aiohttp

from harness.mockprovider import MockServer

AUTH = {"Authorization": "Bearer sk-test"}


async def test_stats_count_connections_and_keep_alive_reuse(mock_server: MockServer) -> None:
    url = mock_server.url
    async with aiohttp.ClientSession() as pooled:
        for _ in range(3):
            async with pooled.get(url + "/kimi/v1/files", headers=AUTH) as resp:
                assert resp.status == 200
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as fresh:
        for _ in range(2):
            async with fresh.get(url + "/glm/api/paas/v4/files", headers=AUTH) as resp:
                assert resp.status == 200
        async with fresh.get(url + "/__mock/stats") as resp:
            data = await resp.json()
    records = data["requests"]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]  # control requests are not recorded
    kimi_conns = {r["connection_id"] for r in records if r["provider"] == "kimi"}
    glm_conns = {r["connection_id"] for r in records if r["provider"] == "glm"}
    assert len(kimi_conns) == 1
    assert len(glm_conns) == 2
    assert data["totals"]["connections_accepted"] >= 3
    assert data["totals"]["requests"] == 5
    assert data["totals"]["by_status"] == {"200": 5}
    record = records[0]
    assert set(record) >= {
        "seq",
        "provider",
        "method",
        "route",
        "path",
        "status",
        "bytes",
        "content_hash",
        "hash_algo",
        "filename",
        "object_id",
        "fault",
        "connection_id",
        "started_at",
        "ttfb_s",
        "duration_s",
    }
    assert record["route"] == "GET /files"


async def test_provider_connections_leave_out_control_only_connections(
    mock_server: MockServer,
) -> None:
    url = mock_server.url
    fresh = aiohttp.TCPConnector(force_close=True)  # one connection per request
    async with aiohttp.ClientSession(connector=fresh) as session:
        for path in ("health", "stats", "faults", "health"):
            async with session.get(url + "/__mock/" + path):
                pass
        async with aiohttp.ClientSession() as pooled:  # three requests on one connection
            for _ in range(3):
                async with pooled.get(url + "/kimi/v1/files", headers=AUTH) as resp:
                    assert resp.status == 200
            async with pooled.get(url + "/__mock/health"):
                pass  # a control call on a provider connection changes nothing
        async with session.get(url + "/glm/api/paas/v4/files") as resp:
            assert resp.status == 401  # a refused request still used the connection
        async with session.get(url + "/__mock/stats") as resp:
            totals = (await resp.json())["totals"]
        assert totals["provider_connections"] == 2
        # all of them: 5 control-only (the stats request too), the pooled one, the GLM one
        assert totals["connections_accepted"] == 7
        async with session.post(url + "/__mock/reset"):
            pass
        async with session.get(url + "/__mock/stats") as resp:
            totals = (await resp.json())["totals"]
    assert totals["provider_connections"] == 0


async def test_reset_forgets_everything(mock_server: MockServer) -> None:
    url = mock_server.url
    sb = url + "/supabase"
    async with aiohttp.ClientSession() as session:
        form = aiohttp.FormData()
        form.add_field("purpose", "file-extract")
        form.add_field("file", b"abc", filename="a.txt")
        async with session.post(url + "/kimi/v1/files", data=form, headers=AUTH) as resp:
            assert resp.status == 200
        async with session.post(sb + "/storage/v1/object/uploads/a.txt", data=b"x", headers=AUTH):
            pass
        async with session.post(sb + "/storage/v1/bucket", json={"id": "extra"}, headers=AUTH):
            pass
        async with session.post(sb + "/rest/v1/rows", json={"a": 1}, headers=AUTH):
            pass
        async with session.post(url + "/__mock/reset") as resp:
            assert resp.status == 200
            assert await resp.json() == {}
        async with session.get(url + "/kimi/v1/files", headers=AUTH) as resp:
            assert (await resp.json())["data"] == []
        async with session.get(sb + "/storage/v1/bucket", headers=AUTH) as resp:
            assert [b["id"] for b in await resp.json()] == ["uploads"]  # defaults come back
        async with session.get(sb + "/rest/v1/rows?select=*", headers=AUTH) as resp:
            assert await resp.json() == []
        async with session.get(url + "/__mock/stats") as resp:
            data = await resp.json()
    assert [r["route"] for r in data["requests"]] == [
        "GET /files",
        "GET storage/v1/bucket",
        "GET rest/v1/{table}",
    ]
    assert data["totals"]["requests"] == 3


async def test_put_faults_validates_and_replaces(mock_server: MockServer) -> None:
    url = mock_server.url
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/__mock/health") as resp:
            assert await resp.json() == {"status": "ok"}
        bad = {"faults": [{"type": "latency", "ms": 1}, {"type": "slow_read", "bytes_per_s": -5}]}
        async with session.put(url + "/__mock/faults", json=bad) as resp:
            assert resp.status == 400
            reason = (await resp.json())["error"]
        assert reason.startswith("faults[1].bytes_per_s: must be an integer")
        async with session.put(url + "/__mock/faults", data=b"{oops") as resp:
            assert resp.status == 400
        good = {
            "seed": 3,
            "faults": [{"type": "http_error", "status": 418, "target": {"provider": "glm"}}],
        }
        async with session.put(url + "/__mock/faults", json=good) as resp:
            assert resp.status == 200
        async with session.get(url + "/__mock/faults") as resp:
            installed = await resp.json()
        assert installed["seed"] == 3
        assert installed["faults"][0]["status"] == 418
        async with session.get(url + "/glm/api/paas/v4/files", headers=AUTH) as resp:
            assert resp.status == 418
        async with session.put(url + "/__mock/faults", json={"faults": []}) as resp:
            assert resp.status == 200
        async with session.get(url + "/glm/api/paas/v4/files", headers=AUTH) as resp:
            assert resp.status == 200
