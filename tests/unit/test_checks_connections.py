"""connections_opened comes from the mock's provider_connections total, not from the
recorded requests alone (which miss requests still held and records past the cap)."""

from __future__ import annotations

from harness.checks import count_connections, mock_summary


def test_provider_connections_total_wins_over_recorded_requests() -> None:
    stats = {
        # one request still held by a drop_response hang is not in the records yet
        "requests": [{"connection_id": 1}, {"connection_id": 1}, {"connection_id": 2}],
        "totals": {"provider_connections": 3, "connections_accepted": 5},
    }
    assert count_connections(stats) == 3
    assert mock_summary(stats)["provider_connections"] == 3
    assert mock_summary(stats)["connections_accepted"] == 5


def test_without_the_total_distinct_connection_ids_are_counted() -> None:
    stats = {"requests": [{"connection_id": 7}, {"connection_id": 7}, {"connection_id": None}]}
    assert count_connections(stats) == 1
