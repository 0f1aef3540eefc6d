"""Network faults: an asyncio TCP proxy with Toxiproxy's semantics.

Fault types (Toxiproxy "toxics"; ``rate`` is Toxiproxy's ``toxicity``, the probability that
a connection gets the fault, drawn per connection from a seeded RNG):

``latency``    delay every chunk by ``latency_ms`` ± ``jitter_ms`` (pipelined, like Toxiproxy:
               throughput is kept, each byte arrives later)
``bandwidth``  throttle to ``rate_kbps`` kilobytes (1000 B) per second
``reset_peer`` after ``timeout_ms`` (0: at once) reset both sides with a TCP RST
``blackhole``  read and discard, never forward or answer; close after ``timeout_ms``
               (0: never), i.e. Toxiproxy's ``timeout`` toxic

``direction`` is ``up`` (client to server: the upload body), ``down`` or ``both``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness.units import parse_duration, parse_percent

__all__ = [
    "DIRECTIONS",
    "NETWORK_FAULT_TYPES",
    "validate_network_fault",
]

DIRECTIONS = ("up", "down", "both")

# type -> {param: (kind, default, description)}; kind "ms" takes a number of milliseconds or
# a duration string, "kbps" a positive number. A default of None means required.
_PARAMS: dict[str, dict[str, tuple[str, float | None, str]]] = {
    "latency": {
        "latency_ms": ("ms", None, "delay added to each chunk"),
        "jitter_ms": ("ms", 0.0, "uniform ± spread around latency_ms"),
    },
    "bandwidth": {
        "rate_kbps": ("kbps", None, "kilobytes (1000 B) per second"),
    },
    "reset_peer": {
        "timeout_ms": ("ms", 0.0, "time before the reset (0: at once)"),
    },
    "blackhole": {
        "timeout_ms": ("ms", 0.0, "time before closing (0: never)"),
    },
}

NETWORK_FAULT_TYPES: dict[str, str] = {
    "latency": "latency_ms, jitter_ms, direction: delay each chunk (Toxiproxy latency)",
    "bandwidth": "rate_kbps, direction: throttle to KB/s (Toxiproxy bandwidth)",
    "reset_peer": "timeout_ms: TCP RST both sides after the timeout (Toxiproxy reset_peer)",
    "blackhole": "timeout_ms, direction: swallow data, never answer (Toxiproxy timeout)",
}

_COMMON = ("type", "rate", "direction", "name")
# Days are far beyond any trial deadline; larger values are a typo, not a scenario.
_MAX_MS = 24 * 3600 * 1000.0


def validate_network_fault(fault: Mapping[str, Any]) -> dict[str, Any]:
    """Check one network fault and return it normalised: every parameter present, durations
    in milliseconds (numbers), ``rate`` a probability. Raises ``ValueError`` whose message
    starts with the offending key and says what is allowed."""
    if not isinstance(fault, Mapping):
        raise ValueError(f"a network fault is a table with a 'type', got {fault!r}")
    kind = fault.get("type")
    if kind not in _PARAMS:
        raise ValueError(f"type: unknown network fault {kind!r}; allowed: {', '.join(_PARAMS)}")
    params = _PARAMS[kind]
    allowed = sorted((*_COMMON, *params))
    for key in fault:
        if key not in allowed:
            raise ValueError(f"{key}: unknown key for {kind}; allowed: {', '.join(allowed)}")
    out: dict[str, Any] = {"type": kind}
    if "name" in fault:
        if not isinstance(fault["name"], str) or not 0 < len(fault["name"]) <= 100:
            raise ValueError(f"name: must be text of 1..100 characters, got {fault['name']!r}")
        out["name"] = fault["name"]
    try:
        out["rate"] = parse_percent(fault.get("rate", 1.0))
    except ValueError as exc:
        raise ValueError(f"rate: {exc}") from None
    direction = fault.get("direction", "both")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction: must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    out["direction"] = direction
    for key, (unit, default, _) in params.items():
        raw = fault.get(key, default)
        if raw is None:
            raise ValueError(f"{key}: required for {kind}")
        try:
            if unit == "ms":
                value = parse_duration(raw, default_unit="ms") * 1000.0
                if value > _MAX_MS:
                    raise ValueError(f"at most 24h, got {raw!r}")
            else:
                if isinstance(raw, bool) or not isinstance(raw, int | float):
                    raise ValueError(f"expected a number, got {raw!r}")
                value = float(raw)
                if not math.isfinite(value) or value <= 0:
                    raise ValueError(f"expected a number > 0, got {raw!r}")
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
        out[key] = value
    if kind == "latency" and out["jitter_ms"] > out["latency_ms"]:
        raise ValueError("jitter_ms: must not exceed latency_ms (a chunk cannot arrive early)")
    return out
