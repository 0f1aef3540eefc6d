"""Profile analysis on a real memray capture made here.

Captures are made in fixtures: under ``pytest --memray`` the test body already runs inside
pytest-memray's Tracker, and only one Tracker may be active per process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import memray
import pytest

from harness.errors import HarnessError
from harness.profile import (
    MEMORY_METRICS,
    analyse_capture,
    downsample_max,
    external_resources,
    profile_trial,
    scrub_timing,
    trial_stem,
)

MIB = 1024 * 1024
HELD = 24 * MIB


def hold_buffers(spec: dict[str, Any]) -> dict[str, Any]:
    """A stand-in trial that buffers like the sync baseline: one whole 'file' in memory."""
    body = bytearray(HELD)
    time.sleep(0.05)  # let the 10 ms snapshot thread see the buffer
    small = [bytearray(64 * 1024) for _ in range(4)]
    return {
        "variant": spec["variant"],
        "profiled": False,
        "metrics": {
            "wall_s": 0.5,
            "latency_p50_s": 0.25,
            "latency_p99_s": 999.0,
            "throughput_bytes_per_s": float(len(body) + sum(map(len, small))),
            "success_rate": 1.0,
            "rss_peak_bytes": None,
            "heap_peak_bytes": None,
        },
        "records": [{"size": HELD, "outcome": "ok"}],
    }


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    run_dir = tmp_path_factory.mktemp("run")
    spec = {
        "variant": "sync",
        "concurrency": 1,
        "repeat": 0,
        "scenario": "unit",
        "run_dir": str(run_dir),
        "profile_dir": str(run_dir / "profiles"),
    }
    return run_dir, profile_trial(spec, hold_buffers)


def test_heap_peak_is_the_exact_buffer(profiled: tuple[Path, dict[str, Any]]) -> None:
    _, result = profiled
    peak = result["metrics"]["heap_peak_bytes"]
    assert peak == result["profile"]["heap_peak_bytes"]
    # the 24 MiB body plus four 64 KiB buffers plus a little interpreter bookkeeping
    assert HELD + 4 * 64 * 1024 <= peak < HELD + 4 * MIB


def test_timing_metrics_are_nulled(profiled: tuple[Path, dict[str, Any]]) -> None:
    _, result = profiled
    metrics = result["metrics"]
    assert result["profiled"] is True
    for key in ("wall_s", "latency_p50_s", "latency_p99_s", "throughput_bytes_per_s"):
        assert metrics[key] is None
    assert metrics["success_rate"] is None
    # the sampled RSS fills the gap the stand-in left
    assert metrics["rss_peak_bytes"] == result["profile"]["rss_peak_bytes"] > HELD


def test_top_allocation_points_at_the_buffering_line(
    profiled: tuple[Path, dict[str, Any]],
) -> None:
    _, result = profiled
    top = result["profile"]["top_allocations"]
    assert 1 <= len(top) <= 10
    assert top[0]["location"].endswith("hold_buffers")
    assert "test_profile_capture.py:" in top[0]["location"]
    assert top[0]["bytes"] >= HELD
    assert [t["bytes"] for t in top] == sorted((t["bytes"] for t in top), reverse=True)


def test_memory_over_time_sees_the_buffer(profiled: tuple[Path, dict[str, Any]]) -> None:
    _, result = profiled
    timeline = result["profile"]["memory_over_time"]
    assert 1 <= len(timeline) <= 200
    times = [t for t, _ in timeline]
    assert times == sorted(times)
    assert times[0] >= 0
    assert max(h for _, h in timeline) >= HELD


def test_files_are_in_the_run_folder_and_paths_relative(
    profiled: tuple[Path, dict[str, Any]],
) -> None:
    run_dir, result = profiled
    profile = result["profile"]
    assert profile["flamegraph"] == "profiles/unit-sync-1-0.html"
    assert profile["capture"] == "profiles/unit-sync-1-0.bin"
    assert (run_dir / profile["capture"]).stat().st_size > 0
    json.dumps(result)  # the whole result is JSON as it stands


def test_flamegraph_is_self_contained(profiled: tuple[Path, dict[str, Any]]) -> None:
    run_dir, result = profiled
    html = (run_dir / result["profile"]["flamegraph"]).read_text(encoding="utf-8")
    assert "<html" in html.lower()
    assert "hold_buffers" in html
    assert external_resources(html) == []
    assert "cdn.jsdelivr.net" not in html


def test_external_resources_finds_what_a_browser_would_fetch() -> None:
    html = """<html><head>
    <script src="https://cdn.jsdelivr.net/npm/d3@7"></script>
    <link rel="stylesheet" href="//cdn.example/x.css">
    <style>body { background: url('http://img.example/bg.png') }</style>
    </head><body>
    <a href="https://bloomberg.github.io/memray/">docs</a>
    <img src="data:image/png;base64,AAAA">
    <script>var s = '<script src="https://not.loaded/by/parser.js">';</script>
    <div style="background:url(https://inline.example/i.png)"></div>
    </body></html>"""
    assert external_resources(html) == [
        "https://cdn.jsdelivr.net/npm/d3@7",
        "//cdn.example/x.css",
        "http://img.example/bg.png",
        "https://inline.example/i.png",
    ]


def test_downsample_keeps_peaks_and_bounds_the_count() -> None:
    points = [(i / 100, 10) for i in range(1000)]
    points[537] = (5.37, 9999)
    thin = downsample_max(points, 200)
    assert len(thin) == 200
    assert [5.37, 9999.0] in thin
    assert downsample_max(points[:3], 200) == [[0.0, 10.0], [0.01, 10.0], [0.02, 10.0]]
    with pytest.raises(ValueError, match="at least 1"):
        downsample_max(points, 0)


def test_scrub_keeps_only_memory_metrics() -> None:
    metrics = {"wall_s": 1.0, "heap_peak_bytes": 5, "rss_peak_bytes": 7, "retries": 2}
    assert scrub_timing(metrics) == {
        "wall_s": None,
        "heap_peak_bytes": 5,
        "rss_peak_bytes": 7,
        "retries": None,
    }
    assert set(MEMORY_METRICS) == {"heap_peak_bytes", "rss_peak_bytes"}


def test_trial_stem_is_a_safe_file_name() -> None:
    assert trial_stem({"trial_id": "nightly/async[streaming=off] c4 r1"}) == (
        "nightly_async_streaming_off_c4_r1"
    )
    assert trial_stem({"variant": "sync", "repeat": 2}) == "sync-2"
    assert trial_stem({}) == "trial"


def test_missing_profile_dir_is_a_harness_error() -> None:
    with pytest.raises(HarnessError, match="profile_dir"):
        profile_trial({"variant": "sync"}, hold_buffers)


def test_unreadable_capture_is_a_harness_error(tmp_path: Path) -> None:
    bogus = tmp_path / "x.bin"
    bogus.write_bytes(b"not a capture")
    with pytest.raises(HarnessError, match="cannot read memray capture"):
        analyse_capture(bogus)


@pytest.fixture
def capture_of_many_snapshots(tmp_path: Path) -> Path:
    path = tmp_path / "long.bin"
    with memray.Tracker(
        destination=memray.FileDestination(path, overwrite=True),
        memory_interval_ms=1,
        file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS,
    ):
        keep = []
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline and len(keep) < 400:
            keep.append(bytearray(16 * 1024))
            time.sleep(0.001)
    return path


def test_long_captures_are_thinned_to_the_point_budget(capture_of_many_snapshots: Path) -> None:
    summary = analyse_capture(capture_of_many_snapshots, max_points=50)
    assert 1 <= len(summary.memory_over_time) <= 50
    assert summary.heap_peak_bytes >= max(h for _, h in summary.memory_over_time)
