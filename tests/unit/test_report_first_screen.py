"""The report's first screen and its tables (issue 17, parts 1, 2 and 4): the verdict in one
sentence, what changed with its size, CI and commits, warnings as actions, every row naming
its cell, numbers in words, and the filters' attributes. Socket-free: real comparisons
(``compare_run``) against history written to tmp_path by the real ``harness.history``."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.analysis import stats
from harness.compare import compare_run
from harness.history import append_run, history_root, load_history
from harness.report import render_report
from harness.report.format import column_unit, fmt_relative
from harness.report.view import scenarios_of
from harness.report.warnings import report_advice
from harness.report.write import load_report_history
from tests.factories.results import make_results as make_doc
from tests.factories.results import make_scenario

PROVIDERS = ("kimi", "glm")


def _night(run: int, *, slowdown: float = 1.0) -> dict[str, Any]:
    """One night of scenario ``s`` (sync and async, two providers, 6 repeats), its commit
    named after the night."""
    scenario = make_scenario(
        "s", seed=run, providers=PROVIDERS, repeats=6, slowdown={"async": slowdown}
    )
    doc = make_doc(f"run-{run:02d}", [scenario], started_at=f"2026-11-{run:02d}T01:00:00Z")
    doc["environment"]["git_commit"] = f"c0ffee{run:02d}" + "0" * 32
    return doc


def _page(tmp_path: Path, tonight: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The page of ``tonight`` against 6 earlier nights, as ``uploadbench report`` makes it."""
    for run in range(1, 7):
        append_run(history_root(tmp_path), _night(run))
    comparison = compare_run(tonight, history=load_history(history_root(tmp_path)).entries)
    history, _ = load_report_history(tmp_path, tonight)
    data = comparison.to_dict()
    return render_report(tonight, comparison=data, history=history), data


def _headline(page: str) -> str:
    return page.split('<section id="headline"')[1].split("</section>")[0]


def _text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


@pytest.fixture(scope="module")
def regressed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    return _page(tmp_path_factory.mktemp("regressed"), _night(7, slowdown=1.3))


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    return _page(tmp_path_factory.mktemp("quiet"), _night(7))


def test_a_change_reads_in_the_metrics_words() -> None:
    assert fmt_relative("wall_s", 0.0715, 0.0637, 0.0902) == "14x faster (11-16x)"
    assert fmt_relative("throughput_bytes_per_s", 14.0, 11.1, 15.7) == "14x faster (11-16x)"
    assert fmt_relative("rss_peak_bytes", 0.69, 0.66, 0.72) == "31% less (28-34%)"
    assert fmt_relative("throughput_bytes_per_s", 0.82, 0.78, 0.86) == "18% slower (14-22%)"
    assert fmt_relative("connections_opened", 0.1) == "10x fewer"
    # a CI across no change names both of its ends
    assert fmt_relative("latency_p50_s", 1.05, 0.98, 1.12) == (
        "5% slower (CI 2% faster to 12% slower)"
    )
    assert fmt_relative("wall_s", None) == "n/a"


def test_a_column_has_one_unit() -> None:
    unit = column_unit("wall_s", [0.012, 0.5, 0.9])
    assert unit.title("wall time") == "wall time (ms)"
    assert [unit.format(v) for v in (0.012, 0.9)] == ["12.0", "900"]
    rate = column_unit("throughput_bytes_per_s", [40 * 2**20, 60 * 2**20])
    assert rate.title("throughput") == "throughput (MiB/s)"
    assert rate.format(None) == "n/a"


def test_repeats_to_decide_come_from_the_noise_and_the_minimum_effect() -> None:
    # 3 against 3 can never reach p < 0.05: a huge change still needs the test's minimum
    floor = stats.repeats_to_decide(0.02, 0.05, 0.07)
    assert floor is not None
    assert stats.min_p_value(floor, floor) < 0.05 <= stats.min_p_value(floor - 1, floor - 1)
    quiet, noisy = stats.repeats_to_decide(0.03, 0.05), stats.repeats_to_decide(0.10, 0.05)
    assert quiet is not None
    assert noisy is not None
    assert floor <= quiet < noisy
    # a few noisy repeats near the boundary are not trusted: the minimum effect decides
    assert stats.repeats_to_decide(0.03, 0.05, 1.05) == quiet
    # a large change needs fewer repeats than telling 5% apart; too much noise: None
    large = stats.repeats_to_decide(0.10, 0.05, 1.5)
    assert large is not None
    assert large < noisy
    assert stats.repeats_to_decide(0.60, 0.05) is None


@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")
def test_the_first_screen_names_the_regression_its_size_and_commits(
    regressed: tuple[str, dict[str, Any]],
) -> None:
    page, comparison = regressed
    assert comparison["exit_code"] == 1
    head = _headline(page)
    verdict = _text(head.split('id="verdict">')[1].split("</h2>")[0])
    assert verdict.startswith("Failed: ")
    assert "regression" in verdict
    gating = head.split('id="regressions"')[1].split("</ul>")[0]
    items = [_text(li) for li in gating.split("<li")[1:]]
    assert items
    # one line per cell: its metrics with their size in words and CI, then the commits of
    # the last compared night and tonight
    throughput = [i for i in items if i.startswith('class="change bad" ') and "kimi" in i]
    assert len(throughput) == 1, items
    assert "s / kimi / async / c=4:" in throughput[0]
    assert re.search(r"throughput 2\d% slower \(\d+-\d+%\)", throughput[0])
    assert "commits c0ffee06..c0ffee07 (run-06 → this run)" in throughput[0]
    assert 'data-scenario="s" data-provider="kimi" data-variant="async"' in gating
    assert 'id="nothing-changed"' not in head
    # and for machines, in the embedded JSON
    data = json.loads(page.split('<script id="report-data" type="application/json">')[1]
                      .split("</script>")[0])  # fmt: skip
    changes = [c for c in data["changes"] if c["metric"] == "throughput_bytes_per_s"]
    assert {(c["provider"], c["direction"], c["gating"]) for c in changes} >= {
        ("kimi", "regression", True)
    }
    assert all(c["since"].startswith("commits c0ffee06..c0ffee07") for c in changes)


@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")
def test_a_quiet_night_says_nothing_changed(quiet: tuple[str, dict[str, Any]]) -> None:
    page, comparison = quiet
    head = _headline(page)
    assert comparison["summary"]["gating"]["regressed"] == 0
    assert 'id="regressions"' not in head
    assert "no regression, no improvement and no failed threshold" in _text(head).lower()
    if comparison["exit_code"] == 0:
        assert "Nothing changed: every gating check holds" in head
    else:
        assert "Nothing changed that the data can show" in head


@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")
def test_every_row_of_a_several_provider_scenario_names_its_cell(
    regressed: tuple[str, dict[str, Any]],
) -> None:
    page, _ = regressed
    section = page.split('id="scenario-1"')[1].split("</section>")[0]
    for title in ("Variants (median of repeats)", "Event-loop lag", "Errors, timeouts"):
        table = section.split(f"<h3>{title}")[1].split("</table>")[0]
        assert "<th>provider</th><th>variant</th><th>c</th>" in table, title
        rows = re.findall(r"<tr( [^>]*)?>(.*?)</tr>", table.split("<tbody>")[1], re.S)
        assert len(rows) == 4, title  # 2 providers x 2 variants
        for attrs, cells in rows:
            provider = re.search(r'data-provider="([^"]+)"', attrs).group(1)  # type: ignore[union-attr]
            assert provider in PROVIDERS
            assert f"<td>{provider}</td>" in cells
            assert 'data-scenario="s"' in attrs
    # every body row of every table in the scenario carries its provider for the filters
    for body in re.findall(r"<tbody>(.*?)</tbody>", section, re.S):
        for attrs in re.findall(r"<tr([^>]*)>", body):
            assert "data-provider=" in attrs or "data-scenario=" in attrs, attrs


@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")
def test_the_pivot_says_how_much_in_words_and_what_would_decide(
    regressed: tuple[str, dict[str, Any]],
) -> None:
    page, _ = regressed
    pivot = page.split("<h3>What changed, cell by cell</h3>")[1].split("<h3>")[0]
    assert "Against history" in pivot
    assert re.search(r"\d+% slower \(\d+-\d+%\)<br><span class=\"cell-note\">regressed", pivot)
    # no raw "0.0715x [0.0637x - 0.0902x]" cells: ratios are words
    assert not re.search(r"\dx \[\d", pivot)


def test_inconclusive_cells_say_how_many_repeats_would_decide() -> None:
    # 3 repeats a side: no verdict can be significant; the page says what would decide
    nights = [
        make_doc(f"run-0{n}", [make_scenario("s", seed=n, repeats=3, cv=0.08)]) for n in (1, 2)
    ]
    comparison = compare_run(nights[1], baseline_run=nights[0]).to_dict()
    page = render_report(nights[1], comparison=comparison)
    pivot = page.split("<h3>What changed, cell by cell</h3>")[1].split("<h3>")[0]
    assert re.search(r"inconclusive \(gates\): \d+ repeats a side decide ±5%", pivot)
    # exit 3: the first screen lists the undecided gating checks and what would decide each
    assert comparison["exit_code"] == 3
    head = _headline(page)
    assert _text(head.split('id="verdict">')[1].split("</h2>")[0]).startswith("Inconclusive: ")
    undecided = [
        _text(li) for li in head.split('id="undecided"')[1].split("</ul>")[0].split("<li")[1:]
    ]
    gating_undecided = [
        c for c in comparison["checks"] if c["gating"] and c["verdict"] == "inconclusive"
    ]
    assert 0 < len(undecided) <= len(gating_undecided)
    assert all(
        re.search(r"\d+ repeats a side (should )?decide ±\d+%|over 100", u) for u in undecided
    )
    advice = page.split('id="warnings"')[1].split("</section>")[0]
    assert "<details>" in advice  # folded
    assert re.search(
        r"Add repeats: .*s / kimi / sync c=4 needs \d+ to decide \d+% \(has 3\)", advice
    )


def test_advice_numbers_come_from_the_analysis_layer() -> None:
    doc = make_doc("run-01", [make_scenario("s", seed=1, repeats=3, cv=0.08)])
    (add,) = [a for a in report_advice(doc, scenarios_of(doc), history=None, comparison=None)
              if a.action == "Add repeats"]  # fmt: skip
    for group in scenarios_of(doc)[0].groups:
        need = [
            stats.repeats_to_decide(group.cv(m), effect)
            for m, effect in (("throughput_bytes_per_s", 0.05), ("latency_p50_s", 0.05))
        ]
        worst = max(n for n in need if n is not None)
        assert f"s / kimi / {group.variant} c=4 needs {worst} to decide 5% (has 3)" in add.text


def test_the_filters_script_is_the_one_the_csp_allows() -> None:
    doc = make_doc("run-01", [make_scenario("s", seed=1, providers=PROVIDERS, repeats=3)])
    page = render_report(doc)
    (script,) = re.findall(r"<script>(.*?)</script>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page
    assert "URLSearchParams" in script  # the filters, in the one hashed script
    form = page.split('<form id="filters"')[1].split("</form>")[0]
    assert 'name="provider" value="glm"' in form
    assert 'name="variant" value="async"' in form
    # one scenario: nothing to choose on that axis
    assert 'name="scenario"' not in form


def test_filter_attributes_are_escaped() -> None:
    evil = '"><script>alert(1)</script>'
    doc = make_doc("run-01", [make_scenario(evil, seed=1, providers=("kimi", evil), repeats=3)])
    page = render_report(doc)
    assert "<script>alert(1)" not in page
    assert 'data-provider="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


def test_a_failed_threshold_is_named_once_with_what_was_measured() -> None:
    scenario = make_scenario("s", seed=1, repeats=3, thresholds=("async/sync.throughput > 5x",))
    doc = make_doc("run-01", [scenario])
    comparison = compare_run(doc).to_dict()
    page = render_report(doc, comparison=comparison)
    head = _headline(page)
    verdict = _text(head.split('id="verdict">')[1].split("</h2>")[0])
    rule = "async/sync.throughput_bytes_per_s > 5x"
    assert verdict == f"Failed: 1 threshold failed: {rule} at s / kimi / async / c=4."
    (line,) = [
        _text(li) for li in head.split('id="rules-failed"')[1].split("</ul>")[0].split("<li")[1:]
    ]
    # the rule once, then what was measured (the check's reason without the rule again)
    assert line.count(rule) == 1
    assert re.search(
        r": medians [\d.]+ MiB/s / [\d.]+ MiB/s \(n=3/3\) = 0\.9\d+x \(fails > 5x\)$", line
    )


@pytest.mark.parametrize(
    "odd",
    [
        {"ratio": "fast", "ci_low": None, "ci_high": "x"},
        {"ratio": -1.0, "min_effect": -3, "n_baseline": "many", "concurrency": "four"},
        {"baseline": None, "metric": "no_such_metric", "ratio": 0.5},
        {"baseline": "history (2 runs: a..b)", "ratio": float("nan"), "gating": "yes"},
    ],
)
def test_odd_checks_render_as_text_never_a_traceback(odd: dict[str, Any]) -> None:
    doc = make_doc("run-01", [make_scenario("s", seed=1, repeats=3)])
    check = {
        "scenario": "s",
        "provider": "kimi",
        "variant": "async",
        "concurrency": 4,
        "metric": "throughput_bytes_per_s",
        "kind": "history",
        "baseline": "history (5 runs: a..e)",
        "verdict": "regressed",
        "gating": True,
        **odd,
    }
    comparison = {"exit_code": 1, "checks": [check], "against": "history"}
    page = render_report(doc, comparison=comparison, history=[{"run_id": "e"}])
    assert 'id="verdict"' in page
    assert 'id="regressions"' in page
