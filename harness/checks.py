"""What the server saw, judged: pure functions of a trial's data, no I/O.

The worker reports what the uploader *claimed*; the mock records what it *received*
(per-request content hash and size, connections). These functions turn the two into the
trial's server-side facts:

- :func:`judge_records`: for each file the uploader called ``ok``, whether the provider
  holds its bytes; a file it does not hold (or holds corrupted) is **lost**.
- :func:`charge_lost_files`: a lost file is a failed upload: it leaves ``success_rate``,
  enters ``error_rate``, its bytes leave ``throughput_bytes_per_s`` and ``files_per_s``,
  and ``integrity_errors`` counts it. Success means the provider holds the right bytes.
- :func:`count_connections`, :func:`mock_summary`: the connection count and the trial's
  ``mock`` block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.results.contract import LostFile, Metrics

__all__ = [
    "charge_lost_files",
    "count_connections",
    "count_handshakes",
    "count_integrity_errors",
    "judge_records",
    "lost_files",
    "mock_summary",
]


def _success(status: Any) -> bool:
    return isinstance(status, int) and 200 <= status < 300


def _content_size(request: Mapping[str, Any]) -> int:
    size = request.get("content_bytes")
    return int(size if size is not None else request.get("bytes", 0))


def _names(request: Mapping[str, Any], name: str) -> bool:
    for key in ("filename", "object_id", "path"):
        value = request.get(key)
        if isinstance(value, str) and (value == name or value.endswith("/" + name)):
            return True
    return False


def judge_records(
    files: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    requests: Sequence[Mapping[str, Any]],
) -> list[str | None]:
    """For each record, why its file is lost (one line), or None when it is not.

    ``files``: name, size, content_hash of each local file; ``records``: the worker's
    per-file records (name, outcome, error); ``requests``: the mock's per-request stats.

    A file is lost when the uploader itself reported ``integrity_error``, or when it
    reported ``ok`` but no successful request carries its content hash and size. Requests
    are matched to a file by name (multipart file name, or an object path ending in it) and,
    when none names it, by content alone (an uploader may rename objects). Other outcomes
    (timeouts, HTTP errors) are failures already and are not judged again."""
    received = [r for r in requests if _success(r.get("status")) and r.get("content_hash")]
    by_hash = {(r["content_hash"], _content_size(r)) for r in received}
    local = {str(f["name"]): f for f in files}
    reasons: list[str | None] = []
    for record in records:
        reasons.append(_judge(record, local, received, by_hash))
    return reasons


def _judge(
    record: Mapping[str, Any],
    local: Mapping[str, Mapping[str, Any]],
    received: Sequence[Mapping[str, Any]],
    by_hash: set[tuple[Any, int]],
) -> str | None:
    outcome = record.get("outcome")
    if outcome == "integrity_error":
        said = record.get("error")
        return "the uploader reported an integrity error" + (f": {said}" if said else "")
    if outcome != "ok":
        return None
    name = str(record.get("name"))
    file = local.get(name)
    if file is None:
        return "reported ok for a file that is not one of the trial's files"
    size = int(file["size"])
    want = (file["content_hash"], size)
    named = [r for r in received if _names(r, name)]
    if named:
        if any((r["content_hash"], _content_size(r)) == want for r in named):
            return None
        got = _content_size(named[-1])
        detail = "other bytes of the same size" if got == size else f"{got} B of {size} B"
        return f"reported ok, but the server holds {detail} (content hash differs)"
    if want in by_hash:
        return None
    return "reported ok, but the server received no successful upload of its content"


def lost_files(
    records: Sequence[Mapping[str, Any]], reasons: Sequence[str | None]
) -> list[LostFile]:
    """The trial's ``lost_files``: name and reason of each record judged lost."""
    return [
        {"name": str(record.get("name")), "reason": reason}
        for record, reason in zip(records, reasons, strict=True)
        if reason is not None
    ]


def count_integrity_errors(
    files: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    requests: Sequence[Mapping[str, Any]],
) -> int:
    """How many files are lost (see :func:`judge_records`)."""
    return sum(1 for reason in judge_records(files, records, requests) if reason is not None)


def charge_lost_files(
    metrics: Mapping[str, float | None],
    records: Sequence[Mapping[str, Any]],
    reasons: Sequence[str | None],
) -> Metrics:
    """``metrics`` with every lost file counted as a failed upload.

    The worker's rates count the uploader's claims; here a file judged lost stops being a
    success. ``success_rate``, ``error_rate``, ``throughput_bytes_per_s`` and
    ``files_per_s`` are recomputed from the records (as the worker computes them, see
    :mod:`harness.worker`), ``integrity_errors`` becomes the number of lost files, and
    everything else (latency, wall time, CPU, memory) is the worker's."""
    out: Metrics = dict(metrics)
    lost = [reason is not None for reason in reasons]
    out["integrity_errors"] = sum(lost)
    n = len(records)
    if n == 0:
        return out
    kept = [
        record
        for record, is_lost in zip(records, lost, strict=True)
        if record.get("outcome") == "ok" and not is_lost
    ]
    timeouts = sum(1 for record in records if record.get("outcome") == "timeout")
    out["success_rate"] = len(kept) / n
    out["error_rate"] = (n - len(kept) - timeouts) / n
    wall = metrics.get("wall_s")
    if wall is not None and wall > 0:
        out["throughput_bytes_per_s"] = sum(int(r.get("size", 0)) for r in kept) / wall
        out["files_per_s"] = len(kept) / wall
    return out


def count_connections(stats: Mapping[str, Any]) -> int:
    """Connections the uploader used, as the mock saw them: its ``provider_connections``
    total, counted as requests arrive, so requests still held (a ``drop_response`` hang, a
    killed worker's upload) and records dropped past the mock's cap count too. Its
    ``connections_accepted`` would also count the harness's own control connections. An
    older mock without that total: distinct connection ids of the recorded requests."""
    totals = stats.get("totals", {})
    if "provider_connections" in totals:
        return int(totals["provider_connections"])
    requests = stats.get("requests", [])
    return len({r.get("connection_id") for r in requests if r.get("connection_id") is not None})


def count_handshakes(stats: Mapping[str, Any]) -> int:
    """TLS handshakes the uploader paid for: those of the connections that carried its
    requests (the mock's ``provider_handshakes``; 0 over plain HTTP or from an older mock).
    A connection kept alive from an earlier trial carries no new handshake."""
    return int(stats.get("totals", {}).get("provider_handshakes", 0))


def mock_summary(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's ``mock`` block: what the server saw and which faults it applied;
    ``tls_handshakes`` is :func:`count_handshakes`, beside ``provider_connections``."""
    totals = stats.get("totals", {})
    return {
        "faults_applied": dict(totals.get("faults_applied", {})),
        "requests": int(totals.get("requests", 0)),
        "by_status": dict(totals.get("by_status", {})),
        "bytes_received": int(totals.get("bytes_received", 0)),
        "connections_accepted": int(totals.get("connections_accepted", 0)),
        "provider_connections": count_connections(stats),
        "tls_handshakes": count_handshakes(stats),
    }
