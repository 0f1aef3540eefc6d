"""The network fault catalog: the fault proxy's types (Toxiproxy "toxics"), their parameters
with defaults, and the validation that turns a ``[[network_faults]]`` table into the
normalised dict the proxy applies.

Pure: no sockets. ``probability`` is Toxiproxy's ``toxicity``: the chance that a connection
gets the fault, drawn per connection. Times are in milliseconds (``"2s"`` is accepted),
bandwidth in bytes per second (``"100KB/s"`` is accepted).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from harness.faults.common import FaultValueError, check_renamed, parse_param
from harness.units import parse_percent

__all__ = [
    "COMMON_NETWORK_PARAMS",
    "DIRECTIONS",
    "NETWORK_FAULT_TYPES",
    "NETWORK_PARAMS",
    "NetworkParam",
    "network_fault_summary",
    "validate_network_fault",
]

DIRECTIONS = ("up", "down", "both")
# Days are far beyond any trial deadline; larger values are a typo, not a scenario.
_MAX_MS = 24 * 3600 * 1000.0


@dataclass(frozen=True)
class NetworkParam:
    """One parameter: ``unit`` is ``ms`` (a time) or ``bytes_per_s`` (a bandwidth > 0);
    ``default`` ``None`` means required."""

    unit: str
    default: float | None
    description: str


# The one table of network fault types and their parameters; NETWORK_FAULT_TYPES (the
# descriptions `uploadbench list` shows) is derived from it.
NETWORK_PARAMS: Mapping[str, Mapping[str, NetworkParam]] = MappingProxyType(
    {
        "latency": {
            "ms": NetworkParam("ms", None, "delay added to each chunk (a real RTT)"),
            "jitter_ms": NetworkParam("ms", 0.0, "uniform +- spread around ms (<= ms)"),
        },
        "bandwidth": {
            "bytes_per_s": NetworkParam("bytes_per_s", None, "throttle to this many bytes/s"),
        },
        "reset_peer": {
            "timeout_ms": NetworkParam("ms", 0.0, "TCP RST both sides after this (0: at once)"),
        },
        "blackhole": {
            "timeout_ms": NetworkParam(
                "ms", 0.0, "swallow data, never answer; close after this (0: never)"
            ),
        },
    }
)

_SUMMARY = {
    "latency": "delay each chunk (Toxiproxy latency)",
    "bandwidth": "throttle (Toxiproxy bandwidth)",
    "reset_peer": "reset the connection (Toxiproxy reset_peer)",
    "blackhole": "swallow data, never answer (Toxiproxy timeout)",
}

COMMON_NETWORK_PARAMS: Mapping[str, str] = MappingProxyType(
    {
        "type": "one of " + ", ".join(NETWORK_PARAMS),
        "probability": "0..1 or a percentage: how often a connection gets the fault (default 1.0)",
        "direction": "up (the upload body) | down | both (default both; reset_peer always both)",
        "name": "optional label, 1..100 characters",
    }
)

NETWORK_FAULT_TYPES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        kind: MappingProxyType(
            {
                name: f"{p.description}"
                + (" (required)" if p.default is None else f" (default {p.default:g})")
                for name, p in params.items()
            }
        )
        for kind, params in NETWORK_PARAMS.items()
    }
)


def network_fault_summary(kind: str) -> str:
    """One line about a network fault type (for `uploadbench list`)."""
    return _SUMMARY[kind]


def validate_network_fault(fault: Mapping[str, Any]) -> dict[str, Any]:
    """Check one network fault and return it normalised: every parameter present, times in
    milliseconds and bandwidths in bytes per second (numbers), ``probability`` a fraction.
    Raises :class:`FaultValueError` naming the key and what is allowed."""
    if not isinstance(fault, Mapping):
        raise FaultValueError("", f"a network fault is a table with a 'type', got {fault!r}")
    kind = fault.get("type")
    if not isinstance(kind, str) or kind not in NETWORK_PARAMS:
        raise FaultValueError(
            "type", f"unknown network fault {kind!r}; allowed: {', '.join(NETWORK_PARAMS)}"
        )
    params = NETWORK_PARAMS[kind]
    allowed = {*COMMON_NETWORK_PARAMS, *params}
    check_renamed(fault, allowed)
    for key in fault:
        if key not in allowed:
            raise FaultValueError(
                str(key), f"unknown key for {kind}; allowed: {', '.join(sorted(allowed))}"
            )
    out: dict[str, Any] = {"type": kind}
    if "name" in fault:
        if not isinstance(fault["name"], str) or not 0 < len(fault["name"]) <= 100:
            raise FaultValueError(
                "name", f"must be text of 1..100 characters, got {fault['name']!r}"
            )
        out["name"] = fault["name"]
    try:
        out["probability"] = parse_percent(fault.get("probability", 1.0))
    except ValueError as exc:
        raise FaultValueError("probability", str(exc)) from None
    direction = fault.get("direction", "both")
    if direction not in DIRECTIONS:
        raise FaultValueError(
            "direction", f"must be one of {', '.join(DIRECTIONS)}, got {direction!r}"
        )
    out["direction"] = direction
    for key, param in params.items():
        raw = fault.get(key, param.default)
        if raw is None:
            raise FaultValueError(key, f"required for {kind}: {param.description}")
        value = parse_param(key, raw)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FaultValueError(key, f"expected a number or a value with a unit, got {raw!r}")
        if not math.isfinite(value) or value < 0:
            raise FaultValueError(key, f"expected a finite number >= 0, got {raw!r}")
        if param.unit == "ms" and value > _MAX_MS:
            raise FaultValueError(key, f"at most 24h, got {raw!r}")
        if param.unit == "bytes_per_s" and value <= 0:
            raise FaultValueError(key, f"expected a bandwidth > 0, got {raw!r}")
        out[key] = float(value)
    if kind == "latency" and out["jitter_ms"] > out["ms"]:
        raise FaultValueError("jitter_ms", "must not exceed ms (a chunk cannot arrive early)")
    return out
