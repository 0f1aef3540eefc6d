"""Applying the HTTP fault catalog: the seeded per-request decisions of the mock.

The catalog (types, parameters, validation) is :mod:`harness.faults.http`, re-exported here
for the mock's modules. Pure: no I/O, no clock. The app asks :class:`FaultPlan` which faults
apply to a request when its headers arrive, and applies them itself.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.faults.http import (
    COMMON_FAULT_PARAMS,
    FAULT_TYPES,
    MAX_STALL_S,
    PROVIDER_NAMES,
    RATE_LIMIT_STYLES,
    FaultSpec,
    FaultValueError,
    default_rate_limit_style,
    validate_fault,
    validate_faults,
)

__all__ = [
    "COMMON_FAULT_PARAMS",
    "FAULT_TYPES",
    "MAX_STALL_S",
    "PROVIDER_NAMES",
    "RATE_LIMIT_STYLES",
    "FaultPlan",
    "FaultSpec",
    "FaultValueError",
    "Selection",
    "default_rate_limit_style",
    "validate_fault",
    "validate_faults",
]

_PRE_BODY = ("http_error", "rate_limit", "concurrency_cap")


@dataclass
class Selection:
    """Faults chosen for one request, by role. ``release`` must be called when it ends."""

    reject: tuple[int, FaultSpec] | None = None
    slow_read: tuple[int, FaultSpec] | None = None
    cut: tuple[int, FaultSpec] | None = None  # stall or abort_mid_body
    latency: tuple[int, FaultSpec] | None = None
    latency_s: float = 0.0
    drop: tuple[int, FaultSpec] | None = None
    holds: list[int] = field(default_factory=list)  # concurrency_cap slots taken


class FaultPlan:
    """The installed fault set with its seeded generators and counters.

    Each fault ``i`` has its own ``random.Random`` seeded from ``(seed, i)``; one number is
    drawn per matching request in arrival order, so a run with the same seed and the same
    request order gets the same faults, whatever the other faults do.
    """

    def __init__(self, specs: Sequence[FaultSpec], seed: int) -> None:
        self.specs = tuple(specs)
        self.seed = seed
        self._rngs = [random.Random(f"uploadbench-fault:{seed}:{i}") for i in range(len(specs))]
        self._applied = [0] * len(self.specs)
        self._in_flight = [0] * len(self.specs)

    def select(self, provider: str, method: str, route_path: str) -> Selection:
        """Draw the faults for one arriving request (call in arrival order)."""
        sel = Selection()
        for i, spec in enumerate(self.specs):
            if not spec.matches(provider, method, route_path):
                continue
            rng = self._rngs[i]
            hit = rng.random() < spec.probability
            # jitter is drawn for every matching request too, so the sequence does not
            # depend on which earlier requests happened to be hit
            jitter = rng.uniform(-spec.jitter_ms, spec.jitter_ms) if spec.type == "latency" else 0
            capped = spec.max_count is not None and self._applied[i] >= spec.max_count
            kind = spec.type
            if kind == "concurrency_cap":
                over = self._in_flight[i] >= spec.max_in_flight
                if hit and over and not capped and sel.reject is None:
                    sel.reject = (i, spec)
                elif not over or not hit or capped:
                    self._in_flight[i] += 1
                    sel.holds.append(i)
                continue
            if not hit or capped:
                continue
            if kind in _PRE_BODY:
                if sel.reject is None:
                    sel.reject = (i, spec)
            elif kind == "slow_read":
                sel.slow_read = sel.slow_read or (i, spec)
            elif kind in ("stall", "abort_mid_body"):
                sel.cut = sel.cut or (i, spec)
            elif kind == "latency":
                if sel.latency is None:
                    sel.latency = (i, spec)
                    sel.latency_s = max(0.0, spec.ms + jitter) / 1000.0
            elif kind == "drop_response":
                sel.drop = sel.drop or (i, spec)
        if sel.reject is not None:
            # a rejected request does not occupy the slots it took
            self.release(sel)
        return sel

    def mark_applied(self, index: int) -> None:
        """Count one application of fault ``index`` (for ``max_count``)."""
        self._applied[index] += 1

    def release(self, sel: Selection) -> None:
        """Free the concurrency slots a request held."""
        for i in sel.holds:
            self._in_flight[i] -= 1
        sel.holds.clear()

    def applied_counts(self) -> list[int]:
        return list(self._applied)
