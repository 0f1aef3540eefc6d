"""Per-request records and running totals, served at ``GET /__mock/stats``.

The ``totals`` (all since the last ``/__mock/reset``):

- ``requests``: provider requests that arrived (``/__mock/`` calls are never counted);
- ``connections_accepted``: every TCP connection the mock accepted, control ones included;
- ``provider_connections``: distinct connections that carried at least one provider request
  (counted when the request arrives, so it includes requests still in flight and records
  dropped past ``max_records``): the connections an uploader opened;
- ``tls_handshakes``: TLS handshakes completed (one per accepted connection over TLS, control
  ones included; 0 over plain HTTP), ``tls_resumed`` of them resumed a session, and
  ``provider_handshakes``: those of the connections that carried a provider request, i.e. the
  handshakes an uploader paid for;
- ``bytes_received``, ``faults_applied`` (by type), ``by_status`` (``"none"``: no answer),
  ``records_dropped`` (oldest records forgotten past ``max_records``).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["RequestRecord", "Stats"]


@dataclass
class RequestRecord:
    """One request as the mock saw it. ``bytes`` counts body bytes the mock consumed
    (multipart framing included); ``content_bytes`` is the size of the file content alone."""

    seq: int
    provider: str
    method: str
    route: str
    path: str
    hash_algo: str
    connection_id: int
    started_at: float
    status: int | None = None
    bytes: int = 0
    content_hash: str | None = None
    content_bytes: int | None = None
    filename: str | None = None
    object_id: str | None = None
    fault: str | None = None
    ttfb_s: float | None = None
    duration_s: float = 0.0

    def add_fault(self, kind: str) -> None:
        self.fault = kind if self.fault is None else f"{self.fault}+{kind}"

    def to_json(self) -> dict[str, Any]:
        # a flat copy: asdict() recurses and deep-copies, ~5x slower on 100k records
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(RequestRecord))


class Stats:
    """Records (the newest ``max_records``) and totals since the last reset."""

    def __init__(self, max_records: int = 100_000) -> None:
        self._max_records = max_records
        self.reset()

    def reset(self) -> None:
        self.records: deque[RequestRecord] = deque(maxlen=self._max_records)
        self.requests = 0
        self.connections_accepted = 0
        self._provider_connections: set[int] = set()
        self._tls_connections: set[int] = set()
        self.tls_handshakes = 0
        self.tls_resumed = 0
        self.bytes_received = 0
        self.faults_applied: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.records_dropped = 0

    def next_seq(self) -> int:
        self.requests += 1
        return self.requests

    def provider_request_on(self, connection_id: int) -> None:
        """Note that a provider request arrived on connection ``connection_id``."""
        self._provider_connections.add(connection_id)

    @property
    def provider_connections(self) -> int:
        return len(self._provider_connections)

    def tls_handshake(self, connection_id: int, *, resumed: bool) -> None:
        """Note that connection ``connection_id`` completed a TLS handshake."""
        self.tls_handshakes += 1
        self.tls_resumed += int(resumed)
        self._tls_connections.add(connection_id)

    @property
    def provider_handshakes(self) -> int:
        return len(self._provider_connections & self._tls_connections)

    def add(self, rec: RequestRecord) -> None:
        """Store a finished record and fold it into the totals."""
        if len(self.records) == self.records.maxlen:
            self.records_dropped += 1
        self.records.append(rec)
        self.bytes_received += rec.bytes
        self.by_status[str(rec.status) if rec.status is not None else "none"] += 1
        if rec.fault:
            for kind in rec.fault.split("+"):
                self.faults_applied[kind] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": [r.to_json() for r in self.records],
            "totals": {
                "requests": self.requests,
                "connections_accepted": self.connections_accepted,
                "provider_connections": self.provider_connections,
                "tls_handshakes": self.tls_handshakes,
                "tls_resumed": self.tls_resumed,
                "provider_handshakes": self.provider_handshakes,
                "bytes_received": self.bytes_received,
                "faults_applied": dict(self.faults_applied),
                "by_status": dict(self.by_status),
                # records beyond max_records are dropped oldest first; totals still count them
                "records_dropped": self.records_dropped,
            },
        }
