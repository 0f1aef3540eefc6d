"""The server-side checks (harness.checks): which files the provider holds intact, and a
lost file counted as a failed upload. Pure functions: no sockets, no processes."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checks import charge_lost_files, count_integrity_errors, judge_records, lost_files
from harness.metrics import METRIC_NAMES


def _file(name: str, digest: str, size: int = 1000) -> dict[str, Any]:
    return {"name": name, "size": size, "content_hash": digest}


def _request(filename: str | None, digest: str | None, size: int = 1000, status: int = 200) -> Any:
    return {
        "filename": filename,
        "path": "/kimi/v1/files",
        "content_hash": digest,
        "content_bytes": size,
        "status": status,
    }


def test_integrity_check_matches_files_to_what_the_server_received() -> None:
    files = [_file("a.bin", "h-a"), _file("b.bin", "h-b"), _file("c.bin", "h-c")]
    records = [
        {"name": "a.bin", "outcome": "ok"},
        {"name": "b.bin", "outcome": "ok"},
        {"name": "c.bin", "outcome": "timeout"},  # not claimed uploaded: not checked
    ]
    good = [_request("a.bin", "h-a"), _request("b.bin", "h-b")]
    assert count_integrity_errors(files, records, good) == 0
    # b arrived with other bytes; a failed request of a does not count as received.
    bad = [_request("a.bin", "h-a"), _request("b.bin", "h-x")]
    assert count_integrity_errors(files, records, bad) == 1
    assert count_integrity_errors(files, records, [_request("a.bin", "h-a", status=503)]) == 2
    # Truncated: right name, fewer bytes.
    short = [_request("a.bin", "h-a"), _request("b.bin", "h-b", size=999)]
    assert count_integrity_errors(files, records, short) == 1


def test_integrity_check_falls_back_to_content_when_objects_are_renamed() -> None:
    files = [_file("a.bin", "h-a")]
    records = [{"name": "a.bin", "outcome": "ok"}]
    renamed = [{**_request(None, "h-a"), "path": "/supabase/storage/v1/object/uploads/x/1"}]
    assert count_integrity_errors(files, records, renamed) == 0
    by_path = [{**_request(None, "h-a"), "path": "/supabase/storage/v1/object/uploads/a.bin"}]
    assert count_integrity_errors(files, records, by_path) == 0
    # The uploader's own integrity verdict counts too.
    assert count_integrity_errors(files, [{"name": "a.bin", "outcome": "integrity_error"}], []) == 1


def test_every_lost_file_is_named_with_a_one_line_reason() -> None:
    files = [_file("a.bin", "h-a"), _file("b.bin", "h-b"), _file("c.bin", "h-c")]
    records = [
        {"name": "a.bin", "outcome": "ok"},
        {"name": "b.bin", "outcome": "ok"},
        {"name": "c.bin", "outcome": "integrity_error", "error": "size mismatch"},
        {"name": "d.bin", "outcome": "ok"},
    ]
    requests = [_request("a.bin", "h-a"), _request("b.bin", "h-x", size=10)]
    reasons = judge_records(files, records, requests)
    assert reasons[0] is None
    assert reasons[1] == "reported ok, but the server holds 10 B of 1000 B (content hash differs)"
    assert reasons[2] == "the uploader reported an integrity error: size mismatch"
    assert reasons[3] == "reported ok for a file that is not one of the trial's files"
    assert lost_files(records, reasons) == [
        {"name": "b.bin", "reason": reasons[1]},
        {"name": "c.bin", "reason": reasons[2]},
        {"name": "d.bin", "reason": reasons[3]},
    ]
    # Same size, other bytes (a flipped byte) and nothing received at all.
    flipped = judge_records(files[:1], records[:1], [_request("a.bin", "h-x")])
    assert flipped == ["reported ok, but the server holds other bytes of the same size "
                       "(content hash differs)"]  # fmt: skip
    assert judge_records(files[:1], records[:1], []) == [
        "reported ok, but the server received no successful upload of its content"
    ]


def _metrics(**values: float | None) -> dict[str, float | None]:
    metrics: dict[str, float | None] = dict.fromkeys(METRIC_NAMES)
    metrics.update(values)
    return metrics


def test_a_lost_file_leaves_success_and_throughput_and_enters_errors() -> None:
    records = [
        {"name": "a", "size": 100, "outcome": "ok"},
        {"name": "b", "size": 300, "outcome": "ok"},
        {"name": "c", "size": 50, "outcome": "timeout"},
        {"name": "d", "size": 50, "outcome": "http_error"},
    ]
    claimed = _metrics(
        wall_s=2.0,
        success_rate=0.5,
        timeout_rate=0.25,
        error_rate=0.25,
        throughput_bytes_per_s=200.0,
        files_per_s=1.0,
        integrity_errors=0,
        latency_p50_s=0.7,
    )
    charged = charge_lost_files(claimed, records, [None, "corrupted", None, None])
    assert charged["success_rate"] == pytest.approx(0.25)
    assert charged["error_rate"] == pytest.approx(0.5)
    assert charged["timeout_rate"] == pytest.approx(0.25)
    assert charged["throughput_bytes_per_s"] == pytest.approx(50.0)
    assert charged["files_per_s"] == pytest.approx(0.5)
    assert charged["integrity_errors"] == 1
    assert charged["latency_p50_s"] == 0.7  # what the uploader measured stays
    rates = ("success_rate", "timeout_rate", "error_rate")
    assert sum(charged[name] or 0.0 for name in rates) == pytest.approx(1.0)
    # Nothing lost: the worker's numbers, recomputed the same way, are unchanged.
    same = charge_lost_files(claimed, records, [None] * 4)
    for name in ("success_rate", "error_rate", "throughput_bytes_per_s", "files_per_s"):
        assert same[name] == pytest.approx(claimed[name])


def test_every_file_lost_is_zero_success_and_zero_throughput() -> None:
    records = [{"name": n, "size": 10, "outcome": "ok"} for n in "abc"]
    claimed = _metrics(wall_s=1.0, success_rate=1.0, error_rate=0.0, timeout_rate=0.0)
    charged = charge_lost_files(claimed, records, ["x"] * 3)
    assert charged["success_rate"] == 0.0
    assert charged["error_rate"] == 1.0
    assert charged["throughput_bytes_per_s"] == 0.0
    assert charged["files_per_s"] == 0.0
    assert charged["integrity_errors"] == 3


def test_records_of_a_trial_without_files_leave_rates_alone() -> None:
    charged = charge_lost_files(_metrics(success_rate=None), [], [])
    assert charged["success_rate"] is None
    assert charged["integrity_errors"] == 0
