"""Every uploader variant against the real mock provider: equivalence, faults, pooling.

The mock runs in its own thread (``MockServer.in_thread``) because ``sync`` and
``naive-async`` block whichever loop they run in, which is the point of them.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import xxhash

from harness.mockprovider import MockConfig, MockServer
from harness.rig.layout import PROVIDER_PATHS, metadata_project_url, provider_url
from uploader.api import Fixes, LocalFile, Outcome, Settings, Target
from uploader.command import CommandUploader
from uploader.naive import NaiveAsyncUploader
from uploader.reference import ReferenceUploader
from uploader.sync_baseline import SyncBaselineUploader

KEY = "sk-test"
MIB = 1024 * 1024
BASES = PROVIDER_PATHS
UPLOAD_ROUTES = {
    "kimi": "POST /files",
    "glm": "POST /files",
    "supabase": "POST storage/v1/object/{bucket}/{path}",
}
CURL = 'curl -sf -X POST -H "Authorization: Bearer {key}" --data-binary @{path} {url}'


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer.in_thread(MockConfig(keys=(KEY,)), port=0) as srv:
        yield srv


def make_files(root: Path, sizes: Sequence[int], seed: int, prefix: str = "f") -> list[LocalFile]:
    rng = random.Random(seed)
    files = []
    for i, size in enumerate(sizes):
        data = rng.randbytes(size)
        path = root / f"{prefix}-{i:03d}.bin"
        path.write_bytes(data)
        files.append(LocalFile(path, size, xxhash.xxh3_128(data).hexdigest()))
    return files


def target_for(srv: MockServer, provider: str, **kw: Any) -> Target:
    # As the worker configures it: metadata rows go to the mock's Supabase project.
    kw.setdefault("metadata_project_url", metadata_project_url(srv.url))
    return Target(provider, provider_url(srv.url, provider), KEY, **kw)  # type: ignore[arg-type]


def control(srv: MockServer, method: str, path: str, **kw: Any) -> Any:
    resp = httpx.request(method, f"{srv.url}/__mock/{path}", timeout=30, **kw)
    resp.raise_for_status()
    return resp.json()


def upload_records(srv: MockServer, provider: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = control(srv, "GET", "stats")["requests"]
    return [r for r in records if r["provider"] == provider]


def stored(
    srv: MockServer, provider: str, files: Sequence[LocalFile]
) -> dict[str, tuple[int, str]]:
    """name -> (bytes, content hash) of what the mock holds for each file."""
    if provider == "supabase":
        out = {}
        headers = {"Authorization": f"Bearer {KEY}", "apikey": KEY}
        with httpx.Client(base_url=f"{srv.url}/supabase/storage/v1", headers=headers) as client:
            for f in files:
                resp = client.get(f"/object/info/uploads/{f.name}")
                if resp.status_code == 200:
                    info = resp.json()
                    out[f.name] = (info["size"], info["etag"].strip('"'))
        return out
    # The provider's own file list says what is stored (a lost answer still stores);
    # the mock's record of the request that created each file says what it hashed.
    listed: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100} if provider == "glm" else {}
    while True:  # GLM pages its list (has_more, after); Kimi sends it whole
        page = httpx.get(
            f"{srv.url}{BASES[provider]}/files",
            headers={"Authorization": f"Bearer {KEY}"},
            params=params,
        ).json()
        listed += page["data"]
        if not page.get("has_more"):
            break
        params["after"] = listed[-1]["id"]
    names = Counter(f["filename"] for f in listed)
    assert all(n == 1 for n in names.values()), f"duplicate uploads: {names.most_common(3)}"
    created = {
        r["object_id"]: r
        for r in upload_records(srv, provider)
        if r["route"] == UPLOAD_ROUTES[provider] and r["object_id"]
    }
    return {f["filename"]: (f["bytes"], created[f["id"]]["content_hash"]) for f in listed}


def normalised(outcomes: Sequence[Outcome]) -> list[tuple[str, int, str, int]]:
    return [(o.name, o.size, o.outcome, o.bytes_sent) for o in outcomes]


async def run_variant(
    name: str, files: list[LocalFile], target: Target, s: Settings
) -> list[Outcome]:
    if name == "sync":
        return await asyncio.to_thread(SyncBaselineUploader().upload_many, files, target, s)
    if name == "naive-async":
        return await NaiveAsyncUploader().upload_many(files, target, s)
    if name == "async":
        return await ReferenceUploader().upload_many(files, target, s)
    if name.startswith("async["):
        off = name[len("async[") : -len("=off]")]
        return await ReferenceUploader(Fixes(**{off: False})).upload_many(files, target, s)
    assert name == "cmd:curl"
    return await CommandUploader(CURL).upload_many(files, target, s)


@pytest.mark.parametrize("provider", ["kimi", "glm", "supabase"])
async def test_every_variant_stores_the_same_bytes(
    server: MockServer, tmp_path: Path, provider: str
) -> None:
    sizes = [1, 1000, 256 * 1024 + 1, 3 * MIB + 5]
    if provider == "supabase":
        sizes.append(7 * MIB)  # at or above tus_threshold_bytes: TUS for the reference
    files = make_files(tmp_path, sizes, seed=3)
    target = target_for(server, provider)
    variants = ["sync", "naive-async", "async"] + [f"async[{fix}=off]" for fix in Fixes.names()]
    if provider == "supabase":
        variants.append("cmd:curl")
    expected = {f.name: (f.size, f.content_hash) for f in files}
    results = {}
    for variant in variants:
        control(server, "POST", "reset")
        outcomes = await run_variant(variant, files, target, Settings(concurrency=3))
        assert [o.outcome for o in outcomes] == ["ok"] * len(files), (variant, outcomes)
        assert all(o.file_id for o in outcomes if variant != "cmd:curl"), variant
        assert stored(server, provider, files) == expected, variant
        rows = [
            r
            for r in control(server, "GET", "stats")["requests"]
            if r["route"].startswith("POST rest/v1/") and r["status"] == 201
        ]
        if variant != "cmd:curl":  # an external command records no metadata
            assert len(rows) == len(files), variant
        results[variant] = normalised(outcomes)
    first = results[variants[0]]
    for variant in variants[1:]:
        assert results[variant] == first, variant


FAULTS = {
    "seed": 1,
    "faults": [
        {"type": "http_error", "status": 503, "probability": 0.05, "target": {"method": "POST"}},
        {"type": "abort_mid_body", "after_pct": 50, "mode": "rst", "probability": 0.01},
        {"type": "stall", "after_bytes": 0, "probability": 0.01},
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["supabase", "kimi", "glm"])
async def test_reference_survives_faults_without_duplicates(
    server: MockServer, tmp_path: Path, provider: str
) -> None:
    rng = random.Random(11)
    files = make_files(tmp_path, [rng.randint(2_000, 64_000) for _ in range(200)], seed=5)
    control(server, "POST", "reset")
    control(server, "PUT", "faults", json=FAULTS)
    settings = Settings(
        concurrency=8,
        stall_timeout_s=0.5,
        backoff_base_s=0.02,
        backoff_cap_s=0.3,
        max_attempts=8,
        seed=2,
    )
    try:
        outcomes = await ReferenceUploader().upload_many(
            files, target_for(server, provider), settings
        )
        stats = control(server, "GET", "stats")
    finally:
        control(server, "PUT", "faults", json={"seed": 0, "faults": []})
    by_name = {o.name: o for o in outcomes}
    failed = [o for o in outcomes if o.outcome != "ok"]
    assert not failed, failed[:3]
    assert stored(server, provider, files) == {f.name: (f.size, f.content_hash) for f in files}
    applied = stats["totals"]["faults_applied"]
    # The seed must exercise every fault: the watchdog, the resets and the 503s.
    assert applied.get("stall", 0) > 0, applied
    assert applied.get("abort_mid_body", 0) > 0, applied
    assert applied.get("http_error", 0) > 0, applied
    upload_route = UPLOAD_ROUTES[provider]
    faulted_uploads = [
        r for r in stats["requests"] if r["route"] == upload_route and r["fault"] is not None
    ]
    for rec in faulted_uploads:
        # Faults before the body leave no filename in the record; a Supabase path names
        # the object, a Kimi multipart request only counts (below).
        name = rec["filename"] or (
            rec["path"].rsplit("/", 1)[-1] if provider == "supabase" else None
        )
        if name is not None:
            assert by_name[name].attempts > 1, rec
    ok_writes = Counter(
        r["filename"]
        for r in stats["requests"]
        if r["route"] == upload_route and r["status"] == 200
    )
    assert set(ok_writes.values()) == {1}  # each object written exactly once
    assert sum(o.attempts - 1 for o in outcomes) >= len(faulted_uploads)
    # Each stall was ended by the client's stall watchdog: the mock stops a stall once the
    # client has gone (else after 600 s), and nothing but the watchdog makes this client go
    # (its session has no read or total timeout). Gone before min_timeout_s, the smallest
    # size-aware deadline of these files, is the stall limit, not the deadline or a
    # default; gone no sooner than about stall_timeout_s is no earlier error. The retry
    # that followed is counted above.
    stalls = [r for r in stats["requests"] if "stall" in (r["fault"] or "")]
    assert len(stalls) == applied["stall"], stalls
    for rec in stalls:
        assert rec["status"] is None, rec  # never answered
        assert settings.stall_timeout_s / 2 <= rec["duration_s"] < settings.min_timeout_s, rec


@pytest.mark.parametrize("provider", ["kimi", "glm", "supabase"])
async def test_connections_per_variant(server: MockServer, tmp_path: Path, provider: str) -> None:
    files = make_files(tmp_path, [50_000] * 12, seed=7)
    target = target_for(server, provider, record_metadata=False)
    settings = Settings(concurrency=3)

    async def connections(run: Any) -> int:
        control(server, "POST", "reset")
        outcomes = await run
        assert {o.outcome for o in outcomes} == {"ok"}
        # Distinct connections that carried provider requests: the totals'
        # connections_accepted also counts this test's own /__mock/ control calls.
        return len({r["connection_id"] for r in upload_records(server, provider)})

    pooled = await connections(ReferenceUploader().upload_many(files, target, settings))
    assert 1 <= pooled <= settings.concurrency
    unpooled = await connections(
        ReferenceUploader(Fixes(pooling=False)).upload_many(files, target, settings)
    )
    assert unpooled == len(files)
    legacy = await connections(
        asyncio.to_thread(SyncBaselineUploader().upload_many, files, target, settings)
    )
    assert legacy == len(files)


@pytest.mark.parametrize(
    ("provider", "fault", "expected_waits", "outcome"),
    [
        # Kimi's wait is only in the message: "please try again after 1 seconds".
        ("kimi", {"type": "rate_limit", "style": "kimi_rpm", "max_count": 2}, [1.0, 1.0], "ok"),
        # Retry-After header on a 503 (seconds form).
        ("supabase", {"type": "http_error", "status": 503, "retry_after_s": 2}, [2.0], "ok"),
        # Supabase's 429 SlowDown, sent as HTTP 400 with the real status in the body.
        ("supabase", {"type": "rate_limit", "style": "supabase", "retry_after_s": 3}, [3.0], "ok"),
        # A quota error never clears by waiting: no retry at all.
        ("kimi", {"type": "rate_limit", "style": "kimi_quota"}, [], "http_error"),
        # Longer than retry_after_cap_s (30 s): report instead of waiting minutes.
        ("glm", {"type": "http_error", "status": 503, "retry_after_s": 120}, [], "http_error"),
    ],
)
async def test_reference_honours_the_servers_wait(
    server: MockServer,
    tmp_path: Path,
    provider: str,
    fault: dict[str, Any],
    expected_waits: list[float],
    outcome: str,
) -> None:
    """The waits between attempts come from the server's answer, via an injected sleep
    that records instead of sleeping."""
    files = make_files(tmp_path, [10_000], seed=9)
    route = "storage/v1/object/*" if provider == "supabase" else "/files"
    spec = {"max_count": 1, **fault, "target": {"provider": provider, "route": route}}
    control(server, "POST", "reset")
    control(server, "PUT", "faults", json={"seed": 0, "faults": [spec]})
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    try:
        (result,) = await ReferenceUploader(sleep=record).upload_many(
            files, target_for(server, provider, record_metadata=False), Settings()
        )
    finally:
        control(server, "PUT", "faults", json={"seed": 0, "faults": []})
    assert waits == expected_waits
    assert result.outcome == outcome, result.error
    assert result.attempts == len(expected_waits) + 1
    assert KEY not in (result.error or "")


async def test_cmd_variant_reads_json_ids_and_exit_codes(
    server: MockServer, tmp_path: Path
) -> None:
    files = make_files(tmp_path, [5_000, 70_000], seed=12)
    control(server, "POST", "reset")
    kimi = CommandUploader(
        'curl -sf -H "Authorization: Bearer {key}" -F purpose=file-extract -F file=@{path} {url}'
    )
    outcomes = await kimi.upload_many(files, target_for(server, "kimi"), Settings(concurrency=2))
    assert [o.outcome for o in outcomes] == ["ok", "ok"]
    assert all(o.file_id for o in outcomes)  # taken from the JSON FileObject on stdout
    assert [o.bytes_sent for o in outcomes] == [f.size for f in files]
    supabase = target_for(server, "supabase")
    first = await CommandUploader(CURL).upload_many(files[:1], supabase, Settings())
    assert first[0].outcome == "ok"
    assert first[0].file_id == f"uploads/{files[0].name}"  # Supabase's {"Key": ...}
    again = await CommandUploader(CURL).upload_many(files[:1], supabase, Settings())
    assert again[0].outcome == "http_error"  # curl -f exits 22 on the Duplicate answer
    assert KEY not in (again[0].error or "")
    missing = await CommandUploader("no-such-program-xyz {path}").upload_many(
        files[:1], supabase, Settings()
    )
    assert missing[0].outcome == "connection_error"
    assert "cannot run" in (missing[0].error or "")


async def test_tus_resumes_from_the_servers_offset(server: MockServer, tmp_path: Path) -> None:
    """Cut PATCHes mid-body: the reference asks HEAD where the server is and sends only
    the rest, so the mock receives little more than the file, and stores it intact."""
    (big,) = make_files(tmp_path, [20 * MIB + 123], seed=13)
    control(server, "POST", "reset")
    cuts = {
        "type": "abort_mid_body",
        "after_pct": 50,
        "mode": "rst",
        "max_count": 3,
        "target": {"provider": "supabase", "method": "PATCH"},
    }
    control(server, "PUT", "faults", json={"seed": 4, "faults": [cuts]})
    try:
        (result,) = await ReferenceUploader().upload_many(
            [big],
            target_for(server, "supabase", record_metadata=False),
            Settings(backoff_base_s=0.01, backoff_cap_s=0.05),
        )
        stats = control(server, "GET", "stats")
    finally:
        control(server, "PUT", "faults", json={"seed": 0, "faults": []})
    assert result.outcome == "ok", result.error
    assert result.attempts == 4  # three cuts, each followed by a HEAD re-sync
    assert stored(server, "supabase", [big]) == {big.name: (big.size, big.content_hash)}
    patches = [r for r in stats["requests"] if r["method"] == "PATCH"]
    heads = [r for r in stats["requests"] if r["method"] == "HEAD"]
    assert len(heads) == 3
    assert sum(r["fault"] == "abort_mid_body" for r in patches) == 3
    # Resumed, not restarted: at most the three cut halves are sent twice.
    assert stats["totals"]["bytes_received"] < big.size + 3 * 6 * MIB


@pytest.mark.parametrize("provider", ["kimi", "glm", "supabase"])
@pytest.mark.parametrize("mode", ["fin", "hang"])
async def test_lost_answer_does_not_duplicate(
    server: MockServer, tmp_path: Path, provider: str, mode: str
) -> None:
    """The server stores the file but the answer is lost (closed, or never sent): Kimi and
    GLM uploads are found by listing before any retry; Supabase retries with upsert."""
    files = make_files(tmp_path, [30_000, 40_000], seed=14)
    route = "storage/v1/object/*" if provider == "supabase" else "/files"
    drop = {
        "type": "drop_response",
        "mode": mode,
        "max_count": 1,
        "target": {"provider": provider, "route": route},
    }
    control(server, "POST", "reset")
    control(server, "PUT", "faults", json={"seed": 0, "faults": [drop]})
    try:
        outcomes = await ReferenceUploader().upload_many(
            files, target_for(server, provider), Settings(stall_timeout_s=0.5, concurrency=1)
        )
        stats = control(server, "GET", "stats")
    finally:
        control(server, "PUT", "faults", json={"seed": 0, "faults": []})
    assert [o.outcome for o in outcomes] == ["ok", "ok"], outcomes
    assert stats["totals"]["faults_applied"] == {"drop_response": 1}
    assert stored(server, provider, files) == {f.name: (f.size, f.content_hash) for f in files}
    if provider != "supabase":  # the ids reported are the ones the provider holds
        listed = httpx.get(
            f"{server.url}{BASES[provider]}/files", headers={"Authorization": f"Bearer {KEY}"}
        ).json()["data"]
        assert {o.file_id for o in outcomes} == {f["id"] for f in listed}
