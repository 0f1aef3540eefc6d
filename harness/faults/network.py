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
from harness.units import parse_duration, parse_percent, parse_size

__all__ = [
    "COMMON_NETWORK_PARAMS",
    "DIRECTIONS",
    "NETWORK_FAULT_TYPES",
    "NETWORK_KEYS",
    "NETWORK_PARAMS",
    "NETWORK_PRESETS",
    "PROXY_CAPACITY_BYTES_PER_S",
    "NetworkParam",
    "NetworkProfile",
    "network_capacity_warning",
    "network_fault_summary",
    "parse_bandwidth",
    "validate_network_fault",
    "validate_network_profile",
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


# -- network profiles (``network = "NAME"`` or a custom table) ------------------------------

# What the fault proxy carries on its shaped path (0 ms, a 10 Gbit/s link) on the 2-core
# development machine with client, proxy and mock on it: `python benchmarks/proxy_cost.py`,
# 64 MiB curl uploads, medians of 9-15 repeats: 180 to 470 MiB/s depending on the machine's
# load (its plain copy path: 360 to 490 MiB/s, about half of direct). This is the low end,
# rounded down: a profile asking for more measures the proxy, not the network, and the
# scenario loader says so (a warning, `uploadbench validate` and `run` print it).
PROXY_CAPACITY_BYTES_PER_S = 150 * 1024**2

_BIT_UNITS = {"bit": 1.0, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}
_BANDWIDTH_HELP = "a bandwidth such as '100Mbit/s', '750kbit/s' or '10MiB/s'"


@dataclass(frozen=True)
class NetworkProfile:
    """A network between the uploader and the provider, applied by the fault proxy to every
    connection. ``rtt_ms`` is the round trip (each direction waits half), ``jitter_ms`` its
    spread (each direction ± half, so a round trip varies by at most ± jitter); ``up`` is
    client to provider (the uploads), ``down`` provider to client, in bytes per second for
    the whole link (shared by every connection), ``None`` for no limit."""

    rtt_ms: float
    up_bytes_per_s: float | None = None
    down_bytes_per_s: float | None = None
    jitter_ms: float = 0.0
    source: str = ""

    def to_dict(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "rtt_ms": self.rtt_ms,
            "jitter_ms": self.jitter_ms,
            "up_bytes_per_s": self.up_bytes_per_s,
            "down_bytes_per_s": self.down_bytes_per_s,
        }


def _mbit(value: float) -> float:
    return value * 1e6 / 8


# The presets, with where their figures come from.
NETWORK_PRESETS: Mapping[str, NetworkProfile] = MappingProxyType(
    {
        "lan": NetworkProfile(0.0, source="loopback through the proxy: the proxy's own cost"),
        "cable": NetworkProfile(
            28.0, _mbit(1), _mbit(5), source="WebPageTest 'Cable': 5/1 Mbit/s, 28 ms RTT"
        ),
        "regional": NetworkProfile(
            50.0, source="a provider in a neighbouring region (issue 16): 50 ms RTT"
        ),
        "intercontinental": NetworkProfile(
            150.0, _mbit(100), _mbit(100), source="issue 16: 150 ms RTT, 100 Mbit/s"
        ),
        "lte": NetworkProfile(
            70.0,
            _mbit(5),
            _mbit(12),
            10.0,
            source="WebPageTest 'LTE': 12 Mbit/s, 70 ms RTT; 5 Mbit/s up and 10 ms jitter "
            "(issue 16)",
        ),
        "slow-4g": NetworkProfile(
            150.0, 750e3 / 8, _mbit(1.6), source="Lighthouse mobile: 1.6 Mbit/s, 750 kbit/s, 150 ms"
        ),
        "3g": NetworkProfile(
            300.0, 768e3 / 8, _mbit(1.6), source="WebPageTest '3G': 1.6 Mbit/s, 768 kbit/s, 300 ms"
        ),
    }
)

NETWORK_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "rtt": "round-trip time, e.g. '50ms' (required)",
        "up": "client -> provider bandwidth, e.g. '20Mbit/s' (default: no limit)",
        "down": "provider -> client bandwidth, e.g. '100Mbit/s' (default: no limit)",
        "jitter": "spread of the round trip, e.g. '5ms', at most rtt (default 0)",
    }
)


def parse_bandwidth(value: object) -> float:
    """Bytes per second from ``"100Mbit/s"``, ``"750kbit/s"``, ``"10MiB/s"``, ``"1MB/s"`` or
    a bare number (bytes per second); more than 0. Raises :class:`ValueError`."""
    if isinstance(value, str):
        text = value.strip()
        text = text.removesuffix("/s")
        lowered = text.lower().replace(" ", "")
        for unit in sorted(_BIT_UNITS, key=len, reverse=True):
            if lowered.endswith(unit):
                try:
                    number = float(lowered[: -len(unit)])
                except ValueError:
                    raise ValueError(f"expected {_BANDWIDTH_HELP}, got {value!r}") from None
                if not math.isfinite(number) or number <= 0:
                    break
                return number * _BIT_UNITS[unit] / 8
        else:
            try:
                return _positive(float(parse_size(text)), value)
            except ValueError:
                raise ValueError(f"expected {_BANDWIDTH_HELP}, got {value!r}") from None
        raise ValueError(f"expected {_BANDWIDTH_HELP} (more than 0), got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected {_BANDWIDTH_HELP}, got {value!r}")
    return _positive(float(value), value)


def _positive(number: float, raw: object) -> float:
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"expected {_BANDWIDTH_HELP} (more than 0), got {raw!r}")
    return number


def _ms(key: str, raw: object) -> float:
    try:
        value = parse_duration(raw, "ms") * 1000.0
    except ValueError as exc:
        raise FaultValueError(key, str(exc)) from None
    if value > _MAX_MS:
        raise FaultValueError(key, f"at most 24h, got {raw!r}")
    return float(value)


def validate_network_profile(raw: object) -> dict[str, Any]:
    """``network = "NAME"`` (a preset) or ``{ rtt, up, down, jitter }`` (custom) as the
    normalised dict the proxy applies: ``name`` (the preset's, or ``custom``), ``rtt_ms``,
    ``jitter_ms``, ``up_bytes_per_s`` and ``down_bytes_per_s`` (``None``: no limit).
    Raises :class:`FaultValueError` naming the key and what is allowed."""
    if isinstance(raw, str):
        preset = NETWORK_PRESETS.get(raw)
        if preset is None:
            raise FaultValueError(
                "",
                f"unknown network {raw!r}; presets: {', '.join(NETWORK_PRESETS)}, or a table "
                f"with {', '.join(NETWORK_KEYS)}",
            )
        return preset.to_dict(raw)
    if not isinstance(raw, Mapping):
        raise FaultValueError(
            "", f"must be a preset ({', '.join(NETWORK_PRESETS)}) or a table, got {raw!r}"
        )
    for key in raw:
        if key == "loss":
            raise FaultValueError(
                "loss", "packet loss needs the kernel's netem, which this rig does not have"
            )
        if key not in NETWORK_KEYS:
            raise FaultValueError(str(key), f"unknown key; allowed: {', '.join(NETWORK_KEYS)}")
    if "rtt" not in raw:
        raise FaultValueError("rtt", "required: the round-trip time, e.g. '50ms'")
    rtt = _ms("rtt", raw["rtt"])
    jitter = _ms("jitter", raw.get("jitter", 0))
    if jitter > rtt:
        raise FaultValueError("jitter", f"must not exceed rtt ({rtt:g} ms), got {raw['jitter']!r}")
    rates: dict[str, float | None] = {}
    for key in ("up", "down"):
        if key not in raw:
            rates[key] = None
            continue
        try:
            rates[key] = parse_bandwidth(raw[key])
        except ValueError as exc:
            raise FaultValueError(key, str(exc)) from None
    return NetworkProfile(rtt, rates["up"], rates["down"], jitter).to_dict("custom")


def network_capacity_warning(profile: Mapping[str, Any]) -> str | None:
    """A line when the profile asks for more bandwidth than the proxy was measured to carry
    (:data:`PROXY_CAPACITY_BYTES_PER_S`): its throughput would be the proxy's, not the
    network's. ``None`` when it fits."""
    over = [
        f"{side} {rate / 1e6 * 8:g} Mbit/s"
        for side in ("up", "down")
        if (rate := profile.get(f"{side}_bytes_per_s")) is not None
        and rate > PROXY_CAPACITY_BYTES_PER_S
    ]
    if not over:
        return None
    return (
        f"network asks for {', '.join(over)}, more than the fault proxy was measured to carry "
        f"(about {PROXY_CAPACITY_BYTES_PER_S * 8 / 1e6:.0f} Mbit/s, benchmarks/proxy_cost.py): "
        "throughput would measure the proxy"
    )
