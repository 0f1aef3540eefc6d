"""The scenario loader's error helper: one :class:`Checker` per source file turns a bad value
into one :class:`~harness.errors.ScenarioError` naming file, field and what is allowed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.errors import ScenarioError
from harness.units import parse_size

__all__ = ["MAX_FILE_SIZE", "TOP_KEYS", "Checker", "key_text", "show"]

# Bounds that catch typos and keep a scenario from filling the disk.
MAX_FILE_SIZE = 16 * 1024**3

TOP_KEYS = (
    "name",
    "description",
    "claim",
    "files",
    "providers",
    "named_variants",
    "variants",
    "baseline",
    "allow_data_loss",
    "concurrency",
    "repeats",
    "warmups",
    "rounds",
    "deadline",
    "profile",
    "settings",
    "faults",
    "network_faults",
    "network",
    "tls",
    "thresholds",
    "rollback",
)


class Checker:
    """Raises a ScenarioError for one source file; helpers return converted values."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, where, problem)

    def table(self, value: object, where: str, allowed: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"must be a table, got {show(value)}")
        for key in value:
            if key not in allowed:
                dotted = f"{where}.{key_text(key)}" if where else key_text(key)
                hint = ""
                if where and key in TOP_KEYS:
                    # TOML puts every key after a [table] header into that table
                    table = where.split("[")[0].split(".")[0]
                    hint = f" ('{key}' is a top-level key: move it above the first [{table}])"
                raise self.fail(dotted, f"unknown key; allowed: {', '.join(allowed)}{hint}")
        return value

    def integer(self, value: object, where: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            bound = f">= {low}" if high >= 2**62 else f"between {low} and {high}"
            raise self.fail(where, f"must be an integer {bound}, got {show(value)}")
        return value

    def text(self, value: object, where: str, low: int, high: int) -> str:
        if not isinstance(value, str) or not low <= len(value) <= high:
            raise self.fail(where, f"must be text of {low}..{high} characters, got {show(value)}")
        return value

    def convert(self, where: str, parse: Callable[[Any], Any], value: object) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None

    def size(self, value: object, where: str, low: int = 0) -> int:
        size: int = self.convert(where, parse_size, value)
        if not low <= size <= MAX_FILE_SIZE:
            raise self.fail(where, f"must be between {low} B and 16GiB, got {show(value)}")
        return size


def key_text(key: object) -> str:
    # a quoted TOML key may hold a newline or an escape sequence: the message stays one line
    if isinstance(key, str) and key and key.isprintable() and len(key) <= 60:
        return key
    return show(key)


def show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
