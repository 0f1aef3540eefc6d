"""The HTTP fault catalog: the types the mock provider can inject, their parameters with
defaults and bounds, and the validation that turns a fault table into a :class:`FaultSpec`.

Pure: no I/O, no aiohttp. The scenario loader validates ``[[faults]]`` with it and the mock
(``harness.mockprovider``) validates ``PUT /__mock/faults`` with it and applies the specs.
Parameter names follow :mod:`harness.faults.common` (``probability``, ``ms``, ``*_s``,
``*_bytes``, ``bytes_per_s``); unit strings (``"10%"``, ``"500ms"``, ``"64KiB"``) are
accepted and become numbers in the canonical form (:meth:`FaultSpec.to_dict`).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from harness.faults.common import FaultValueError, check_renamed, parse_param

__all__ = [
    "COMMON_FAULT_PARAMS",
    "FAULT_TYPES",
    "MAX_STALL_S",
    "PROVIDER_NAMES",
    "RATE_LIMIT_STYLES",
    "FaultSpec",
    "FaultValueError",
    "default_rate_limit_style",
    "validate_fault",
    "validate_faults",
]

PROVIDER_NAMES = ("kimi", "glm", "supabase")
RATE_LIMIT_STYLES = (
    "kimi_concurrency",
    "kimi_rpm",
    "kimi_overloaded",
    "kimi_quota",
    "glm_1302",
    "glm_1113",
    "supabase",
)
# A stall or a hang must end even if the client never gives up, so a forgotten test or a
# misconfigured run cannot pin a server task for ever.
MAX_STALL_S = 3600.0

COMMON_FAULT_PARAMS: Mapping[str, str] = MappingProxyType(
    {
        "type": "one of FAULT_TYPES",
        "probability": "0..1 or a percentage: how often a matching request gets the fault "
        "(default 1.0)",
        "target": "optional {provider: kimi|glm|supabase, method: POST, route: glob on the "
        "path after the provider prefix, e.g. '/files' or 'storage/v1/object/*'}",
        "max_count": "optional int >= 0: apply at most this many times",
    }
)

FAULT_TYPES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "http_error": MappingProxyType(
            {
                "status": "int 400..599 (default 503)",
                "body": "provider | html | empty (default provider)",
                "retry_after_s": "optional number >= 0: sent as Retry-After",
            }
        ),
        "rate_limit": MappingProxyType(
            {
                "style": " | ".join(RATE_LIMIT_STYLES) + " (default: the provider's usual 429)",
                "retry_after_s": "optional number >= 0: sent as Retry-After",
            }
        ),
        "concurrency_cap": MappingProxyType(
            {
                "max_in_flight": "int >= 1: more matching requests in flight get a 429",
                "retry_after_s": "optional number >= 0: sent as Retry-After",
            }
        ),
        "latency": MappingProxyType(
            {
                "ms": "milliseconds >= 0 (or '500ms'): delay before the response, after the "
                "body is read",
                "jitter_ms": "number >= 0 (default 0): uniform +- jitter",
            }
        ),
        "slow_read": MappingProxyType(
            {"bytes_per_s": "int > 0 (or '64KiB/s'): read the request body no faster than this"}
        ),
        "stall": MappingProxyType(
            {
                "after_bytes": "int >= 0 (default 0): stop reading the body here",
                "stall_s": f"number > 0, at most {MAX_STALL_S:g} (default 600): then close "
                "(sooner once the client has gone)",
            }
        ),
        "abort_mid_body": MappingProxyType(
            {
                "after_bytes": "int >= 0: cut the connection after this many body bytes",
                "after_pct": "number 0..100: or after this share of Content-Length "
                "(a chunked body, with no length, is cut at once)",
                "mode": "fin | rst (default rst)",
            }
        ),
        "drop_response": MappingProxyType(
            {"mode": "fin | rst | hang (default fin): body received, no answer"}
        ),
    }
)


@dataclass(frozen=True)
class FaultSpec:
    """One validated fault. Parameters not used by ``type`` keep their defaults."""

    type: str
    probability: float = 1.0
    provider: str | None = None
    method: str | None = None
    route: str | None = None
    max_count: int | None = None
    status: int = 503
    body: str = "provider"
    retry_after_s: float | None = None
    style: str | None = None
    max_in_flight: int = 1
    ms: float = 0.0
    jitter_ms: float = 0.0
    bytes_per_s: int = 1
    after_bytes: int | None = None
    after_pct: float | None = None
    stall_s: float = 600.0
    mode: str = "fin"

    def to_dict(self) -> dict[str, Any]:
        """The canonical dict form (what ``validate_fault`` accepts back)."""
        out: dict[str, Any] = {"type": self.type, "probability": self.probability}
        target = {
            k: v
            for k, v in (
                ("provider", self.provider),
                ("method", self.method),
                ("route", self.route),
            )
            if v is not None
        }
        if target:
            out["target"] = target
        if self.max_count is not None:
            out["max_count"] = self.max_count
        for name in FAULT_TYPES[self.type]:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def matches(self, provider: str, method: str, route_path: str) -> bool:
        """Whether a request (``route_path`` is the path after the provider prefix) is
        targeted. Leading slashes are ignored on both sides."""
        if self.provider is not None and self.provider != provider:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.route is not None:
            return fnmatch.fnmatchcase(route_path.lstrip("/"), self.route.lstrip("/"))
        return True


def _number(d: Mapping[str, Any], key: str, default: float | None, lo: float, hi: float) -> Any:
    value = d.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FaultValueError(key, f"must be a number {lo:g}..{hi:g}, got {value!r}")
    if not lo <= value <= hi:
        raise FaultValueError(key, f"must be a number {lo:g}..{hi:g}, got {value!r}")
    return float(value)


def _integer(d: Mapping[str, Any], key: str, default: int | None, lo: int, hi: int) -> Any:
    value = d.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise FaultValueError(key, f"must be an integer {lo}..{hi}, got {value!r}")
    return value


def _choice(d: Mapping[str, Any], key: str, default: str | None, allowed: Sequence[str]) -> Any:
    value = d.get(key, default)
    if value is None:
        return None
    if value not in allowed:
        raise FaultValueError(key, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


_BIG = 2**62


def validate_fault(d: Mapping[str, Any]) -> FaultSpec:
    """Check one fault dict and return its :class:`FaultSpec`.

    Raises :class:`FaultValueError` (a ``ValueError``) whose message names the field and
    what is allowed.
    """
    if not isinstance(d, Mapping):
        raise FaultValueError("", f"a fault must be a table/object, got {type(d).__name__}")
    kind = d.get("type")
    if not isinstance(kind, str) or kind not in FAULT_TYPES:
        raise FaultValueError("type", f"must be one of {', '.join(FAULT_TYPES)}, got {kind!r}")
    allowed = set(COMMON_FAULT_PARAMS) | set(FAULT_TYPES[kind])
    check_renamed(d, allowed)
    for key in d:
        if key not in allowed:
            raise FaultValueError(
                str(key), f"unknown parameter for {kind!r}; allowed: {', '.join(sorted(allowed))}"
            )
    # unit strings become the numbers the names promise ("500ms" -> 500 for `ms`)
    d = {key: parse_param(key, value) for key, value in d.items()}
    target = d.get("target", {})
    if not isinstance(target, Mapping):
        raise FaultValueError("target", "must be a table/object with provider, method, route")
    for key in target:
        if key not in ("provider", "method", "route"):
            raise FaultValueError(f"target.{key}", "unknown; allowed: provider, method, route")
    provider = target.get("provider")
    if provider is not None and provider not in PROVIDER_NAMES:
        raise FaultValueError(
            "target.provider", f"must be one of {', '.join(PROVIDER_NAMES)}, got {provider!r}"
        )
    method = target.get("method")
    if method is not None and (not isinstance(method, str) or not method.isalpha()):
        raise FaultValueError("target.method", f"must be an HTTP method like POST, got {method!r}")
    route = target.get("route")
    if route is not None and (not isinstance(route, str) or not route):
        raise FaultValueError("target.route", f"must be a non-empty glob, got {route!r}")

    params: dict[str, Any] = {
        "type": kind,
        "probability": _number(d, "probability", 1.0, 0.0, 1.0),
        "provider": provider,
        "method": method.upper() if isinstance(method, str) else None,
        "route": route,
        "max_count": _integer(d, "max_count", None, 0, _BIG),
    }
    if kind == "http_error":
        params["status"] = _integer(d, "status", 503, 400, 599)
        params["body"] = _choice(d, "body", "provider", ("provider", "html", "empty"))
        params["retry_after_s"] = _number(d, "retry_after_s", None, 0.0, 1e9)
    elif kind == "rate_limit":
        params["style"] = _choice(d, "style", None, RATE_LIMIT_STYLES)
        params["retry_after_s"] = _number(d, "retry_after_s", None, 0.0, 1e9)
    elif kind == "concurrency_cap":
        if "max_in_flight" not in d:
            raise FaultValueError("max_in_flight", "is required: an integer >= 1")
        params["max_in_flight"] = _integer(d, "max_in_flight", None, 1, _BIG)
        params["retry_after_s"] = _number(d, "retry_after_s", None, 0.0, 1e9)
    elif kind == "latency":
        if "ms" not in d:
            raise FaultValueError("ms", "is required: a number of milliseconds >= 0")
        params["ms"] = _number(d, "ms", None, 0.0, MAX_STALL_S * 1000)
        params["jitter_ms"] = _number(d, "jitter_ms", 0.0, 0.0, MAX_STALL_S * 1000)
    elif kind == "slow_read":
        if "bytes_per_s" not in d:
            raise FaultValueError("bytes_per_s", "is required: an integer > 0")
        params["bytes_per_s"] = _integer(d, "bytes_per_s", None, 1, _BIG)
    elif kind == "stall":
        params["after_bytes"] = _integer(d, "after_bytes", 0, 0, _BIG)
        stall_s = _number(d, "stall_s", 600.0, 0.0, MAX_STALL_S)
        if stall_s <= 0:
            raise FaultValueError("stall_s", f"must be > 0 and <= {MAX_STALL_S:g}")
        params["stall_s"] = stall_s
    elif kind == "abort_mid_body":
        if ("after_bytes" in d) == ("after_pct" in d):
            raise FaultValueError("after_bytes", "give exactly one of after_bytes or after_pct")
        params["after_bytes"] = _integer(d, "after_bytes", None, 0, _BIG)
        params["after_pct"] = _number(d, "after_pct", None, 0.0, 100.0)
        params["mode"] = _choice(d, "mode", "rst", ("fin", "rst"))
    elif kind == "drop_response":
        params["mode"] = _choice(d, "mode", "fin", ("fin", "rst", "hang"))
    return FaultSpec(**params)


def validate_faults(items: Sequence[Any]) -> tuple[FaultSpec, ...]:
    """Validate a list of fault dicts; error fields are prefixed ``faults[i].``."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise FaultValueError("faults", "must be a list of fault tables/objects")
    specs = []
    for i, item in enumerate(items):
        try:
            specs.append(item if isinstance(item, FaultSpec) else validate_fault(item))
        except FaultValueError as err:
            where = f"faults[{i}].{err.field}" if err.field else f"faults[{i}]"
            raise FaultValueError(where, err.problem) from None
    return tuple(specs)


def default_rate_limit_style(provider: str) -> str:
    """The 429 a provider usually sends."""
    return {"kimi": "kimi_concurrency", "glm": "glm_1302", "supabase": "supabase"}.get(
        provider, "kimi_concurrency"
    )
