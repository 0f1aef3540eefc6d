"""Fuzzing the scenario loader (issue 9): any input loads or gives one ScenarioError line.

Inputs are TOML documents built from the real field names with arbitrary values, plus raw
text, so the search reaches deep into validation instead of failing at the first key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ScenarioError
from harness.plan import plan_trials
from harness.scenario import load_scenario, scenario_from_dict
from harness.scenario.checker import TOP_KEYS

KEYS = [
    *TOP_KEYS,  # every top-level key the loader knows, then the nested and the wrong ones
    "count",
    "sizes",
    "content",
    "seed",
    "kind",
    "purpose",
    "bucket",
    "type",
    "probability",
    "direction",
    "jitter_ms",
    "bytes_per_s",
    "timeout_ms",
    "ms",
    # old names: refused with a pointer, never a traceback
    "rate",
    "latency_ms",
    "rate_kbps",
    "curl",
    "target",
    "distribution",
    "median",
    "sigma",
    "min",
    "max",
    "chunk_size",
    "stall_timeout",
    "provider",
]
WORDS = [
    "sync",
    "async",
    "naive-async",
    "async[streaming=off]",
    "cmd:curl {url}",
    "curl",
    "curl.wall < 2s",
    "async/curl.throughput > 1x",
    "kimi",
    "glm",
    "supabase",
    "random",
    "text",
    "zeros",
    "latency",
    "blackhole",
    "lognormal",
    "uniform",
    "5MiB",
    "-1KiB",
    "500ms",
    "2s",
    "1%",
    "5x",
    "async.latency_p99 < 2s",
    "async/sync.throughput > 5x",
    "sync.wall < 1",
    "up",
    "both",
    "1e400",
    "",
    "\x00",
    "\u202e",
]

scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=4)), inner, max_size=3),
    ),
    max_leaves=8,
)


def valid() -> dict[str, Any]:
    """A scenario that loads; the fuzzer breaks one to three of its fields."""
    return {
        "name": "fuzz",
        "description": "d",
        "named_variants": {"curl": "cmd:curl -sf -T {path} {url}"},
        "variants": ["sync", "async", "curl"],
        "allow_data_loss": ["curl"],
        "concurrency": [1, 4],
        "repeats": 2,
        "deadline": "30s",
        "thresholds": ["async.latency_p99 < 2s", "async/curl.throughput > 5x"],
        "files": {"count": 3, "sizes": ["1KiB"], "content": "text", "seed": 1},
        "providers": [{"kind": "kimi", "purpose": "file-extract"}],
        "settings": {"chunk_size": "64KiB", "stall_timeout": "5s"},
        "faults": [{"type": "latency", "ms": "50ms", "target": {"provider": "kimi"}}],
        "network_faults": [{"type": "latency", "ms": 5, "direction": "up"}],
    }


PATHS: list[tuple[Any, ...]] = [
    (key,) for key in (*valid(), "baseline", "warmups", "profile", "extra")
] + [
    ("files", "count"),
    ("files", "sizes"),
    ("files", "sizes", 0),
    ("files", "content"),
    ("files", "seed"),
    ("files", "other"),
    ("providers", 0),
    ("providers", 0, "kind"),
    ("providers", 0, "purpose"),
    ("providers", 0, "bucket"),
    ("settings", "chunk_size"),
    ("settings", "max_attempts"),
    ("settings", "min_rate"),
    ("faults", 0),
    ("faults", 0, "type"),
    ("faults", 0, "ms"),
    ("faults", 0, "target"),
    ("faults", 0, "probability"),
    ("faults", 0, "rate"),
    ("network_faults", 0),
    ("network_faults", 0, "type"),
    ("network_faults", 0, "ms"),
    ("network_faults", 0, "latency_ms"),
    ("network_faults", 0, "jitter_ms"),
    ("network_faults", 0, "probability"),
    ("network_faults", 0, "rate"),
    ("named_variants", "curl"),
    ("named_variants", "other"),
    ("allow_data_loss", 0),
    ("thresholds", 0),
    ("variants", 0),
    ("concurrency", 0),
]


def _child(node: Any, step: Any) -> Any:
    if isinstance(node, dict):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and step < len(node):
        return node[step]
    return None


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    data = valid()
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)):
        node: Any = data
        for step in path[:-1]:
            node = _child(node, step)
        last = path[-1]
        if isinstance(node, dict):
            if last in node and draw(st.booleans()):
                del node[last]
            else:
                node[last] = draw(values)
        elif _child(node, last) is not None:
            node[last] = draw(values)
    return data


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(data: dict[str, Any]) -> None:
    try:
        scenario = scenario_from_dict(data, source="fuzz.toml")
    except ScenarioError as err:
        text = str(err)
        assert text.startswith("fuzz.toml")
        assert "\n" not in text
        assert len(text) < 2000
        return
    # whatever loads must also plan: the runner relies on it
    assert plan_trials([scenario], quick=True)
    assert len(scenario.hash) == 64


@FUZZ
@given(documents())
def test_structured_documents_load_or_fail_in_one_line(data: dict[str, Any]) -> None:
    check(data)


def test_the_document_the_fuzzer_breaks_is_valid() -> None:
    # otherwise every example fails on the same field and the rest is never explored
    loaded = scenario_from_dict(valid())
    assert loaded.warnings == ()


@FUZZ
@given(st.text(max_size=300))
def test_raw_text_loads_or_fails_in_one_line(text: str) -> None:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        return
    check(data)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200))
def test_raw_bytes_through_the_file_loader(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_bytes(blob)
    try:
        load_scenario(path)
    except ScenarioError as err:
        message = str(err)
    else:
        return
    assert "\n" not in message
