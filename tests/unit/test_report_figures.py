"""The report's pictures: the claims' before/after bars (each bar labelled with its value, the
claim's rule drawn as a line) and heap peak against file size with the fitted slope.
Synthetic runs from tests/factories/nights.py; no sockets."""

from __future__ import annotations

import re
from typing import Any, cast

from harness.analysis.claims import ClaimRow, claim_rows
from harness.analysis.memory import memory_slope_by_variant
from harness.report import render_report
from harness.report.figures import claim_figures
from harness.report.format import fmt_metric
from harness.report.plots import Plotter
from harness.report.view import scenarios_of
from harness.results.contract import TrialDoc
from tests.factories.nights import ScenarioSpec, default_specs, make_results

MIB = 1024 * 1024


def _value(row: ClaimRow, value: float) -> str:
    return f"{value:.2f} per upload" if row.claim.per_upload else fmt_metric(row.metric, value)


def _rows(results: dict[str, Any]) -> list[ClaimRow]:
    return claim_rows(results["scenarios"])


def test_each_measured_claim_has_two_bars_labelled_with_their_values() -> None:
    rows = _rows(make_results(repeats=3))
    measured = [r for r in rows if r.before is not None and r.after is not None]
    assert len(measured) >= 4
    figures = {f.claim: f for f in claim_figures(rows)}
    assert set(figures) == {r.claim.key for r in measured if r.verdict != "not measured"}
    for row in measured:
        svg = figures[row.claim.key].svg
        assert re.findall(r'class="bar-label"[^>]*>([^<]+)<', svg) == [
            _value(row, cast(float, row.before)),
            _value(row, cast(float, row.after)),
        ]
        assert f">{row.verdict}</text>" in svg
        assert row.claim.title in svg
        # bar lengths in proportion to the values
        widths = [float(w) for w in re.findall(r'class="claim-bar"[^>]*width="([\d.]+)"', svg)]
        before, after = cast(float, row.before), cast(float, row.after)
        if before > 0 and widths[0] > 0:
            assert abs(widths[1] / widths[0] - after / before) < 0.02


def test_the_dashed_line_is_where_the_claims_rule_puts_the_after_value() -> None:
    rows = {r.claim.key: r for r in _rows(make_results(repeats=3))}
    figures = {f.claim: f.svg for f in claim_figures(list(rows.values()))}
    memory = rows["memory_50mb"]  # at least 90% less: after at most a tenth of before
    assert memory.before is not None
    needed = _value(memory, memory.before * (1 - memory.claim.target))
    assert f"at least 90% less: after at most {needed}" in figures["memory_50mb"]
    speed = rows["throughput_10_files"]  # at least 5x faster: wall time at most before / 5
    assert speed.before is not None
    needed = _value(speed, speed.before / speed.claim.target)
    assert f"after at most {needed}" in figures["throughput_10_files"]


def test_a_claim_not_met_is_drawn_in_red() -> None:
    slow = make_results(repeats=3, slowdown={"throughput-10-files/async": 8.0})
    rows = {r.claim.key: r for r in _rows(slow)}
    assert rows["throughput_10_files"].verdict == "not met"
    svg = {f.claim: f.svg for f in claim_figures(list(rows.values()))}["throughput_10_files"]
    bars = re.findall(r'class="claim-bar"[^>]*fill="(#[0-9a-f]{6})"', svg)
    assert bars == ["#9e9e9e", "#c62828"]


def test_the_page_shows_the_bars_above_the_claims_table_for_the_filters() -> None:
    page = render_report(make_results(specs=default_specs()[:2], repeats=3))
    claims = page.split('<section id="claims">')[1].split("</section>")[0]
    found = re.findall(
        r'<figure class="claim-figure" data-scenario="([^"]+)" data-provider="([^"]+)"', claims
    )
    assert found == [("memory-50mib", "kimi"), ("throughput-10-files", "kimi")]
    assert claims.index('class="claim-figure"') < claims.index("<table")


def test_memory_against_size_draws_each_variants_fitted_slope() -> None:
    specs = [
        ScenarioSpec("small-files", None, 256 * 1024, 6, (1,)),
        ScenarioSpec("memory-50mib", "memory_50mb", 50 * MIB, 1, (1,)),
    ]
    results = make_results(specs=specs, repeats=1)
    scenarios = scenarios_of(results)
    svg = Plotter().memory_vs_size(scenarios)
    assert svg is not None
    trials = [cast(TrialDoc, t) for s in scenarios for t in s.profiled]
    fits = memory_slope_by_variant(trials)
    assert set(fits) == {"sync", "naive-async", "async"}
    for variant, fit in fits.items():
        slope = f"{round(fit.slope, 2) + 0.0:.2f} B/B"
        assert f"{variant}: slope {slope}, r\u00b2 " in svg
        # and again at the right end of the variant's fitted line
        assert re.search(rf">\s*{re.escape(slope)}\s*</text>", svg), variant
    # sync holds the file (about 1 B of heap per B), async streams it (about 0)
    assert re.search(r"sync: slope 1\.0\d B/B", svg)
    assert re.search(r"async: slope 0\.0\d B/B", svg)
    page = render_report(results)
    section = page.split('<section id="memory-vs-size">')[1].split("</section>")[0]
    assert "least-squares line whose slope" in section
    assert "sync: slope 1.0" in section


def test_memory_against_size_with_one_size_says_there_is_no_slope() -> None:
    results = make_results(specs=[ScenarioSpec("one", None, MIB, 2, (1,))], repeats=1)
    svg = Plotter().memory_vs_size(scenarios_of(results))
    assert svg is not None
    assert "sync: no slope (one file size)" in svg


def test_claims_without_bars_are_named_in_one_line() -> None:
    page = render_report(make_results(specs=default_specs()[:2], repeats=3))
    claims = page.split('<section id="claims">')[1].split("</section>")[0]
    # three of the five claims have no scenario in this run
    note = re.search(r"No bars for ([^:]+): not measured in this run", claims)
    assert note is not None
    assert "Latency per upload" in note.group(1)
    assert "Memory for a 50 MB file" not in note.group(1)
