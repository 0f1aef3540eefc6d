"""Variant names: ``[named_variants]``, ``variants``, ``baseline``, ``allow_data_loss`` and
the names a threshold may use. A name holds no ``.`` or ``/``; a builtin spec is its own
name; a ``cmd:`` or plugin spec listed unnamed runs but cannot be referred to."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from harness.scenario.checker import Checker, key_text, show
from harness.scenario.model import is_variant_name
from harness.thresholds import Threshold, parse_threshold
from uploader.variants import BUILTIN_VARIANTS, parse_variant

__all__ = [
    "load_allow_data_loss",
    "load_named_variants",
    "load_threshold",
    "load_variants",
    "variant_name",
]

# A name a scenario gives a variant: no "." or "/", so a threshold splits at its first "."
# as a person reads it; builtin specs (async[pooling=off]) are names of themselves.
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NAME_RULE = "1..64 letters, digits, '_' or '-'"


def load_named_variants(c: Checker, raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise c.fail("named_variants", f'must be a table of NAME = "SPEC" lines, got {show(raw)}')
    named: dict[str, str] = {}
    for key, value in raw.items():
        where = f"named_variants.{key_text(key)}"
        if not isinstance(key, str) or not _NAME_RE.fullmatch(key):
            raise c.fail(where, f"a variant name is {_NAME_RULE} (no '.' or '/')")
        if key in BUILTIN_VARIANTS:
            raise c.fail(where, f"{key!r} is a builtin variant; choose another name")
        if not isinstance(value, str):
            raise c.fail(
                where,
                f"must be a variant spec such as 'cmd:curl ...' or 'pkg.mod:attr', "
                f"got {show(value)}",
            )
        spec = c.convert(where, parse_variant, value).spec
        for other, other_spec in named.items():
            if other_spec == spec:
                raise c.fail(where, f"names the same spec as {other!r}")
        named[key] = spec
    return named


def load_variants(
    c: Checker, raw: object, named: Mapping[str, str]
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The variant names in order and name -> spec for each."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise c.fail("variants", f"must be a list of variant names or specs, got {show(raw)}")
    specs: dict[str, str] = {}
    name_of = {spec: name for name, spec in named.items()}
    for i, item in enumerate(raw):
        where = f"variants[{i}]"
        if not isinstance(item, str):
            raise c.fail(where, f"must be a variant name or spec (text), got {show(item)}")
        if item in named:
            name, spec = item, named[item]
        else:
            if _NAME_RE.fullmatch(item) and item not in BUILTIN_VARIANTS:
                raise c.fail(
                    where,
                    f"unknown variant {item!r}; allowed: {', '.join(BUILTIN_VARIANTS)}, a name "
                    "given in [named_variants], async[SWITCH=off,...], cmd:TEMPLATE, "
                    "package.module:attr",
                )
            spec = c.convert(where, parse_variant, item).spec
            if spec in name_of:
                other = name_of[spec]
                raise c.fail(
                    where,
                    f"{show(spec)} is named {other!r} in [named_variants]: list it as {other!r}",
                )
            name = spec
        if name in specs:
            raise c.fail(where, f"{name!r} is listed twice")
        specs[name] = spec
    return tuple(specs), specs


def variant_name(c: Checker, where: str, value: object, names: Sequence[str]) -> str:
    """``value`` must be one of the scenario's variants, written as a name."""
    allowed = ", ".join(repr(n) for n in names if is_variant_name(n))
    if not isinstance(value, str) or value not in names:
        raise c.fail(where, f"must be one of the variants ({allowed}), got {show(value)}")
    if not is_variant_name(value):
        raise c.fail(
            where,
            f"must be a variant's name, not a spec: give {show(value)} a name in "
            '[named_variants] (e.g. curl = "cmd:...") and write that name here',
        )
    return value


def load_allow_data_loss(c: Checker, raw: object, names: Sequence[str]) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise c.fail("allow_data_loss", f"must be a list of variant names, got {show(raw)}")
    out: list[str] = []
    for i, item in enumerate(items):
        where = f"allow_data_loss[{i}]"
        name = variant_name(c, where, item, names)
        if name in out:
            raise c.fail(where, f"{name!r} is listed twice")
        out.append(name)
    return tuple(out)


def load_threshold(c: Checker, where: str, text: object, variants: Sequence[str]) -> Threshold:
    if isinstance(text, str):
        for variant in variants:
            if not is_variant_name(variant) and variant in text:
                raise c.fail(
                    where,
                    f"a threshold names variants by name: give {show(variant)} a name in "
                    "[named_variants] (e.g. curl = \"cmd:...\") and write 'curl.METRIC ...'",
                )
    threshold: Threshold = c.convert(where, lambda t: parse_threshold(t, variants), text)
    return threshold
