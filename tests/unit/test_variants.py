"""Variant specs: what a scenario may name, and the one-line errors for what it may not."""

from __future__ import annotations

import pytest

from uploader import Fixes, parse_variant


@pytest.mark.parametrize("name", ["sync", "naive-async", "async"])
def test_builtin_names_parse(name: str) -> None:
    spec = parse_variant(name)
    assert (spec.kind, spec.name, spec.fixes) == ("builtin", name, Fixes())


def test_async_switches_turn_off_one_fix_each() -> None:
    spec = parse_variant("async[streaming=off, pooling=false]")
    assert spec.name == "async"
    assert spec.fixes == Fixes(streaming=False, pooling=False)
    assert spec.label == "async[streaming=off, pooling=false]"


def test_all_switches_off() -> None:
    opts = ",".join(f"{name}=off" for name in Fixes.names())
    fixes = parse_variant(f"async[{opts}]").fixes
    assert not any(getattr(fixes, name) for name in Fixes.names())


def test_cmd_keeps_the_template_verbatim() -> None:
    spec = parse_variant("cmd:curl -sf --data-binary @{path} {url}")
    assert (spec.kind, spec.name) == ("cmd", "curl -sf --data-binary @{path} {url}")


def test_import_spec() -> None:
    spec = parse_variant("mypkg.uploads:Uploader")
    assert (spec.kind, spec.name) == ("import", "mypkg.uploads:Uploader")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("turbo", "allowed: sync, naive-async, async"),
        ("async[warp=off]", "unknown switch 'warp'"),
        ("async[streaming=maybe]", "takes on or off"),
        ("async[streaming]", "takes on or off"),
        ("cmd:", "needs a command template"),
    ],
)
def test_bad_specs_say_what_is_allowed(spec: str, expected: str) -> None:
    with pytest.raises(ValueError, match=r".*") as info:
        parse_variant(spec)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
