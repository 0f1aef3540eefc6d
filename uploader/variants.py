"""Variant specs: parse a name such as ``async[streaming=off]``, ``cmd:curl ...`` or
``pkg.module:attr`` into a :class:`VariantSpec`. Loading the uploader is separate
(:func:`load_variant`) so a scenario can be validated without importing user code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from uploader.api import Fixes

__all__ = ["BUILTIN_VARIANTS", "VariantSpec", "parse_variant"]

BUILTIN_VARIANTS: dict[str, str] = {
    "sync": "legacy baseline: sequential, whole file in memory, new connection per upload",
    "naive-async": "async def with blocking file and HTTP calls inside the loop, asyncio.gather",
    "async": "reference: pooled aiohttp, aiofiles streaming, bounded concurrency, retries",
}

_SWITCH_VALUES = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}
_ASYNC_RE = re.compile(r"^async\[(?P<opts>[^\]]*)\]$")
_IMPORT_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class VariantSpec:
    """A parsed variant. ``kind`` is ``builtin``, ``cmd`` or ``import``."""

    spec: str
    kind: str
    name: str  # builtin name, the command template, or "module:attr"
    fixes: Fixes = field(default_factory=Fixes)

    @property
    def label(self) -> str:
        return self.spec


def parse_variant(spec: str) -> VariantSpec:
    """Parse a variant spec; raise ``ValueError`` with a one-line message that says what is
    allowed."""
    spec = spec.strip()
    if spec in BUILTIN_VARIANTS:
        return VariantSpec(spec=spec, kind="builtin", name=spec)
    if spec.startswith("cmd:"):
        template = spec[4:].strip()
        if not template:
            raise ValueError("'cmd:' needs a command template, e.g. 'cmd:curl -sf {url}'")
        return VariantSpec(spec=spec, kind="cmd", name=template)
    match = _ASYNC_RE.match(spec)
    if match:
        fixes = Fixes()
        for item in filter(None, (p.strip() for p in match["opts"].split(","))):
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip().lower()
            if key not in Fixes.names():
                raise ValueError(
                    f"unknown switch {key!r} in {spec!r}; allowed: {', '.join(Fixes.names())}"
                )
            if not sep or value not in _SWITCH_VALUES:
                raise ValueError(f"switch {key!r} in {spec!r} takes on or off")
            fixes = replace(fixes, **{key: _SWITCH_VALUES[value]})
        return VariantSpec(spec=spec, kind="builtin", name="async", fixes=fixes)
    if _IMPORT_RE.match(spec):
        return VariantSpec(spec=spec, kind="import", name=spec)
    allowed = ", ".join(BUILTIN_VARIANTS)
    raise ValueError(
        f"unknown variant {spec!r}; allowed: {allowed}, async[SWITCH=off,...] "
        f"(switches: {', '.join(Fixes.names())}), cmd:TEMPLATE, package.module:attr"
    )
