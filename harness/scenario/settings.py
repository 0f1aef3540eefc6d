"""The ``[settings]`` table: overrides of ``uploader.api.Settings``, with units and aliases
derived from the dataclass so a new field needs no change here."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from harness.scenario.checker import Checker, key_text, show
from harness.units import parse_duration
from uploader.api import Settings

__all__ = ["SETTINGS_FIELDS", "load_settings"]


def _settings_kinds() -> dict[str, str]:
    # Derived from uploader.Settings so a new field is accepted without touching this file;
    # the kind decides which units a value may carry. concurrency is the scenario's matrix
    # axis and fixes come from the variant spec, so neither is a setting here.
    kinds: dict[str, str] = {}
    for f in fields(Settings):
        if f.name in ("concurrency", "fixes"):
            continue
        if f.name.endswith("_bytes_per_s"):
            kinds[f.name] = "rate"
        elif f.name.endswith("_bytes") or f.name.endswith("chunk_size"):
            kinds[f.name] = "size"
        elif f.name.endswith("_s"):
            kinds[f.name] = "duration"
        elif f.type in (int, "int"):
            kinds[f.name] = "int"
        else:
            kinds[f.name] = "float"
    return kinds


SETTINGS_FIELDS: dict[str, str] = _settings_kinds()


def _setting_aliases() -> dict[str, str]:
    # stall_timeout = "5s" reads better than stall_timeout_s = 5; tus_threshold = "6MiB" too
    aliases: dict[str, str] = {}
    for name in SETTINGS_FIELDS:
        for suffix in ("_bytes_per_s", "_bytes", "_s"):
            if name.endswith(suffix):
                aliases[name[: -len(suffix)]] = name
                break
    return aliases


_SETTING_ALIASES = _setting_aliases()


def load_settings(c: Checker, raw: object) -> dict[str, Any]:
    allowed = sorted({*SETTINGS_FIELDS, *_SETTING_ALIASES})
    if not isinstance(raw, Mapping):
        raise c.fail("settings", f"must be a table, got {show(raw)}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"settings.{key_text(key)}"
        if key == "concurrency":
            raise c.fail(where, "set the top-level 'concurrency' (a matrix axis) instead")
        name = _SETTING_ALIASES.get(key, key)
        if name not in SETTINGS_FIELDS:
            raise c.fail(where, f"unknown key; allowed: {', '.join(allowed)}")
        if name in out:
            raise c.fail(where, f"given twice (as {name} too)")
        kind = SETTINGS_FIELDS[name]
        if kind == "int":
            out[name] = c.integer(value, where, 0, 2**63 - 1)
        elif kind == "size":
            out[name] = c.size(value, where, low=1)
        elif kind == "rate":  # bytes per second; "1MiB" or "1MiB/s"
            text = value[:-2] if isinstance(value, str) and value.endswith("/s") else value
            out[name] = float(c.size(text, where, low=1))
        elif kind == "duration":
            out[name] = float(c.convert(where, parse_duration, value))
        else:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise c.fail(where, f"must be a number, got {show(value)}")
            out[name] = float(value)
    return dict(sorted(out.items()))
