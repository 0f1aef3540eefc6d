"""What every fault shares: the error type, the renamed parameters and the unit parsers.

Vocabulary (one meaning per name, for HTTP and network faults alike):

- ``probability``: how often, 0..1 or a percentage (``"10%"``): per request for HTTP
  faults, per connection for network faults;
- a name ending in ``_ms`` or ``_s`` (and the latency's ``ms``) is a time; a bare number is
  in that unit, a string may carry its own (``"2s"``, ``"500ms"``);
- ``bytes_per_s`` is a bandwidth, ``after_bytes`` a position in the body; a string may
  carry a unit (``"64KiB"``, ``"100KB/s"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness.units import parse_duration, parse_percent, parse_size

__all__ = ["RENAMED", "FaultValueError", "check_renamed", "parse_param"]

# Old parameter names -> new ones. An old name is refused with a pointer to the new one,
# never silently accepted: a scenario that says `rate` means one thing everywhere or nothing.
RENAMED: Mapping[str, str] = {
    "rate": "probability",
    "latency_ms": "ms",
    "rate_kbps": "bytes_per_s",
}
_RENAME_NOTES = {
    "rate_kbps": " (bytes per second, e.g. '100KB/s'; rate_kbps counted 1000 B)",
}


class FaultValueError(ValueError):
    """A fault is invalid. ``field`` names the key (``""`` for the whole fault),
    ``problem`` says what is allowed; ``str()`` is ``"field: problem"``."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


def check_renamed(fault: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """Refuse an old parameter name that is not (or no longer) allowed, naming the new one."""
    for key in fault:
        if key in RENAMED and key not in allowed:
            new = RENAMED[key]
            raise FaultValueError(str(key), f"renamed to {new}{_RENAME_NOTES.get(key, '')}")


def parse_param(key: str, value: object) -> object:
    """A unit string (``"10%"``, ``"500ms"``, ``"64KiB"``, ``"1MiB/s"``) as the number the
    parameter's name says; numbers and other values pass through for the type checks.
    Raises :class:`FaultValueError` naming ``key``."""
    if not isinstance(value, str):
        return value
    try:
        if key == "probability":
            return parse_percent(value)
        if key.endswith("bytes") or key.endswith("bytes_per_s"):
            text = value[:-2] if value.endswith("/s") else value
            return parse_size(text)
        if key == "ms" or key.endswith("_ms"):
            return whole(parse_duration(value, "ms") * 1000.0)
        if key.endswith("_s"):
            return whole(parse_duration(value))
    except ValueError as exc:
        raise FaultValueError(key, str(exc)) from None
    return value


def whole(number: float) -> float | int:
    """``500.0`` -> ``500``: the canonical form does not depend on how a number was written."""
    return int(number) if math.isfinite(number) and float(number).is_integer() else number
