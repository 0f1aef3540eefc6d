"""The claims table on its mechanism (issue 16): every row names the network and TLS it was
measured under, taken from the scenario's recorded definition; connection overhead is
decided on per-upload latency (the reference with pooling off against the reference) and
shows connections and TLS handshakes per upload beside it. Socket-free: documents are built
with tests/factories/results.py."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from harness.analysis.claims import ClaimRow, claim_rows, conditions, network_text, tls_text
from harness.claims import CLAIMS, claim
from harness.console import claims_console_table
from harness.faults.network import NETWORK_PRESETS, validate_network_profile
from harness.metrics import METRIC_NAMES, METRICS
from harness.report.tables import claims_table
from tests.factories.results import make_trial

POOLING_OFF = "async[pooling=off]"
FILES = 30

# per variant: per-upload p50 latency (s), connections and TLS handshakes per batch of FILES
MODEL = {
    "sync": (0.33, 60, 60),
    POOLING_OFF: (0.31, 60, 60),
    "async": (0.11, 8, 8),
}


def _trial(variant: str, repeat: int, *, concurrency: int = 4) -> dict[str, Any]:
    latency, connections, handshakes = MODEL[variant]
    metrics: dict[str, float | None] = dict.fromkeys(METRIC_NAMES)
    metrics.update(
        latency_p50_s=latency * (1 + 0.01 * repeat),
        connections_opened=connections,
        tls_handshakes=handshakes,
        success_rate=1.0,
    )
    trial = make_trial("kimi", variant, 1 if variant == "sync" else concurrency, repeat, metrics)
    trial["records"] = [{"name": f"f{i}", "size": 65536, "outcome": "ok"} for i in range(FILES)]
    return trial


def _scenario(
    *,
    variants: tuple[str, ...] = ("sync", "async", POOLING_OFF),
    network: object = "regional",
    tls: str | None = "1.3",
    network_faults: list[dict[str, Any]] | None = None,
    name: str = "connection-overhead",
    key: str = "connection_overhead",
) -> Any:
    definition: dict[str, Any] = {
        "name": name,
        "claim": key,
        "variants": list(variants),
        "network_faults": network_faults or [],
    }
    if network is not None:
        definition["network"] = validate_network_profile(network)
    if tls is not None:
        definition["tls"] = tls
    return {
        "name": name,
        "hash": f"hash-{name}",
        "definition": definition,
        "baseline": "sync",
        "trials": [_trial(v, r) for r in range(3) for v in variants],
    }


def _row(rows: list[ClaimRow], key: str) -> ClaimRow:
    (row,) = [r for r in rows if r.claim.key == key]
    return row


def test_connection_overhead_is_decided_on_latency_against_pooling_off() -> None:
    row = _row(claim_rows([_scenario()]), "connection_overhead")
    assert row.claim.metric == row.metric == "latency_p50_s"
    # the reference with pooling off, not sync: only the fix differs
    assert (row.before_variant, row.after_variant) == (POOLING_OFF, "async")
    assert row.before == pytest.approx(0.31 * 1.01)
    assert row.after == pytest.approx(0.11 * 1.01)
    assert row.change == pytest.approx(1 - 0.11 / 0.31)
    assert row.verdict == "met"
    # connections and handshakes per upload, beside the deciding metric, for both sides
    assert [(f.metric, f.before, f.after) for f in row.also] == [
        ("connections_opened", 2.0, pytest.approx(8 / FILES)),
        ("tls_handshakes", 2.0, pytest.approx(8 / FILES)),
    ]
    assert "kimi: async[pooling=off] c=4, async c=4" in row.how


def test_pooling_that_saves_no_time_does_not_meet_the_claim() -> None:
    # loopback: 15 times fewer connections, the same latency: the count alone said "met"
    scenario = _scenario(network=None, tls=None)
    for trial in scenario["trials"]:
        if trial["variant"] == "async":
            trial["metrics"]["latency_p50_s"] *= 0.31 / 0.11 * 0.9  # 10% less than off
    row = _row(claim_rows([scenario]), "connection_overhead")
    assert row.change == pytest.approx(0.1)
    assert row.verdict == "not met"
    assert row.also[0].after == pytest.approx(8 / FILES)  # still pooled
    assert (row.network, row.tls) == ("loopback", "plain HTTP")


def test_connection_overhead_without_pooling_off_is_not_measured() -> None:
    row = _row(claim_rows([_scenario(variants=("sync", "async"))]), "connection_overhead")
    assert row.verdict == "not measured"
    assert POOLING_OFF in row.how
    assert row.before_variant == POOLING_OFF
    # what was measured of the other side is still shown, and the conditions
    assert row.after is not None
    assert (row.network, row.tls) == ("regional (50 ms RTT)", "TLS 1.3")


def test_the_other_claims_keep_sync_against_async() -> None:
    rows = claim_rows([_scenario(name="latency-per-upload", key="latency_per_upload")])
    row = _row(rows, "latency_per_upload")
    assert (row.before_variant, row.after_variant) == ("sync", "async")
    assert row.also == ()
    assert row.verdict == "met"
    assert [c.key for c in CLAIMS if c.before is not None] == ["connection_overhead"]


@pytest.mark.parametrize(
    ("network", "tls", "expected"),
    [
        ("regional", "1.3", ("regional (50 ms RTT)", "TLS 1.3")),
        ("lan", "1.2", ("lan (0 ms RTT)", "TLS 1.2")),
        ("lte", "off", ("lte (70 ms RTT ± 10 ms, 5 Mbit/s up, 12 Mbit/s down)", "plain HTTP")),
        ("slow-4g", None, ("slow-4g (150 ms RTT, 750 kbit/s up, 1.6 Mbit/s down)", "plain HTTP")),
        ({"rtt": "20ms", "down": "100Mbit/s"}, "1.3",
         ("custom (20 ms RTT, 100 Mbit/s down)", "TLS 1.3")),
        (None, None, ("loopback", "plain HTTP")),
    ],
)  # fmt: skip
def test_conditions_come_from_the_recorded_definition(
    network: object, tls: str | None, expected: tuple[str, str]
) -> None:
    scenario = _scenario(network=network, tls=tls)
    assert conditions(scenario) == expected
    row = _row(claim_rows([scenario]), "connection_overhead")
    assert (row.network, row.tls) == expected


def test_every_preset_reads_with_its_round_trip() -> None:
    for name, preset in NETWORK_PRESETS.items():
        text = network_text({"network": preset.to_dict(name)})
        assert text.startswith(f"{name} ({preset.rtt_ms:g} ms RTT")


def test_network_faults_are_named_with_the_network() -> None:
    faults = [{"type": "latency", "ms": 10.0}, {"type": "latency", "ms": 5.0}]
    scenario = _scenario(network=None, network_faults=faults)
    assert conditions(scenario)[0] == "loopback + network faults: latency"


@pytest.mark.parametrize(
    "definition",
    [
        {"network": "regional", "tls": 13},
        {"network": {"name": "x", "rtt_ms": "fast"}, "network_faults": "latency"},
        {"network": {"rtt_ms": float("nan"), "up_bytes_per_s": True}, "network_faults": [3]},
        {},
    ],
)
def test_bad_definitions_give_words_never_a_traceback(definition: dict[str, Any]) -> None:
    network, tls = network_text(definition), tls_text(definition)
    assert network
    assert tls
    doc = {"name": "s", "definition": definition, "trials": []}
    assert conditions(doc) == (network, tls)


def test_a_claim_no_scenario_names_has_no_conditions() -> None:
    rows = claim_rows([])
    assert {(r.verdict, r.network, r.tls) for r in rows} == {("not measured", "", "")}
    assert _row(rows, "connection_overhead").before_variant == POOLING_OFF
    assert _row(rows, "memory_50mb").before_variant == "sync"


def test_the_report_table_names_network_tls_and_counts_per_upload() -> None:
    rows = claim_rows([_scenario()])
    page = claims_table(rows)
    assert "network, TLS" in page
    assert "regional (50 ms RTT), TLS 1.3" in page
    titles = [METRICS[m].title for m in claim("connection_overhead").also]
    assert f"{titles[0]} 2.00 → 0.27; {titles[1]} 2.00 → 0.27" in page
    assert "65% lower" in page  # decided on latency: the change in the claim's words


def test_the_console_table_shows_measured_claims_with_their_conditions() -> None:
    assert claims_console_table(claim_rows([])) is None  # nothing measured: no table
    table = claims_console_table(claim_rows([_scenario()]))
    assert table is not None
    console = Console(width=250, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert "regional (50 ms RTT), TLS 1.3" in text
    assert "connection-overhead: async[pooling=off], async" in text  # brackets kept
    assert "65% less" in text
    assert "connections/upload 2.00 → 0.27" in text
    assert "TLS handshakes/upload 2.00 → 0.27" in text
    assert "Latency per upload" not in text  # not measured: not shown


def test_the_run_output_prints_the_claims_after_the_summary() -> None:
    from harness.analysis.summary import summarize_run
    from harness.compare import RunComparison
    from harness.console import render_run

    scenario = _scenario()
    doc = {"scenarios": [scenario]}
    console = Console(width=250, record=True, color_system=None)
    comparison = RunComparison(run_id="r", against="none", checks=(), exit_code=0)
    render_run(
        console, summarize_run(doc), comparison, run_id="r", trials=9,
        claims=claim_rows([scenario]),
    )  # fmt: skip
    text = console.export_text()
    assert text.index("connection-overhead (baseline") < text.index("Claims of the investigation")
    assert text.index("Claims of the investigation") < text.index("run r: 9 trials")
    # without claims (a run whose scenarios name none) there is no table
    console = Console(width=250, record=True, color_system=None)
    render_run(console, summarize_run(doc), comparison, run_id="r", trials=9)
    assert "Claims of the investigation" not in console.export_text()


def test_a_latency_claim_says_its_difference_in_round_trips_of_the_network() -> None:
    row = _row(claim_rows([_scenario()]), "connection_overhead")
    # (0.31 - 0.11) * 1.01 s at 50 ms RTT: two connections of 2 RTT each (TCP + TLS 1.3)
    assert row.how.endswith("; 202 ms saved per upload = 4.0 RTT of 50 ms")
    # loopback: no round trips to count in
    loopback = _row(claim_rows([_scenario(network=None)]), "connection_overhead")
    assert "RTT" not in loopback.how
    lan = _row(claim_rows([_scenario(network="lan")]), "connection_overhead")
    assert "RTT" not in lan.how


def test_every_nightly_claim_runs_both_sides_of_its_claim() -> None:
    # a nightly scenario that names a claim but not the variants it compares would leave
    # the row "not measured" every night, silently
    from pathlib import Path

    from harness.scenario import load_scenario

    nightly = Path(__file__).resolve().parents[2] / "scenarios" / "nightly"
    named = {}
    for path in sorted(nightly.glob("*.toml")):
        scenario = load_scenario(path)
        key = scenario.definition.get("claim")
        if key is None:
            continue
        named[key] = scenario
        specs = {scenario.spec_of(v) for v in scenario.variants}
        assert {claim(key).before or "sync", "async"} <= specs, path.name
    assert set(named) == {c.key for c in CLAIMS}
    # the connection and latency rows on their mechanism: over TLS 1.3 at 50 ms RTT
    for key in ("connection_overhead", "latency_per_upload"):
        assert conditions({"definition": named[key].definition}) == (
            "regional (50 ms RTT)",
            "TLS 1.3",
        )
