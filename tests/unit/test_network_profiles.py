"""Network profiles (``network = "NAME"`` or a custom table): the pure catalog and the
scenario loader. The proxy that applies them is tested in tests/server/."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ScenarioError
from harness.faults.network import (
    NETWORK_PRESETS,
    PROXY_CAPACITY_BYTES_PER_S,
    network_capacity_warning,
    parse_bandwidth,
    validate_network_profile,
)
from harness.scenario import load_scenario, scenario_from_dict

MBIT = 1e6 / 8


def minimal(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "m", "files": {"count": 1, "sizes": ["1KiB"]}}
    data.update(overrides)
    return data


def error_of(network: object) -> str:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(minimal(network=network), source="x.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("x.toml")
    return message


def test_the_presets_the_issue_names_with_their_figures() -> None:
    assert {"lan", "regional", "intercontinental", "lte", "3g"} <= set(NETWORK_PRESETS)
    assert validate_network_profile("lan") == {
        "name": "lan",
        "rtt_ms": 0.0,
        "jitter_ms": 0.0,
        "up_bytes_per_s": None,
        "down_bytes_per_s": None,
    }
    regional = validate_network_profile("regional")
    assert regional["rtt_ms"] == 50
    assert regional["up_bytes_per_s"] is None
    inter = validate_network_profile("intercontinental")
    assert (inter["rtt_ms"], inter["up_bytes_per_s"]) == (150, 100 * MBIT)
    assert inter["down_bytes_per_s"] == 100 * MBIT
    lte = validate_network_profile("lte")
    assert (lte["rtt_ms"], lte["down_bytes_per_s"], lte["up_bytes_per_s"]) == (
        70,
        12 * MBIT,
        5 * MBIT,
    )
    assert lte["jitter_ms"] > 0
    assert validate_network_profile("3g")["rtt_ms"] == 300


@pytest.mark.parametrize("name", list(NETWORK_PRESETS))
def test_every_preset_names_its_source_and_is_valid(name: str) -> None:
    preset = NETWORK_PRESETS[name]
    assert preset.source
    assert preset.jitter_ms <= preset.rtt_ms
    # a preset written out as a custom table is the same network
    table: dict[str, Any] = {"rtt": preset.rtt_ms, "jitter": preset.jitter_ms}
    for side in ("up", "down"):
        rate = getattr(preset, f"{side}_bytes_per_s")
        if rate is not None:
            table[side] = rate
    custom = validate_network_profile(table)
    assert {**custom, "name": name} == validate_network_profile(name)
    # presets fit in what the proxy carries
    assert network_capacity_warning(custom) is None


def test_custom_table_with_units() -> None:
    got = validate_network_profile(
        {"rtt": "50ms", "down": "100Mbit/s", "up": "20Mbit/s", "jitter": "5ms"}
    )
    assert got == {
        "name": "custom",
        "rtt_ms": 50.0,
        "jitter_ms": 5.0,
        "up_bytes_per_s": 20 * MBIT,
        "down_bytes_per_s": 100 * MBIT,
    }
    # a bare rtt is in milliseconds; sides without a bandwidth have no limit
    assert validate_network_profile({"rtt": 20})["rtt_ms"] == 20
    assert validate_network_profile({"rtt": "0.1s"})["down_bytes_per_s"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100Mbit/s", 12_500_000),
        ("750kbit/s", 93_750),
        ("1Gbit/s", 125_000_000),
        ("8bit/s", 1),
        ("10MiB/s", 10 * 1024**2),
        ("1MB/s", 1_000_000),
        ("64KiB", 65_536),
        (2000, 2000),
    ],
)
def test_bandwidth_units(text: object, expected: float) -> None:
    assert parse_bandwidth(text) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["0Mbit/s", "fast", "-1Mbit/s", 0, True, "Mbit/s", None])
def test_bad_bandwidths(bad: object) -> None:
    with pytest.raises(ValueError, match="bandwidth such as"):
        parse_bandwidth(bad)


@pytest.mark.parametrize(
    ("network", "field", "says"),
    [
        ("moon", "network", "unknown network 'moon'; presets: lan,"),
        (12, "network", "must be a preset"),
        ({"down": "1Mbit/s"}, "network.rtt", "required"),
        ({"rtt": "50ms", "jitter": "60ms"}, "network.jitter", "must not exceed rtt"),
        ({"rtt": "50ms", "up": "fast"}, "network.up", "bandwidth such as"),
        ({"rtt": "50ms", "down": 0}, "network.down", "more than 0"),
        ({"rtt": "50ms", "latency": "5ms"}, "network.latency", "allowed: rtt, up, down, jitter"),
        ({"rtt": "50ms", "loss": "1%"}, "network.loss", "netem"),
        ({"rtt": "-5ms"}, "network.rtt", "not negative"),
        ({"rtt": "2d"}, "network.rtt", "unknown duration unit"),
    ],
)
def test_errors_name_file_field_and_what_is_allowed(network: object, field: str, says: str) -> None:
    message = error_of(network)
    assert f"x.toml: {field}: " in message
    assert says in message


def test_definition_holds_network_only_when_set() -> None:
    plain = scenario_from_dict(minimal())
    assert "network" not in plain.definition
    assert plain.network is None
    regional = scenario_from_dict(minimal(network="regional"))
    assert regional.definition["network"]["name"] == "regional"
    assert regional.network == validate_network_profile("regional")
    assert regional.hash != plain.hash
    # a custom table equal to a preset is still another name, so another history
    same = scenario_from_dict(minimal(network={"rtt": "50ms"}))
    assert same.hash != regional.hash


def test_network_and_network_faults_combine() -> None:
    faults = [{"type": "reset_peer", "timeout_ms": 300, "probability": "10%"}]
    s = scenario_from_dict(minimal(network="lte", network_faults=faults))
    assert s.network is not None
    assert s.network["name"] == "lte"
    assert [f["type"] for f in s.network_faults] == ["reset_peer"]


def test_a_link_faster_than_the_proxy_is_a_warning() -> None:
    fast = PROXY_CAPACITY_BYTES_PER_S * 2  # bytes per second
    s = scenario_from_dict(minimal(network={"rtt": "1ms", "up": fast}), source="x.toml")
    assert len(s.warnings) == 1
    assert s.warnings[0].startswith("x.toml: network asks for up ")
    assert "more than the fault proxy was measured to carry" in s.warnings[0]
    assert scenario_from_dict(minimal(network="intercontinental")).warnings == ()


def test_toml_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "n.toml"
    path.write_text(
        textwrap.dedent(
            """\
            name = "n"
            network = { rtt = "50ms", down = "100Mbit/s", up = "20Mbit/s", jitter = "5ms" }

            [files]
            count = 1
            sizes = ["1KiB"]
            """
        ),
        encoding="utf-8",
    )
    s = load_scenario(path)
    assert s.network is not None
    assert s.network["up_bytes_per_s"] == 20 * MBIT
