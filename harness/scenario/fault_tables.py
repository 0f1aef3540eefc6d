"""The ``[[faults]]`` and ``[[network_faults]]`` tables and the ``network`` profile,
validated with the pure catalogs of :mod:`harness.faults` (never with the mock or the proxy)
and stored in canonical form."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from harness.faults import FaultValueError, validate_fault, validate_network_fault
from harness.faults.network import validate_network_profile
from harness.scenario.checker import Checker, show

__all__ = ["load_http_faults", "load_network_faults", "load_network_profile"]


def load_http_faults(c: Checker, raw: object, providers: Sequence[str]) -> list[dict[str, Any]]:
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise c.fail("faults", f"must be a list of [[faults]] tables, got {show(raw)}")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        where = f"faults[{i}]"
        if not isinstance(item, Mapping):
            raise c.fail(where, f"must be a table with a 'type', got {show(item)}")
        _json_only(c, where, item)
        try:
            spec = validate_fault(item)
        except FaultValueError as exc:
            raise c.fail(f"{where}.{exc.field}" if exc.field else where, exc.problem) from None
        if spec.provider is not None and spec.provider not in providers:
            raise c.fail(
                f"{where}.target.provider",
                f"{spec.provider!r} is not a provider of this scenario ({', '.join(providers)})",
            )
        # the canonical form has every default filled in, so the hash does not depend on
        # whether a default was written out
        out.append(spec.to_dict())
    return out


def _json_only(c: Checker, where: str, item: Mapping[str, Any]) -> None:
    try:
        # TOML allows dates, nan and inf; results.json and PUT /__mock/faults do not
        json.dumps(item, allow_nan=False)
    except (TypeError, ValueError):
        raise c.fail(where, "values must be text, numbers, booleans, lists or tables") from None


def load_network_faults(c: Checker, raw: object) -> list[dict[str, Any]]:
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise c.fail(
            "network_faults", f"must be a list of [[network_faults]] tables, got {show(raw)}"
        )
    out = []
    for i, item in enumerate(raw):
        where = f"network_faults[{i}]"
        try:
            out.append(validate_network_fault(item))
        except FaultValueError as exc:
            raise c.fail(f"{where}.{exc.field}" if exc.field else where, exc.problem) from None
    return out


def load_network_profile(c: Checker, raw: object) -> dict[str, Any]:
    """``network = "NAME"`` or ``network = { rtt, up, down, jitter }``, normalised by the
    pure catalog (:func:`harness.faults.network.validate_network_profile`)."""
    try:
        return validate_network_profile(raw)
    except FaultValueError as exc:
        raise c.fail(f"network.{exc.field}" if exc.field else "network", exc.problem) from None
