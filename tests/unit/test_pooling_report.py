"""The report's pooling-gain section (harness.report.pooling): the curve and its numbers on
the page when the run has such scenarios, nothing when it has none."""

from __future__ import annotations

import re
from typing import Any

from harness.analysis.pooling import pooling_gains
from harness.report import render_report
from harness.report.plots import Plotter
from harness.report.pooling import pooling_curve, pooling_section, pooling_table
from tests.factories.results import make_results, make_scenario
from tests.unit.test_pooling import grid, pooling_scenario

COSTS = {"off": 1.0, "1.3": 2.1, "1.2": 3.15}


def _section(page: str) -> str:
    match = re.search(r'<section id="pooling-gain">.*?</section>', page, re.S)
    assert match is not None, "no pooling-gain section"
    return match.group(0)


def _results(scenarios: list[dict[str, Any]]) -> dict[str, Any]:
    return make_results("20261202T010000Z-pool01", scenarios)


def test_the_section_shows_the_curve_and_its_numbers() -> None:
    page = render_report(_results(grid(COSTS)))
    section = _section(page)
    assert section.count("<svg") == 1
    assert 'aria-describedby="pooling-gain-table"' in section
    assert 'id="pooling-gain-table"' in section
    # the axis, the lines per TLS setting and the ideal references, as SVG text
    for text in ("round-trip time (ms)", "plain TCP", "TLS 1.3", "TLS 1.2", "ideal 4 RTT"):
        assert text in section
    # the numbers: 50 ms TLS 1.3 is 2 x 2.1 x 50 ms = 210 ms, 2.10 RTT per connection
    assert "210 ms" in section
    assert "2.10" in section
    assert "3.15" in section
    assert "<td>2 ± 25%</td>" in section
    assert "<td>&lt; 5 ms</td>" in section  # the 0 ms points' expectation, escaped
    assert re.search(r"<td>210 ms \(\d[^)]* – [^)]*\)</td>", section)
    # the points with an expectation (not 0 ms over TLS), then the lines
    assert section.count('class="verdict good">met<') == 10 + 3
    assert section.count(">no expectation<") == 2
    assert "10 of 10 points" in " ".join(section.split())
    # the fitted lines: slopes in round trips per connection, with their verdicts
    fits = re.search(r'<div class="table-wrap" id="pooling-gain-fits">.*?</div>', section, re.S)
    assert fits is not None
    for slope in ("1.00", "2.10", "3.15"):
        assert f"<td>{slope}</td>" in fits.group(0)
    assert fits.group(0).count('class="verdict good">met<') == 3
    assert page == render_report(_results(grid(COSTS)))  # byte-identical: seeded, salted


def test_no_section_without_pooling_scenarios() -> None:
    plain: Any = [make_scenario("plain", seed=1)]
    page = render_report(_results(plain))
    assert 'id="pooling-gain"' not in page
    assert pooling_section(plain, Plotter()) is None


def test_a_point_that_misses_the_expectation_says_not_met() -> None:
    rows = pooling_gains(grid({"off": 1.0, "1.3": 2.9, "1.2": 3.0}))
    html = pooling_table(rows)
    assert html is not None
    assert html.count(">not met<") == 3  # TLS 1.3 at 10, 50 and 150 ms
    assert pooling_table([]) is None


def test_several_providers_or_pairs_are_separate_lines_and_named_in_the_table() -> None:
    a = pooling_scenario("a", rtt_ms=50.0, tls="1.3")
    b = pooling_scenario(
        "b", rtt_ms=50.0, tls="1.3", specs={"on": "async", "off": "async[pooling=off]"}
    )
    rows = pooling_gains([a, b])
    assert len(rows) == 2
    svg = pooling_curve(Plotter(), rows)
    assert svg is not None
    assert "async / async[pooling=off]" in svg
    assert "on / off" in svg
    html = pooling_table(rows)
    assert html is not None
    assert "<th>provider</th>" in html


def test_a_point_without_both_p50s_is_listed_not_drawn() -> None:
    scenario = pooling_scenario("nop50", rtt_ms=50.0)
    for trial in scenario["trials"]:
        if trial["variant"] == "async":
            trial["metrics"]["latency_p50_s"] = None
    rows = pooling_gains([scenario])
    assert pooling_curve(Plotter(), rows) is None
    page = render_report(_results([scenario]))
    section = _section(page)
    assert "<svg" not in section
    assert "Not measured in this run" in section
    assert ">not measured<" in section
