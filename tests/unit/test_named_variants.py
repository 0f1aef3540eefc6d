"""Named variants, allow_data_loss and the warnings for thresholds that can never be
decided (issue 12 items 1, 5 and 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import ScenarioError
from harness.plan import plan_trials, variant_concurrencies
from harness.scenario import load_scenario, scenario_from_dict

CURL = 'cmd:curl -sS -f -o /dev/null -T {path} -H "apikey: {key}" {url}'
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def minimal(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "m", "files": {"count": 1, "sizes": ["1KiB"]}}
    data.update(overrides)
    return data


def error_of(data: dict[str, Any]) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="x.toml")
    assert "\n" not in str(info.value)
    return info.value


def test_a_name_is_used_everywhere_and_maps_to_its_spec() -> None:
    s = scenario_from_dict(
        minimal(
            named_variants={"curl": CURL, "nopool": "async[pooling=off]"},
            variants=["curl", "async", "nopool", "sync"],
            baseline="curl",
            thresholds=["async/curl.throughput >= 0.75x", "curl.success_rate >= 100%"],
            allow_data_loss=["nopool"],
        )
    )
    assert s.variants == ("curl", "async", "nopool", "sync")
    assert s.baseline == "curl"
    assert dict(s.variant_specs) == {
        "curl": CURL,
        "async": "async",
        "nopool": "async[pooling=off]",
        "sync": "sync",
    }
    assert s.spec_of("curl") == CURL
    assert s.spec_of("sync") == "sync"
    assert (s.thresholds[0].variant, s.thresholds[0].baseline) == ("async", "curl")
    assert s.allow_data_loss == ("nopool",)
    assert s.definition["variants"] == ["curl", "async", "nopool", "sync"]
    assert s.definition["variant_specs"] == dict(s.variant_specs)
    assert s.definition["allow_data_loss"] == ["nopool"]
    assert s.definition["thresholds"][0].startswith("async/curl.throughput_bytes_per_s >= ")
    assert s.warnings == ()


def test_without_names_the_definition_and_hash_do_not_change() -> None:
    # history is keyed by the hash: the new keys appear only when they say something
    plain = scenario_from_dict(minimal(variants=["sync", "async", CURL]))
    assert "variant_specs" not in plain.definition
    assert "allow_data_loss" not in plain.definition
    assert plain.variants == ("sync", "async", CURL)
    assert plain.spec_of(CURL) == CURL
    named = scenario_from_dict(
        minimal(named_variants={"curl": CURL}, variants=["sync", "async", "curl"])
    )
    assert named.hash != plain.hash


def test_shipped_scenarios_keep_their_pinned_hashes() -> None:
    # scenarios without faults or named variants hash as before named variants existed;
    # smoke changed on purpose when it took 12 rounds per process (its history restarted)
    assert load_scenario(SCENARIOS / "smoke.toml").hash.startswith("1fbbf3080d04")
    assert load_scenario(SCENARIOS / "memory-sweep.toml").hash.startswith("49883cec836d")


def test_limits_names_curl_once() -> None:
    text = (SCENARIOS / "limits.toml").read_text(encoding="utf-8")
    assert text.count("cmd:curl") == 1
    s = load_scenario(SCENARIOS / "limits.toml")
    assert s.baseline == "curl"
    assert s.spec_of("curl").startswith("cmd:curl")
    assert "async/curl.throughput_bytes_per_s >= 0.75x" in s.definition["thresholds"]


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (minimal(named_variants={"my.curl": CURL}), "named_variants.my.curl", "no '.' or '/'"),
        (minimal(named_variants={"sync": CURL}), "named_variants.sync", "builtin variant"),
        (minimal(named_variants={"curl": 3}), "named_variants.curl", "variant spec"),
        (minimal(named_variants={"curl": "curl -sf"}), "named_variants.curl", "unknown variant"),
        (
            minimal(named_variants={"a": CURL, "b": CURL}, variants=["a"]),
            "named_variants.b",
            "same spec as 'a'",
        ),
        (minimal(named_variants=["curl"]), "named_variants", "table"),
        (
            minimal(named_variants={"curl": CURL}, variants=["sync", CURL]),
            "variants[1]",
            "is named 'curl' in [named_variants]: list it as 'curl'",
        ),
        (minimal(variants=["sync", "curl"]), "variants[1]", "a name given in [named_variants]"),
        (
            minimal(named_variants={"a": "async"}, variants=["a", "async"]),
            "variants[1]",
            "'async' is named 'a' in [named_variants]: list it as 'a'",
        ),
        (
            minimal(variants=["sync", CURL], baseline=CURL),
            "baseline",
            "give 'cmd:curl",
        ),
        (
            minimal(variants=["sync", CURL], thresholds=[f"{CURL}.wall_s < 2s"]),
            "thresholds[0]",
            "[named_variants]",
        ),
        (
            minimal(variants=["sync", CURL], thresholds=[f"sync/{CURL}.wall_s < 2x"]),
            "thresholds[0]",
            "[named_variants]",
        ),
        (minimal(allow_data_loss=["naive-async"]), "allow_data_loss[0]", "one of the variants"),
        (minimal(allow_data_loss=["sync", "sync"]), "allow_data_loss[1]", "twice"),
        (minimal(allow_data_loss={"sync": True}), "allow_data_loss", "list of variant names"),
        (
            minimal(variants=["sync", CURL], allow_data_loss=[CURL]),
            "allow_data_loss[0]",
            "a variant's name, not a spec",
        ),
    ],
)
def test_errors_name_the_field(data: dict[str, Any], field: str, problem: str) -> None:
    err = error_of(data)
    assert err.field == field
    assert problem in err.problem


def test_an_unnamed_spec_still_runs_and_may_be_the_default_baseline() -> None:
    s = scenario_from_dict(minimal(variants=[CURL, "async"]))
    assert s.baseline == CURL
    assert s.warnings == ()


def test_allow_data_loss_takes_one_name_as_text() -> None:
    assert scenario_from_dict(minimal(allow_data_loss="async")).allow_data_loss == ("async",)


def test_plan_keys_its_rules_on_the_spec_and_trials_carry_the_name() -> None:
    s = scenario_from_dict(
        minimal(
            named_variants={"legacy": "sync", "curl": CURL},
            variants=["legacy", "curl"],
            concurrency=[2, 8],
            repeats=1,
            warmups=0,
            profile=False,
        )
    )
    assert variant_concurrencies(s, "legacy") == (1,)  # sync is sequential, whatever its name
    assert variant_concurrencies(s, "curl") == (2, 8)
    trials = plan_trials([s])
    assert [(t.variant, t.concurrency) for t in trials] == [
        ("legacy", 1),
        ("curl", 2),
        ("curl", 8),
    ]
    assert trials[1].key == "m|supabase|curl|c=2|r=0"


def test_variants_filter_takes_names() -> None:
    s = scenario_from_dict(minimal(named_variants={"curl": CURL}, variants=["async", "curl"]))
    assert {t.variant for t in plan_trials([s], variants_filter=["curl"])} == {"curl"}


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"thresholds": ["async.memory_slope < 0.1"]}, "memory_slope needs a size sweep"),
        ({"thresholds": ["async.heap_peak < 64MiB"], "profile": False}, "profile = false"),
        (
            {
                "thresholds": ["async.memory_slope < 0.1"],
                "profile": False,
                "files": {"count": 2, "sizes": ["1KiB", "2KiB"], "sweep": True},
            },
            "profiled trials and profile = false",
        ),
        (
            {"thresholds": ["sync/async.wall < 2x"], "concurrency": [4, 8]},
            "sync runs at c=1 and async at c=4,8, never at the same concurrency",
        ),
        ({"named_variants": {"curl": CURL}}, "named_variants.curl: not listed in variants"),
        ({"thresholds": ["sync.loop_lag < 10ms"]}, "sync (sync) runs none"),
        (
            {
                "named_variants": {"curl": CURL},
                "variants": ["async", "curl"],
                "thresholds": ["async/curl.loop_blocked < 2x"],
            },
            "loop_blocked_fraction is measured on an event loop and curl (cmd:curl",
        ),
    ],
)
def test_warnings_for_what_can_never_be_decided(overrides: dict[str, Any], words: str) -> None:
    s = scenario_from_dict(minimal(**overrides), source="w.toml")
    assert len(s.warnings) == 1, s.warnings
    (warning,) = s.warnings
    assert warning.startswith("w.toml: ")
    assert words in warning
    assert "\n" not in warning


def test_no_warning_when_it_can_be_decided() -> None:
    decidable = [
        "async/sync.wall < 2x",  # sync at c=1 stands in at every concurrency
        "async.heap_peak < 64MiB",
        "async.memory_slope < 0.1",
        "async.loop_lag < 1s",
    ]
    s = scenario_from_dict(
        minimal(
            thresholds=decidable,
            concurrency=[4, 8],
            files={"count": 2, "sizes": ["1KiB", "2KiB"], "sweep": True},
        )
    )
    assert s.warnings == ()
    both_at_one = scenario_from_dict(minimal(thresholds=["sync/async.wall < 2x"], concurrency=[1]))
    assert both_at_one.warnings == ()


def test_shipped_scenarios_have_no_warnings() -> None:
    for path in sorted(SCENARIOS.rglob("*.toml")):
        assert load_scenario(path).warnings == (), path
