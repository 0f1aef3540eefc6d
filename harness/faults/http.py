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
from typing import Any, Literal

from harness.faults.common import FaultValueError, check_renamed, parse_param

__all__ = [
    "COMMON_FAULT_PARAMS",
    "FAULT_TYPES",
    "HTTP_PARAMS",
    "MAX_STALL_S",
    "PROVIDER_NAMES",
    "RATE_LIMIT_STYLES",
    "FaultSpec",
    "FaultValueError",
    "Param",
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

_BIG = 2**62


@dataclass(frozen=True)
class Param:
    """One parameter of an HTTP fault: its kind and bounds, and its default (``None``: absent
    unless given). :attr:`description` is what ``uploadbench list`` shows."""

    kind: Literal["int", "number", "choice"]
    about: str
    default: int | float | str | None = None
    required: bool = False
    low: float = 0
    high: float = _BIG
    above_low: bool = False  # strictly greater than `low`
    choices: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        if self.kind == "choice":
            shape = " | ".join(self.choices)
        else:
            word = "int" if self.kind == "int" else "number"
            shape = f"{word} >= {self.low:g}" if self.high >= 1e9 else f"{word} {self._bounds}"
        if self.required:
            note = "required"
        elif self.default is None:
            note = "optional"
        elif isinstance(self.default, str):
            note = f"default {self.default}"
        else:
            note = f"default {self.default:g}"
        return f"{shape} ({note}): {self.about}"

    def check(self, key: str, value: object) -> int | float | str:
        """``value`` checked against the kind and bounds; :class:`FaultValueError` if not."""
        if self.kind == "choice":
            if value not in self.choices:
                raise FaultValueError(
                    key, f"must be one of {', '.join(self.choices)}, got {value!r}"
                )
            return str(value)
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise FaultValueError(key, f"must be an integer {self._bounds}, got {value!r}")
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise FaultValueError(key, f"must be a number {self._bounds}, got {value!r}")
        if value < self.low or value > self.high or (self.above_low and value == self.low):
            word = "an integer" if self.kind == "int" else "a number"
            raise FaultValueError(key, f"must be {word} {self._bounds}, got {value!r}")
        return value if self.kind == "int" else float(value)

    @property
    def _bounds(self) -> str:
        if self.above_low:
            return f"> {self.low:g} and <= {self.high:g}"
        if self.kind == "int":
            return f"{int(self.low)}..{int(self.high)}"
        return f"{self.low:g}..{self.high:g}"


_RETRY_AFTER = Param("number", "sent as Retry-After", high=1e9)
_PROBABILITY = Param("number", "how often", 1.0, high=1.0)
_MAX_COUNT = Param("int", "apply at most this many times")

# The one table of HTTP fault types and their parameters: validation, defaults and the
# descriptions (FAULT_TYPES) all come from it.
HTTP_PARAMS: Mapping[str, Mapping[str, Param]] = MappingProxyType(
    {
        "http_error": {
            "status": Param("int", "the response status", 503, low=400, high=599),
            "body": Param(
                "choice", "the error body", "provider", choices=("provider", "html", "empty")
            ),
            "retry_after_s": _RETRY_AFTER,
        },
        "rate_limit": {
            "style": Param(
                "choice", "the 429's shape (absent: the provider's usual one)",
                choices=RATE_LIMIT_STYLES,
            ),
            "retry_after_s": _RETRY_AFTER,
        },
        "concurrency_cap": {
            "max_in_flight": Param(
                "int", "more matching requests in flight get a 429", required=True, low=1
            ),
            "retry_after_s": _RETRY_AFTER,
        },
        "latency": {
            "ms": Param(
                "number", "delay before the response, after the body is read ('500ms' too)",
                required=True, high=MAX_STALL_S * 1000,
            ),
            "jitter_ms": Param("number", "uniform +- jitter", 0.0, high=MAX_STALL_S * 1000),
        },
        "slow_read": {
            "bytes_per_s": Param(
                "int", "read the request body no faster than this ('64KiB/s' too)",
                required=True, low=1,
            ),
        },
        "stall": {
            "after_bytes": Param("int", "stop reading the body here", 0),
            "stall_s": Param(
                "number", "then close (sooner once the client has gone)", 600.0,
                high=MAX_STALL_S, above_low=True,
            ),
        },
        "abort_mid_body": {
            "after_bytes": Param("int", "cut the connection after this many body bytes"),
            "after_pct": Param(
                "number", "or after this share of Content-Length (a chunked body, with no "
                "length, is cut at once); give exactly one of the two", high=100,
            ),
            "mode": Param("choice", "how the connection ends", "rst", choices=("fin", "rst")),
        },
        "drop_response": {
            "mode": Param(
                "choice", "body received, no answer", "fin", choices=("fin", "rst", "hang")
            ),
        },
    }
)  # fmt: skip

COMMON_FAULT_PARAMS: Mapping[str, str] = MappingProxyType(
    {
        "type": "one of " + ", ".join(HTTP_PARAMS),
        "probability": "0..1 or a percentage: how often a matching request gets the fault "
        "(default 1.0)",
        "target": "optional {provider: kimi|glm|supabase, method: POST, route: glob on the "
        "path after the provider prefix, e.g. '/files' or 'storage/v1/object/*'}",
        "max_count": "optional int >= 0: apply at most this many times",
    }
)

# type -> {parameter: description}, derived from HTTP_PARAMS
FAULT_TYPES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        kind: MappingProxyType({name: p.description for name, p in params.items()})
        for kind, params in HTTP_PARAMS.items()
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
        "probability": _PROBABILITY.check("probability", d.get("probability", 1.0)),
        "provider": provider,
        "method": method.upper() if isinstance(method, str) else None,
        "route": route,
        "max_count": _MAX_COUNT.check("max_count", d["max_count"]) if "max_count" in d else None,
    }
    if kind == "abort_mid_body" and ("after_bytes" in d) == ("after_pct" in d):
        raise FaultValueError("after_bytes", "give exactly one of after_bytes or after_pct")
    for name, param in HTTP_PARAMS[kind].items():
        if name in d:
            params[name] = param.check(name, d[name])
        elif param.required:
            raise FaultValueError(name, f"is required: {param.description}")
        else:
            params[name] = param.default
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
