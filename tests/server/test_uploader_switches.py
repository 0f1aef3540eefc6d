"""Each of the reference's five switches, turned off, brings back its bottleneck.

One test per switch runs the switched-off variant and the reference (all on) side by side
against the real mock and asserts on what the bottleneck changes: requests in flight,
event-loop gaps, heap peak. The mock runs in its own thread because two of the switched-off
variants block the test's loop on purpose. Thresholds are orderings with wide margins
(this runs on a loaded 2-core machine, under ``pytest --memray`` in CI), never absolute
speeds.

``pooling=off`` (one connection per upload against at most ``concurrency``) is shown by
``test_uploader_variants.py::test_connections_per_variant`` and is not repeated here.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import xxhash

from harness.looplag import LoopLagSampler
from harness.mockprovider import MockServer
from harness.rig.layout import PROVIDER_PATHS, metadata_project_url, provider_url
from uploader.api import Fixes, LocalFile, Outcome, Settings, Target
from uploader.reference import ReferenceUploader

KEY = "sk-test"  # tests/conftest.py's MOCK_KEY
KIB = 1024
MIB = 1024 * KIB
BASES = PROVIDER_PATHS


def control(srv: MockServer, method: str, path: str, **kw: Any) -> Any:
    resp = httpx.request(method, f"{srv.url}/__mock/{path}", timeout=30, **kw)
    resp.raise_for_status()
    return resp.json()


def install(srv: MockServer, faults: list[dict[str, Any]]) -> None:
    control(srv, "POST", "reset")
    control(srv, "PUT", "faults", json={"seed": 0, "faults": faults})


def target(srv: MockServer, provider: str, **kw: Any) -> Target:
    # As the worker configures it: metadata rows go to the mock's Supabase project.
    kw.setdefault("metadata_project_url", metadata_project_url(srv.url))
    return Target(provider, provider_url(srv.url, provider), KEY, **kw)  # type: ignore[arg-type]


def write_file(path: Path, size: int) -> LocalFile:
    """``size`` bytes of varied content, written in 1 MiB blocks (no big allocation)."""
    block = os.urandom(MIB)
    digest = xxhash.xxh3_128()
    with path.open("wb") as f:
        for i, pos in enumerate(range(0, size, MIB)):
            piece = (i.to_bytes(8, "big") + block[8:])[: min(MIB, size - pos)]
            digest.update(piece)
            f.write(piece)
    return LocalFile(path, size, digest.hexdigest())


def make_files(root: Path, count: int, size: int) -> list[LocalFile]:
    return [write_file(root / f"s-{i:02d}.bin", size) for i in range(count)]


def max_in_flight(records: Sequence[dict[str, Any]]) -> int:
    """Most requests the mock was serving at once, from each record's start and duration
    (one mock clock for all records; an end sorts before a start at the same instant)."""
    events = sorted(
        [(r["started_at"], 1) for r in records]
        + [(r["started_at"] + r["duration_s"], -1) for r in records]
    )
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


async def upload_with_heartbeat(
    fixes: Fixes, files: Sequence[LocalFile], tgt: Target, settings: Settings
) -> tuple[list[Outcome], float]:
    """Upload while a 10 ms heartbeat watches the loop; return the outcomes and the
    longest gap between its wake-ups beyond the interval (seconds)."""
    sampler = LoopLagSampler(interval_s=0.01)
    sampler.start()
    outcomes = await ReferenceUploader(fixes).upload_many(files, tgt, settings)
    stats = await sampler.stop()
    return outcomes, stats.max_s or 0.0  # None: done before the first wake-up


async def test_concurrency_off_sends_one_upload_at_a_time(
    mock_server_thread: MockServer, tmp_path: Path
) -> None:
    """200 ms of provider latency per upload makes any overlap visible in the mock's
    request records; with the switch off a cap of one in flight never answers 429."""
    srv = mock_server_thread
    files = make_files(tmp_path, 6, 20 * KIB)
    tgt = target(srv, "kimi", record_metadata=False)
    upload = {"provider": "kimi", "route": "/files"}
    faults = [
        {"type": "latency", "ms": 200, "target": upload},
        {"type": "concurrency_cap", "max_in_flight": 1, "target": upload},
    ]
    settings = Settings(concurrency=4, backoff_base_s=0.02, backoff_cap_s=0.1, max_attempts=20)
    seen: dict[str, tuple[int, dict[str, int]]] = {}
    for name, fixes in (("off", Fixes(concurrency=False)), ("on", Fixes())):
        install(srv, faults)
        outcomes = await ReferenceUploader(fixes).upload_many(files, tgt, settings)
        stats = control(srv, "GET", "stats")
        uploads = [r for r in stats["requests"] if r["route"] == "POST /files"]
        seen[name] = (max_in_flight(uploads), stats["totals"]["faults_applied"])
        if name == "off":
            assert [(o.outcome, o.attempts) for o in outcomes] == [("ok", 1)] * len(files)
    off_peak, off_faults = seen["off"]
    on_peak, on_faults = seen["on"]
    assert off_peak == 1, seen
    assert "concurrency_cap" not in off_faults, seen
    assert on_peak >= 2, seen  # the reference overlaps uploads...
    assert on_faults.get("concurrency_cap", 0) > 0, seen  # ...which the cap refuses


async def test_offload_blocking_off_blocks_the_loop_for_the_insert(
    mock_server_thread: MockServer, tmp_path: Path
) -> None:
    """The metadata insert answers after 300 ms: made inside the loop (switch off) it
    freezes the heartbeat for that long; the reference's async insert does not."""
    srv = mock_server_thread
    files = make_files(tmp_path, 3, 10 * KIB)
    tgt = target(srv, "supabase")
    meta = {"provider": "supabase", "route": "rest/v1/*"}
    settings = Settings(concurrency=3)
    gaps: dict[str, float] = {}
    for name, fixes in (("off", Fixes(offload_blocking=False)), ("on", Fixes())):
        install(srv, [{"type": "latency", "ms": 300, "target": meta}])  # empties the bucket
        outcomes, gaps[name] = await upload_with_heartbeat(fixes, files, tgt, settings)
        assert [o.outcome for o in outcomes] == ["ok"] * len(files), outcomes
        inserts = [
            r
            for r in control(srv, "GET", "stats")["requests"]
            if r["route"].startswith("POST rest/")
        ]
        assert [(r["fault"], r["status"]) for r in inserts] == [("latency", 201)] * len(files)
    assert gaps["off"] >= 0.25, gaps
    assert gaps["on"] < 0.15, gaps


async def test_streaming_off_holds_the_whole_file(
    mock_server_thread: MockServer, tmp_path: Path
) -> None:
    """tracemalloc's peak over one 32 MiB upload: the whole file without streaming, a few
    chunks of read-ahead with it (the mock in its thread keeps only digests)."""
    srv = mock_server_thread
    size = 32 * MIB
    big = write_file(tmp_path / "big.bin", size)
    tgt = target(srv, "kimi", record_metadata=False)
    peaks: dict[str, int] = {}
    for name, fixes in (("off", Fixes(streaming=False)), ("on", Fixes())):
        install(srv, [])
        tracemalloc.start()
        try:
            (result,) = await ReferenceUploader(fixes).upload_many([big], tgt, Settings())
            peaks[name] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.outcome == "ok", result.error
    assert peaks["off"] >= size, peaks
    assert peaks["on"] <= 8 * MIB, peaks  # 256 KiB chunks, read-ahead 4: ~3 MiB measured


def feed_fifo(path: Path, pieces: int, piece: bytes, pause_s: float) -> threading.Thread:
    """Write ``pieces`` copies of ``piece`` to the FIFO at ``path``, pausing between them:
    storage that delivers a chunk every ``pause_s``."""

    def write() -> None:
        with path.open("wb") as f:  # blocks until the uploader opens the read end
            for i in range(pieces):
                if i:
                    time.sleep(pause_s)
                f.write(piece)
                f.flush()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


async def test_async_file_io_off_blocks_the_loop_on_reads(
    mock_server_thread: MockServer, tmp_path: Path
) -> None:
    """A FIFO fed 64 KiB every 200 ms is slow storage: read inside the loop (switch off)
    each 64 KiB chunk freezes the heartbeat until it arrives; aiofiles waits in a thread."""
    srv = mock_server_thread
    piece, pieces = os.urandom(64 * KIB), 4
    tgt = target(srv, "kimi", record_metadata=False)
    # chunk_size == piece: the body is streamed in four chunks (not one threaded read).
    settings = Settings(chunk_size=len(piece))
    gaps: dict[str, float] = {}
    for name, fixes in (("off", Fixes(async_file_io=False)), ("on", Fixes())):
        install(srv, [])
        path = tmp_path / f"slow-{name}.bin"
        os.mkfifo(path)
        file = LocalFile(path, len(piece) * pieces, xxhash.xxh3_128(piece * pieces).hexdigest())
        writer = feed_fifo(path, pieces, piece, 0.2)
        (result,), gaps[name] = await upload_with_heartbeat(fixes, [file], tgt, settings)
        writer.join(timeout=10)
        assert result.outcome == "ok", result.error
        (rec,) = [r for r in control(srv, "GET", "stats")["requests"] if r["status"] == 200]
        assert rec["content_hash"] == file.content_hash
    assert gaps["off"] >= 0.15, gaps
    assert gaps["on"] < 0.1, gaps
