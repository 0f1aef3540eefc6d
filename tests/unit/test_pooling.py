"""The pooling gain over RTT and TLS (harness.analysis.pooling): pure, on synthetic results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from harness.analysis import stats
from harness.analysis.pooling import (
    HANDSHAKE_RTTS,
    pooling_fits,
    pooling_gains,
    pooling_pairs,
)
from harness.results import METRIC_NAMES
from tests.factories.results import make_trial

FILES = 30


def _trial(
    variant: str, repeat: int, p50_s: float, connections: float | None, **extra: Any
) -> dict[str, Any]:
    metrics: dict[str, float | None] = dict.fromkeys(METRIC_NAMES)
    metrics["latency_p50_s"] = p50_s
    metrics["connections_opened"] = connections
    trial = make_trial("kimi", variant, 1, repeat, metrics, **extra)
    trial["records"] = [{"name": f"f{i}", "outcome": "ok"} for i in range(FILES)]
    return trial


def pooling_scenario(
    name: str,
    *,
    rtt_ms: float | None,
    tls: str = "off",
    pooled_s: Sequence[float] = (0.100, 0.101, 0.099, 0.102, 0.100, 0.098),
    unpooled_s: Sequence[float] = (0.200, 0.201, 0.199, 0.202, 0.200, 0.198),
    specs: Mapping[str, str] | None = None,
    extra_trials: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    names = list(specs or {"async": "async", "async[pooling=off]": "async[pooling=off]"})
    pooled, unpooled = names[0], names[1]
    trials = []
    for repeat, (on, off) in enumerate(zip(pooled_s, unpooled_s, strict=True)):
        trials.append(_trial(pooled, repeat, on, 1))
        trials.append(_trial(unpooled, repeat, off, 2 * FILES))
    definition: dict[str, Any] = {"name": name, "variants": names}
    if specs is not None:
        definition["variant_specs"] = dict(specs)
    if rtt_ms is not None:
        definition["network"] = {"name": "custom", "rtt_ms": rtt_ms, "jitter_ms": 0.0}
    if tls != "off":
        definition["tls"] = tls
    return {
        "name": name,
        "hash": f"hash-{name}",
        "definition": definition,
        "baseline": pooled,
        "trials": [*trials, *extra_trials],
    }


def grid(costs: Mapping[str, float], *, fixed_s: float = 0.0) -> list[dict[str, Any]]:
    """Scenarios at 0, 10, 50 and 150 ms for each TLS setting; an unpooled upload pays
    ``costs[tls]`` RTT for each of its two connections plus ``fixed_s`` (1 ms at 0 ms when
    ``fixed_s`` is 0)."""
    out = []
    for tls, per_connection in costs.items():
        for rtt in (0.0, 10.0, 50.0, 150.0):
            pooled = [2 * rtt / 1e3 + 0.004 + i * 1e-4 for i in range(6)]
            gain = fixed_s + 2 * per_connection * rtt / 1e3 if rtt or fixed_s else 0.001
            unpooled = [p + gain for p in pooled]
            out.append(
                pooling_scenario(
                    f"pooling-tls{tls}-rtt{rtt:g}",
                    rtt_ms=rtt,
                    tls=tls,
                    pooled_s=pooled,
                    unpooled_s=unpooled,
                )
            )
    return out


def test_the_grid_gives_one_point_per_rtt_and_tls_in_round_trips_per_connection() -> None:
    scenarios = grid({"1.2": 3.1, "off": 1.0, "1.3": 2.1})
    rows = pooling_gains(reversed(scenarios))
    assert [(r.tls, r.rtt_ms) for r in rows] == [
        (tls, rtt) for tls in ("off", "1.3", "1.2") for rtt in (0.0, 10.0, 50.0, 150.0)
    ]
    by = {(r.tls, r.rtt_ms): r for r in rows}
    tls13 = by["1.3", 50.0]
    assert (tls13.pooled, tls13.unpooled) == ("async", "async[pooling=off]")
    assert tls13.difference_s == pytest.approx(0.210)
    assert tls13.connections_per_upload == pytest.approx(2.0)
    assert tls13.rtt_per_connection == pytest.approx(2.1)
    assert tls13.expected_rtt_per_connection == 2
    assert tls13.meets is True
    assert by["1.2", 150.0].rtt_per_connection == pytest.approx(3.1)
    assert by["off", 10.0].rtt_per_connection == pytest.approx(1.0)
    # at 0 ms there are no round trips to count: the difference is judged in time
    lan = by["off", 0.0]
    assert lan.rtt_per_connection is None
    assert lan.difference_s == pytest.approx(0.001)
    assert lan.meets is True
    assert lan.expectation == "under 5 ms per upload"
    assert all(r.samples_pooled == r.samples_unpooled == 6 for r in rows)


def test_the_expectation_is_within_25_percent_of_the_handshakes_round_trips() -> None:
    rows = pooling_gains(grid({"1.2": 2.2, "1.3": 2.6, "off": 1.3}))
    by = {(r.tls, r.rtt_ms): r for r in rows}
    assert by["1.2", 50.0].meets is False  # 2.2 of 3: 27 % short
    assert by["1.3", 50.0].meets is False  # 2.6 of 2: 30 % over
    assert by["off", 50.0].meets is False
    assert by["off", 50.0].expectation == "1 RTT per connection ± 25%"
    slow_lan = pooling_gains(
        [pooling_scenario("lan", rtt_ms=0.0, pooled_s=[0.010] * 3, unpooled_s=[0.016] * 3)]
    )
    assert slow_lan[0].difference_s == pytest.approx(0.006)
    assert slow_lan[0].meets is False


def test_a_line_through_each_settings_points_separates_round_trips_from_fixed_cost() -> None:
    # 12 ms per upload at 0 ms (the handshakes' CPU): at 10 ms the point alone overstates
    # the round trips, the slope does not
    rows = pooling_gains(grid({"off": 1.0, "1.3": 2.0, "1.2": 3.0}, fixed_s=0.012))
    by = {(r.tls, r.rtt_ms): r for r in rows}
    assert by["1.3", 10.0].rtt_per_connection == pytest.approx(2.6)
    assert by["1.3", 10.0].meets is False
    # at 0 ms over TLS the handshake costs CPU, not round trips: no expectation to meet
    assert by["1.3", 0.0].meets is None
    assert by["1.3", 0.0].expectation.startswith("none")
    assert by["off", 0.0].meets is False  # 12 ms over plain TCP: over the 5 ms ceiling
    fits = pooling_fits(rows)
    assert [f.tls for f in fits] == ["off", "1.3", "1.2"]
    for fit, expected in zip(fits, (1.0, 2.0, 3.0), strict=True):
        assert fit.rtt_per_connection == pytest.approx(expected)
        assert fit.fixed_cost_s == pytest.approx(0.012)
        assert fit.rtts_ms == (0.0, 10.0, 50.0, 150.0)
        assert fit.points == 4
        assert fit.meets is True
    # one RTT only, or no connection count: no line
    assert pooling_fits([by["1.3", 50.0]]) == []
    assert pooling_fits([]) == []


def test_variants_are_known_by_their_specs_not_their_names() -> None:
    specs = {"fresh": "async[pooling=off]", "pooled": "async"}
    scenario = pooling_scenario("named", rtt_ms=50.0, specs={"pooled": "async", **specs})
    assert pooling_pairs(scenario) == [("pooled", "fresh")]
    (row,) = pooling_gains([scenario])
    assert (row.pooled, row.unpooled) == ("pooled", "fresh")
    # a pair that differs in another switch too is no pooling pair
    other = pooling_scenario(
        "other",
        rtt_ms=50.0,
        specs={"a": "async", "b": "async[pooling=off,streaming=off]"},
    )
    assert pooling_pairs(other) == []
    assert pooling_gains([other]) == []
    # the same other switches on both sides is one
    both = pooling_scenario(
        "both",
        rtt_ms=50.0,
        specs={"a": "async[streaming=off]", "b": "async[streaming=off,pooling=off]"},
    )
    assert pooling_pairs(both) == [("a", "b")]


def test_only_scenarios_over_a_network_profile_with_both_variants_count() -> None:
    loopback = pooling_scenario("loopback", rtt_ms=None)  # no proxy: no RTT to put it at
    assert pooling_gains([loopback]) == []
    only_async = pooling_scenario("only", rtt_ms=50.0, specs={"async": "async", "sync": "sync"})
    assert pooling_gains([only_async]) == []
    assert pooling_gains([]) == []
    # a latency fault stacked on the profile: the connections paid more than its RTT
    stacked = pooling_scenario("stacked", rtt_ms=50.0)
    stacked["definition"]["network_faults"] = [{"type": "latency", "ms": 10.0}]
    assert pooling_gains([stacked]) == []
    stacked["definition"]["network_faults"] = []
    assert len(pooling_gains([stacked])) == 1


def test_warmups_failures_and_profiled_trials_stay_out() -> None:
    noise = [
        _trial("async", 9, 5.0, 1, warmup=True),
        _trial("async[pooling=off]", 9, 5.0, 60, status="harness_error"),
        _trial("async", 9, 5.0, 1, profiled=True),
    ]
    (row,) = pooling_gains([pooling_scenario("s", rtt_ms=50.0, extra_trials=noise)])
    assert row.samples_pooled == row.samples_unpooled == 6
    assert row.difference_s == pytest.approx(0.100)


def test_bad_input_gives_no_row_or_a_missing_figure_never_a_traceback() -> None:
    bad_network = pooling_scenario("bad", rtt_ms=50.0)
    bad_network["definition"]["network"] = {"rtt_ms": "fast"}
    assert pooling_gains([bad_network]) == []
    no_counts = pooling_scenario("nocounts", rtt_ms=50.0)
    for trial in no_counts["trials"]:
        trial["metrics"]["connections_opened"] = None
    (row,) = pooling_gains([no_counts])
    assert row.difference_s == pytest.approx(0.100)
    assert row.connections_per_upload is None
    assert row.rtt_per_connection is None
    assert row.meets is None
    unknown_spec = pooling_scenario("odd", rtt_ms=50.0, specs={"a": "async[bogus=on]", "b": "cmd:"})
    assert pooling_gains([unknown_spec]) == []
    no_p50 = pooling_scenario("nop50", rtt_ms=50.0)
    for trial in no_p50["trials"]:
        if trial["variant"] == "async":
            trial["metrics"]["latency_p50_s"] = None
    (row,) = pooling_gains([no_p50])  # shown as a point without a figure, not dropped
    assert row.pooled_p50_s is None
    assert row.difference_s is None
    assert row.ci_low_s is None
    assert row.meets is None
    assert row.samples_pooled == 0


def test_the_interval_brackets_the_difference_and_is_reproducible() -> None:
    rng = np.random.default_rng(1)
    pooled = list(0.1 + rng.normal(0, 0.003, 8))
    unpooled = list(0.3 + rng.normal(0, 0.003, 8))
    a = stats.bootstrap_difference_ci(pooled, unpooled, rng=np.random.default_rng(0))
    b = stats.bootstrap_difference_ci(pooled, unpooled, rng=np.random.default_rng(0))
    assert a is not None
    assert a == b
    assert a.low < float(np.median(unpooled) - np.median(pooled)) < a.high
    assert 0.18 < a.low < a.high < 0.22
    assert "difference of medians" in a.method
    assert stats.bootstrap_difference_ci([0.1, 0.1], [0.2, 0.2, 0.2], rng=rng) is None
    flat = stats.bootstrap_difference_ci([0.1] * 3, [0.3] * 3, rng=rng)
    assert flat is not None
    assert flat.low == flat.high == pytest.approx(0.2)
    rows = pooling_gains(grid({"off": 1.0, "1.3": 2.0, "1.2": 3.0}))
    assert rows == pooling_gains(grid({"off": 1.0, "1.3": 2.0, "1.2": 3.0}))
    for row in rows:
        assert row.ci_low_s is not None
        assert row.ci_high_s is not None
        assert row.difference_s is not None
        assert row.ci_low_s <= row.difference_s <= row.ci_high_s


def test_handshake_round_trips_are_the_issue_anchors() -> None:
    assert dict(HANDSHAKE_RTTS) == {"off": 1, "1.3": 2, "1.2": 3}


def test_the_console_prints_each_point_and_each_line() -> None:
    from io import StringIO

    from rich.console import Console

    from harness.console import pooling_console_table

    rows = pooling_gains(grid({"off": 1.0, "1.3": 2.0, "1.2": 3.0}, fixed_s=0.002))
    table = pooling_console_table(rows)
    assert table is not None
    out = StringIO()
    Console(file=out, width=160, color_system=None).print(table)
    text = out.getvalue()
    assert text.count("TLS 1.3") >= 4
    assert text.count("plain") >= 4
    assert "no expectation" in text  # 0 ms over TLS
    assert "2.00 RTT per connection (slope)" in text
    assert pooling_console_table([]) is None
