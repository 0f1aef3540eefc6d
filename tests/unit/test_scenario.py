"""Scenario loading: normalisation, the stable hash, and one-line errors naming the field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness import scenario as scenario_module
from harness.errors import ScenarioError
from harness.scenario import (
    SETTINGS_FIELDS,
    FilesSpec,
    ProviderSpec,
    load_scenario,
    load_scenarios,
    scenario_from_dict,
)
from uploader.api import Settings

BASE = """\
name = "throughput"
description = "10 files"
variants = ["sync", "naive-async", "async"]
concurrency = [1, 4]
repeats = 3
deadline = "2min"
thresholds = ["async.latency_p99 < 2s", "async/sync.throughput > 5x"]

[files]
count = 10
sizes = ["5MiB", "1KiB"]
seed = 42

[[providers]]
kind = "kimi"

[settings]
chunk_size = "1MiB"
stall_timeout = "5s"
max_attempts = 4

[[network_faults]]
type = "latency"
ms = 50
jitter_ms = "10ms"
direction = "up"
"""


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def minimal(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "m", "files": {"count": 1, "sizes": ["1KiB"]}}
    data.update(overrides)
    return data


def error_of(data: dict[str, Any]) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="x.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("x.toml")
    return info.value


def test_loads_and_normalises(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE))
    assert s.name == "throughput"
    assert s.path == tmp_path / "s.toml"
    assert s.files == FilesSpec(count=10, sizes=(5 * 1024**2, 1024) * 5, content="random", seed=42)
    assert s.providers == (ProviderSpec("kimi", "file-extract", None),)
    assert s.variants == ("sync", "naive-async", "async")
    assert s.baseline == "sync"
    assert s.concurrency == (1, 4)
    assert (s.repeats, s.warmups, s.deadline_s, s.profile) == (3, 1, 120.0, True)
    assert s.settings == {"chunk_size": 1024**2, "max_attempts": 4, "stall_timeout_s": 5.0}
    assert s.network_faults == (
        {
            "type": "latency",
            "probability": 1.0,
            "direction": "up",
            "ms": 50.0,
            "jitter_ms": 10.0,
        },
    )
    assert [t.metric for t in s.thresholds] == ["latency_p99_s", "throughput_bytes_per_s"]
    assert s.definition["thresholds"] == [
        "async.latency_p99_s < 2s",
        "async/sync.throughput_bytes_per_s > 5x",
    ]
    json.dumps(s.definition, allow_nan=False)  # results.json holds it verbatim
    assert len(s.hash) == 64
    # settings overrides are accepted by the uploader's own type
    Settings(**s.settings)


def test_defaults() -> None:
    s = scenario_from_dict(minimal())
    assert s.providers == (ProviderSpec("supabase", None, "uploads"),)
    assert s.variants == ("sync", "async")
    assert s.baseline == "sync"
    assert s.concurrency == (4,)
    assert (s.repeats, s.warmups, s.deadline_s, s.profile) == (5, 1, 120.0, True)
    assert s.faults == s.network_faults == s.thresholds == ()
    no_sync = scenario_from_dict(minimal(variants=["naive-async", "async"]))
    assert no_sync.baseline == "naive-async"


def test_same_definition_written_differently_has_the_same_hash(tmp_path: Path) -> None:
    reordered = """\
    thresholds = ["async.latency_p99 < 2000ms", "async/sync.throughput_bytes_per_s > 5.0x"]
    deadline = 120
    repeats = 3
    concurrency = [1, 4]
    variants = ["sync", "naive-async", "async"]
    warmups = 1
    profile = true
    description = "10 files"
    name = "throughput"

    [settings]
    max_attempts = 4
    stall_timeout_s = 5.0
    chunk_size = 1048576

    [files]
    seed = 42
    sizes = [5242880, "1 KiB"]
    content = "random"
    count = 10

    [[providers]]
    purpose = "file-extract"
    kind = "kimi"

    [[network_faults]]
    direction = "up"
    jitter_ms = 10
    ms = "50ms"
    type = "latency"
    probability = "100%"
    """
    a = load_scenario(write(tmp_path, BASE, "a.toml"))
    b = load_scenario(write(tmp_path, reordered, "b.toml"))
    assert a.definition == b.definition
    assert a.hash == b.hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('name = "throughput"', 'name = "throughput2"'),
        ('description = "10 files"', 'description = "ten files"'),
        ("seed = 42", "seed = 43"),
        ("count = 10", "count = 11"),
        ('"5MiB", "1KiB"', '"5MiB", "2KiB"'),
        ('"5MiB", "1KiB"', '"1KiB", "5MiB"'),
        ("repeats = 3", "repeats = 4"),
        ('deadline = "2min"', 'deadline = "121s"'),
        ("concurrency = [1, 4]", "concurrency = [4, 1]"),
        ("max_attempts = 4", "max_attempts = 5"),
        ("ms = 50", "ms = 51"),
        ("< 2s", "<= 2s"),
        ('kind = "kimi"', 'kind = "glm"'),
    ],
)
def test_any_change_changes_the_hash(tmp_path: Path, old: str, new: str) -> None:
    assert old in BASE
    a = load_scenario(write(tmp_path, BASE, "a.toml"))
    b = load_scenario(write(tmp_path, BASE.replace(old, new), "b.toml"))
    assert a.hash != b.hash


def test_distribution_sizes_are_deterministic_and_bounded() -> None:
    sizes = {
        "distribution": "lognormal",
        "median": "1MiB",
        "sigma": 1.0,
        "min": "1KiB",
        "max": "4MiB",
    }
    a = scenario_from_dict(minimal(files={"count": 200, "sizes": sizes, "seed": 7}))
    b = scenario_from_dict(minimal(files={"count": 200, "sizes": dict(sizes), "seed": 7}))
    c = scenario_from_dict(minimal(files={"count": 200, "sizes": sizes, "seed": 8}))
    assert a.files.sizes == b.files.sizes != c.files.sizes
    assert all(1024 <= n <= 4 * 1024**2 for n in a.files.sizes)
    ordered = sorted(a.files.sizes)
    assert 0.5 * 1024**2 < ordered[100] < 2 * 1024**2  # the median is near 1 MiB
    # pinned: the draw is sha256-based, so these never change across machines or versions
    assert (
        a.files.sizes[:3]
        == scenario_from_dict(minimal(files={"count": 3, "sizes": sizes, "seed": 7})).files.sizes
    )
    uniform = scenario_from_dict(
        minimal(files={"count": 50, "sizes": {"distribution": "uniform", "min": 10, "max": 20}})
    )
    assert set(uniform.files.sizes) <= set(range(10, 21))
    assert len(set(uniform.files.sizes)) > 5


PINNED_LOGNORMAL = (2460916, 495559, 1478846)


def test_lognormal_sizes_are_pinned() -> None:
    sizes = {
        "distribution": "lognormal",
        "median": "1MiB",
        "sigma": 1.0,
        "min": "1KiB",
        "max": "64MiB",
    }
    s = scenario_from_dict(minimal(files={"count": 3, "sizes": sizes, "seed": 42}))
    assert s.files.sizes == PINNED_LOGNORMAL


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (minimal(colour="red"), "colour", "unknown key; allowed: name, description"),
        (
            minimal(files={"count": 1, "sizes": ["1KiB"], "colour": 1}),
            "files.colour",
            "allowed: count",
        ),
        (
            minimal(files={"count": -3, "sizes": ["1KiB"]}),
            "files.count",
            "must be an integer between 1 and 100000, got -3",
        ),
        (minimal(files={"count": True, "sizes": ["1KiB"]}), "files.count", "integer"),
        (
            minimal(files={"count": 1, "sizes": ["5 parsecs"]}),
            "files.sizes[0]",
            "unknown size unit 'parsecs'",
        ),
        (minimal(files={"count": 1, "sizes": []}), "files.sizes", "at least one"),
        (minimal(files={"count": 1, "sizes": ["17GiB"]}), "files.sizes[0]", "16GiB"),
        (
            minimal(files={"count": 1, "sizes": ["1KiB"], "content": "lorem"}),
            "files.content",
            "random, zeros, text",
        ),
        (
            minimal(files={"count": 1, "sizes": {"distribution": "pareto"}}),
            "files.sizes.distribution",
            "lognormal, uniform",
        ),
        (
            minimal(files={"count": 1, "sizes": {"distribution": "uniform", "min": 5, "max": 1}}),
            "files.sizes.max",
            ">= min",
        ),
        (minimal(files={"count": 1}), "files.sizes", "required"),
        ({"files": {"count": 1, "sizes": [1]}}, "name", "required"),
        (minimal(name=""), "name", "1..100"),
        (minimal(name="x" * 101), "name", "1..100"),
        (
            minimal(variants=["sync", "turbo"]),
            "variants[1]",
            "unknown variant 'turbo'; allowed: sync, naive-async, async, a name given in [named_",
        ),
        (minimal(variants=["async[speed=off]"]), "variants[0]", "unknown switch 'speed'"),
        (minimal(variants=["sync", "sync"]), "variants[1]", "twice"),
        (minimal(baseline="naive-async"), "baseline", "must be one of the variants"),
        (minimal(concurrency=0), "concurrency", "integer between 1"),
        (minimal(concurrency=[1, "4"]), "concurrency[1]", "integer"),
        (minimal(concurrency=[2, 2]), "concurrency", "twice"),
        (minimal(repeats=0), "repeats", "integer between 1"),
        (minimal(warmups=-1), "warmups", "integer between 0"),
        (minimal(deadline="soon"), "deadline", "duration such as"),
        (minimal(deadline="0s"), "deadline", "more than 0"),
        (minimal(profile="yes"), "profile", "true or false"),
        (minimal(providers=[{"kind": "openai"}]), "providers[0].kind", "kimi, glm, supabase"),
        (minimal(providers=[{"kind": "kimi"}, {"kind": "kimi"}]), "providers[1].kind", "twice"),
        (
            minimal(providers=[{"kind": "supabase", "purpose": "x"}]),
            "providers[0].purpose",
            "kimi and glm only",
        ),
        (
            minimal(providers=[{"kind": "kimi", "variants": ["sync"]}]),
            "providers[0].variants",
            "move it above the first [providers]",
        ),
        (minimal(settings={"chunk_size": "big"}), "settings.chunk_size", "size"),
        (minimal(settings={"warp": 9}), "settings.warp", "allowed: backoff_base"),
        (minimal(settings={"concurrency": 9}), "settings.concurrency", "top-level 'concurrency'"),
        (
            minimal(settings={"stall_timeout": "5s", "stall_timeout_s": 5}),
            "settings.stall_timeout_s",
            "twice",
        ),
        (
            minimal(network_faults=[{"type": "earthquake"}]),
            "network_faults[0].type",
            "unknown network fault 'earthquake'; allowed: latency, bandwidth",
        ),
        (
            minimal(network_faults=[{"type": "latency"}]),
            "network_faults[0].ms",
            "required",
        ),
        (
            minimal(network_faults=[{"type": "bandwidth", "bytes_per_s": 0}]),
            "network_faults[0].bytes_per_s",
            "> 0",
        ),
        (
            minimal(network_faults=[{"type": "latency", "ms": 5, "direction": "sideways"}]),
            "network_faults[0].direction",
            "must be one of up, down, both",
        ),
        (
            minimal(network_faults=[{"type": "latency", "ms": 5, "probability": 2}]),
            "network_faults[0].probability",
            "between 0 and 1",
        ),
        (minimal(thresholds=["async.latency_p99 < 2"]), "thresholds[0]", "add a unit"),
        (
            minimal(thresholds=["async.speed > 2"]),
            "thresholds[0]",
            "unknown metric 'speed'; allowed: wall_s",
        ),
        (minimal(thresholds=["turbo.wall_s < 2s"]), "thresholds[0]", "names no variant"),
        (minimal(thresholds="async.wall_s"), "thresholds[0]", "cannot parse"),
        (minimal(thresholds=[3]), "thresholds[0]", "string"),
    ],
)
def test_errors_name_field_and_what_is_allowed(
    data: dict[str, Any], field: str, problem: str
) -> None:
    err = error_of(data)
    assert err.file == "x.toml"
    assert err.field == field
    assert problem in err.problem


def test_malformed_toml(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n[files\ncount = 1\n')
    with pytest.raises(ScenarioError, match=r"s\.toml: not valid TOML: ") as info:
        load_scenario(path)
    assert info.value.field == ""
    assert "\n" not in str(info.value)


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(binary)


def test_toml_dates_and_nan_are_rejected_not_crashing(tmp_path: Path) -> None:
    path = write(tmp_path, "name = 1979-05-27\n[files]\ncount = 1\nsizes = [1]\n")
    with pytest.raises(ScenarioError, match="name: must be text"):
        load_scenario(path)
    err = error_of(minimal(settings={"backoff_cap": float("nan")}))
    assert err.field == "settings.backoff_cap"


def test_every_uploader_setting_is_accepted() -> None:
    # a new Settings field must be settable from a scenario without editing the loader
    values = {"int": 1, "float": 1.0, "size": "1KiB", "rate": "1MiB/s", "duration": "1s"}
    settings = {name: values[kind] for name, kind in SETTINGS_FIELDS.items()}
    s = scenario_from_dict(minimal(settings=settings))
    Settings(**s.settings)


def test_load_scenarios_from_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, BASE.replace('"throughput"', '"b"'), "sub/b.toml")
    write(tmp_path, BASE.replace('"throughput"', '"a"'), "a.toml")
    (tmp_path / "notes.txt").write_text("not a scenario")
    names = [s.name for s in load_scenarios([tmp_path])]
    assert names == ["a", "b"]
    with pytest.raises(ScenarioError, match="also the name of"):
        load_scenarios([tmp_path, tmp_path / "a.toml"])
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenarios([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScenarioError, match=r"no \*\.toml"):
        load_scenarios([tmp_path / "empty"])


def test_scenario_is_frozen_and_hashable(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE))
    with pytest.raises(AttributeError):
        s.name = "other"  # type: ignore[misc]
    assert {s: 1}[s] == 1


def test_public_names() -> None:
    assert set(scenario_module.__all__) == {
        "CLAIM_KEYS",
        "CONTENT_KINDS",
        "SETTINGS_FIELDS",
        "FilesSpec",
        "ProviderSpec",
        "SEQUENTIAL_SPECS",
        "Scenario",
        "definition_hash",
        "is_variant_name",
        "load_scenario",
        "load_scenarios",
        "scenario_from_dict",
    }


def test_http_faults_take_units_and_are_stored_in_the_mock_form() -> None:
    from harness.faults import validate_fault

    written = [
        {"type": "latency", "ms": "500ms", "target": {"provider": "kimi", "method": "post"}},
        {"type": "stall", "after_bytes": "64KiB", "stall_s": "2min", "probability": "10%"},
        {"type": "slow_read", "bytes_per_s": "1MiB/s"},
    ]
    plain = [
        {
            "type": "latency",
            "ms": 500,
            "jitter_ms": 0,
            "probability": 1,
            "target": {"provider": "kimi", "method": "POST"},
        },
        {"type": "stall", "after_bytes": 65536, "stall_s": 120, "probability": 0.1},
        {"type": "slow_read", "bytes_per_s": 1048576},
    ]
    kimi = [{"kind": "kimi"}]
    a = scenario_from_dict(minimal(providers=kimi, faults=written))
    b = scenario_from_dict(minimal(providers=kimi, faults=plain))
    assert a.hash == b.hash
    assert a.faults[0]["ms"] == 500
    assert a.faults[1]["after_bytes"] == 65536
    assert a.faults[1]["stall_s"] == 120
    assert a.faults[1]["probability"] == pytest.approx(0.1)
    assert a.faults[2]["bytes_per_s"] == 1024**2
    # what the runner PUTs to /__mock/faults is accepted by the mock as is
    for fault in a.faults:
        assert validate_fault(fault).to_dict() == fault


@pytest.mark.parametrize(
    ("fault", "field", "problem"),
    [
        ({"type": "gremlins"}, "faults[0].type", "must be one of http_error"),
        ({"type": "latency"}, "faults[0].ms", "required"),
        ({"type": "latency", "ms": "soon"}, "faults[0].ms", "duration"),
        ({"type": "latency", "ms": 5, "colour": 1}, "faults[0].colour", "allowed:"),
        (
            {"type": "latency", "ms": 5, "target": {"provider": "glm"}},
            "faults[0].target.provider",
            "not a provider of this scenario",
        ),
        ({"type": "latency", "ms": 5, "when": 1979}, "faults[0].when", "unknown parameter"),
    ],
)
def test_http_fault_errors(fault: dict[str, Any], field: str, problem: str) -> None:
    err = error_of(minimal(providers=[{"kind": "kimi"}], faults=[fault]))
    assert err.field == field
    assert problem in err.problem


def test_hostile_keys_stay_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, '"a\\nb" = 1\nname = "x"\n[files]\ncount = 1\nsizes = [1]\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == "'a\\nb'"
    assert "\n" not in str(info.value)
    err = error_of(minimal(settings={"\x1b[2J": 1}))
    assert err.field == "settings.'\\x1b[2J'"
