"""The fault catalogs (harness.faults): one vocabulary, old names refused with the new one,
unit strings, and no aiohttp needed to validate a fault."""

from __future__ import annotations

from typing import Any

import pytest

from harness.faults import (
    COMMON_FAULT_PARAMS,
    COMMON_NETWORK_PARAMS,
    FAULT_TYPES,
    NETWORK_FAULT_TYPES,
    RENAMED,
    FaultValueError,
    validate_fault,
    validate_faults,
    validate_network_fault,
)


def test_one_vocabulary_for_both_catalogs() -> None:
    # how often is `probability` in both; the latency's time is `ms` in both
    assert "probability" in COMMON_FAULT_PARAMS
    assert "probability" in COMMON_NETWORK_PARAMS
    assert "ms" in FAULT_TYPES["latency"]
    assert "ms" in NETWORK_FAULT_TYPES["latency"]
    assert "bytes_per_s" in FAULT_TYPES["slow_read"]
    assert "bytes_per_s" in NETWORK_FAULT_TYPES["bandwidth"]
    every_name = {
        *COMMON_FAULT_PARAMS,
        *COMMON_NETWORK_PARAMS,
        *(p for params in FAULT_TYPES.values() for p in params),
        *(p for params in NETWORK_FAULT_TYPES.values() for p in params),
    }
    assert not every_name & set(RENAMED), "an old name is still a parameter"
    assert set(RENAMED.values()) <= every_name


@pytest.mark.parametrize(
    ("fault", "field", "new"),
    [
        ({"type": "http_error", "rate": 0.5}, "rate", "probability"),
        ({"type": "latency", "latency_ms": 5}, "latency_ms", "ms"),
    ],
)
def test_old_http_names_point_to_the_new_one(fault: dict[str, Any], field: str, new: str) -> None:
    with pytest.raises(FaultValueError) as info:
        validate_fault(fault)
    assert info.value.field == field
    assert str(info.value) == f"{field}: renamed to {new}"


@pytest.mark.parametrize(
    ("fault", "field", "new"),
    [
        ({"type": "reset_peer", "rate": 0.5}, "rate", "probability"),
        ({"type": "latency", "latency_ms": 5}, "latency_ms", "ms"),
        ({"type": "bandwidth", "rate_kbps": 5}, "rate_kbps", "bytes_per_s"),
    ],
)
def test_old_network_names_point_to_the_new_one(
    fault: dict[str, Any], field: str, new: str
) -> None:
    with pytest.raises(FaultValueError) as info:
        validate_network_fault(fault)
    assert info.value.field == field
    assert info.value.problem.startswith(f"renamed to {new}")
    assert "\n" not in str(info.value)


def test_unit_strings_become_the_numbers_the_names_promise() -> None:
    http = validate_fault({"type": "latency", "ms": "0.25s", "probability": "10%"})
    assert (http.ms, http.probability) == (250, pytest.approx(0.1))
    assert validate_fault({"type": "slow_read", "bytes_per_s": "64KiB/s"}).bytes_per_s == 65536
    assert validate_fault({"type": "stall", "stall_s": "2min"}).stall_s == 120
    net = validate_network_fault({"type": "bandwidth", "bytes_per_s": "100KB/s"})
    assert net["bytes_per_s"] == 100_000
    assert validate_network_fault({"type": "reset_peer", "timeout_ms": "2s"})["timeout_ms"] == 2000


def test_canonical_forms_round_trip() -> None:
    full = {
        "type": "latency",
        "probability": 0.5,
        "target": {"provider": "glm", "method": "POST", "route": "/files"},
        "max_count": 3,
        "ms": 10.0,
        "jitter_ms": 2.0,
    }
    assert validate_fault(full).to_dict() == full
    net = validate_network_fault({"type": "latency", "ms": 5, "name": "rtt"})
    assert validate_network_fault(net) == net
    assert net == {
        "type": "latency",
        "name": "rtt",
        "probability": 1.0,
        "direction": "both",
        "ms": 5.0,
        "jitter_ms": 0.0,
    }


def test_validate_faults_prefixes_the_index() -> None:
    with pytest.raises(FaultValueError, match=r"^faults\[1\]\.rate: renamed to probability$"):
        validate_faults([{"type": "latency", "ms": 1}, {"type": "http_error", "rate": 1}])


@pytest.mark.parametrize(
    ("fault", "field", "words"),
    [
        ({"type": "latency", "ms": "soon"}, "ms", "duration"),
        ({"type": "latency", "ms": True}, "ms", "number"),
        ({"type": "http_error", "probability": 1.5}, "probability", "0..1"),
        ({"type": "http_error", "probability": "150%"}, "probability", "percentage"),
        ({"type": "slow_read", "bytes_per_s": "fast"}, "bytes_per_s", "size"),
    ],
)
def test_bad_values_name_the_parameter(fault: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(FaultValueError) as info:
        validate_fault(fault)
    assert info.value.field == field
    assert words in info.value.problem
