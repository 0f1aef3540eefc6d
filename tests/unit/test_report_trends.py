"""The report's trend charts (one per scenario and metric, every provider): nights on a date
axis, each point's commit in its SVG title, the noise band of the history check that decided
tonight, base and head of a base-and-head run, empty and constant panels left out. Synthetic
nights from tests/factories/nights.py, history written and read by harness.history in a
temporary folder, comparisons by the real compare_run; no sockets."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from harness import history
from harness.compare import compare_run
from harness.history import summarize_run
from harness.report import render_report
from harness.report.figures import TrendFigures, trend_figures
from harness.report.format import fmt_metric
from harness.report.trends import history_series
from tests.factories.nights import ScenarioSpec, make_results

NAME = "throughput-10-files"
SPECS = [ScenarioSpec(NAME, "throughput_10_files", 256 * 1024, 6, (4,))]
NIGHTS = 40


def commit_of(number: int) -> str:
    return f"{number:04d}" + "beef" * 9


def night(
    number: int,
    *,
    providers: tuple[str, ...] = ("kimi",),
    repeats: int = 3,
    started_at: str | None = None,
) -> dict[str, Any]:
    """One night of the scenario, each trial run once per provider (glm 10% slower)."""
    doc = make_results(
        specs=SPECS,
        seed=900 + number,
        repeats=repeats,
        run_id=f"night{number:03d}",
        started_at=started_at or f"2026-{9 + number // 28:02d}-{1 + number % 28:02d}T02:00:00Z",
        profiled=False,
        records=False,
    )
    doc["environment"]["git_commit"] = commit_of(number)
    scenario = doc["scenarios"][0]
    trials = []
    for provider in providers:
        for trial in scenario["trials"]:
            copied = copy.deepcopy(trial)
            copied["provider"] = provider
            copied["key"] = copied["key"].replace("|kimi|", f"|{provider}|")
            if provider == "glm":
                copied["metrics"]["throughput_bytes_per_s"] *= 0.9
            trials.append(copied)
    scenario["trials"] = trials
    return doc


def _records(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for doc in docs for record in summarize_run(doc)]  # type: ignore[arg-type]


def _charts(found: TrendFigures | None) -> dict[str, str]:
    assert found is not None
    return {chart.metric: chart.svg for chart in found.charts}


@pytest.fixture(scope="module")
def two_providers() -> dict[str, Any]:
    """40 nights of kimi and glm in a history folder, tonight compared with it."""
    providers = ("kimi", "glm")
    earlier = [night(n, providers=providers) for n in range(NIGHTS)]
    tonight = night(NIGHTS, providers=providers)
    return {"earlier": earlier, "tonight": tonight, "records": _records(earlier)}


@pytest.fixture(scope="module")
def compared(two_providers: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real comparison of tonight against the history files of the 40 nights."""
    root = history.history_root(tmp_path_factory.mktemp("reports"))
    for doc in two_providers["earlier"]:
        history.append_run(root, doc)
    entries = history.load_history(root).entries
    return compare_run(two_providers["tonight"], history=entries).to_dict()


@pytest.fixture(scope="module")
def figures(two_providers: dict[str, Any], compared: dict[str, Any]) -> TrendFigures:
    series = history_series(two_providers["records"], two_providers["tonight"])
    found = trend_figures(
        NAME,
        ("kimi", "glm"),
        ("sync", "naive-async", "async"),
        series,
        run_id=two_providers["tonight"]["run_id"],
        checks=compared["checks"],
    )
    assert found is not None
    return found


def test_nights_are_placed_by_date(figures: TrendFigures) -> None:
    svg = _charts(figures)["throughput_bytes_per_s"]
    ticks = re.findall(r'text-anchor="middle">([^<]+)</text>', svg)
    # 41 nights from 1 September to 13 October: the ticks are dates, not run numbers
    assert ticks
    assert all(re.fullmatch(r"(Sep|Oct) \d{1,2}", t) for t in ticks), ticks
    assert "night (UTC date it started)" in svg
    assert "oldest left, this run right" not in svg
    # a later night sits further right
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', svg)]
    first_line = xs[: NIGHTS + 1]
    assert first_line == sorted(first_line)


def test_every_night_names_its_commit_date_run_and_values_on_hover(
    figures: TrendFigures,
) -> None:
    svg = _charts(figures)["latency_p50_s"]
    nights = re.findall(r'<g class="nights"[^>]*>(.*?)</g>', svg, re.S)
    assert len(nights) == 1
    titles = re.findall(r"<rect [^>]*><title>([^<]*)</title></rect>", nights[0], re.S)
    assert len(titles) == NIGHTS + 1  # every night of history and this run
    for number in (0, 17, NIGHTS - 1):
        head, *values = titles[number].split("\n")
        assert head == f"{2026}-{9 + number // 28:02d}-{1 + number % 28:02d} 02:00 UTC, " + (
            f"commit {commit_of(number)[:7]}, run night{number:03d}"
        )
        # each provider's and variant's value that night
        assert [v.split(":")[0] for v in values] == [
            f"{p} / {v} / c=4" for p in ("kimi", "glm") for v in ("sync", "naive-async", "async")
        ]
    tonight = titles[-1]
    assert tonight.startswith(f"2026-10-13 02:00 UTC, commit {commit_of(NIGHTS)[:7]}, this run")
    # this run's title also gives each line's noise band, as the history check drew it
    assert "glm / async / c=4: noise band of the history check, median " in tonight
    # a night's column spans from halfway to its neighbours: the columns tile the plot
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)"', nights[0])]
    assert xs == sorted(xs)


def test_every_provider_is_drawn_in_each_chart(figures: TrendFigures) -> None:
    for metric, svg in _charts(figures).items():
        providers = set(re.findall(r'class="trend-line" data-trend-provider="([^"]+)"', svg))
        assert providers == {"kimi", "glm"}, metric
        variants = set(re.findall(r'class="trend-line" [^>]*data-trend-variant="([^"]+)"', svg))
        assert variants == {"sync", "naive-async", "async"}, metric
    # the shared legend names each line by provider and variant, in its own style
    assert "glm / async" in figures.legend
    assert "kimi / sync" in figures.legend
    assert 'stroke-dasharray="5,3"' in figures.legend  # the second provider's dash


def test_empty_and_constant_panels_are_left_out_and_said_so(figures: TrendFigures) -> None:
    drawn = set(_charts(figures))
    assert drawn == {"throughput_bytes_per_s", "latency_p50_s", "latency_p99_s"}
    # the synthetic RSS peak and timeout rate never move; no night was profiled (no heap)
    assert figures.omitted is not None
    assert figures.omitted.startswith("Not drawn (no trend to show): the same value on all 41")
    assert "RSS peak (" in figures.omitted
    assert "timeouts (" in figures.omitted
    assert "heap" not in figures.omitted


def test_the_band_is_the_number_the_history_verdict_used(
    figures: TrendFigures, compared: dict[str, Any]
) -> None:
    svg = _charts(figures)["throughput_bytes_per_s"]
    bands = re.findall(
        r'<rect class="noise-band" data-trend-provider="([^"]+)" data-trend-variant="([^"]+)"'
        r"[^>]*><title>([^<]+)</title>",
        svg,
    )
    assert len(bands) == 6  # one per provider and variant: each has its history check
    for provider, variant, title in bands:
        (check,) = [
            c
            for c in compared["checks"]
            if c["kind"] == "history"
            and c["metric"] == "throughput_bytes_per_s"
            and (c["provider"], c["variant"]) == (provider, variant)
        ]
        assert f"median {fmt_metric('throughput_bytes_per_s', check['median_baseline'])}" in title
        assert f"\u00b1 {check['min_effect']:.0%} (the minimum effect its verdict used" in title
        assert f"tonight {check['verdict']}" in title


def test_the_page_wraps_each_chart_for_the_filters(
    two_providers: dict[str, Any], compared: dict[str, Any]
) -> None:
    page = render_report(
        two_providers["tonight"], comparison=compared, history=two_providers["records"]
    )
    wrapped = re.findall(
        r'<figure class="trend" data-scenario="([^"]+)" data-metric="([^"]+)"', page
    )
    assert wrapped == [
        (NAME, "throughput_bytes_per_s"),
        (NAME, "latency_p50_s"),
        (NAME, "latency_p99_s"),
    ]
    assert 'class="note trends-omitted">Not drawn' in page
    assert page.count('class="noise-band"') == 3 * 6


def test_a_regression_is_crossed_and_base_and_head_are_marked(tmp_path: Path) -> None:
    earlier = [night(n) for n in range(8)]
    # tonight a base-and-head run: every trial twice, as base and as head (head 30% slower)
    tonight = night(8, repeats=6)
    scenario = tonight["scenarios"][0]
    trials = []
    for trial in scenario["trials"]:
        for label, ref in (("base", "main"), ("head", "feature")):
            copied = copy.deepcopy(trial)
            copied["round"] = 0
            copied["revision"] = {
                "label": label,
                "ref": ref,
                "commit": ("1111" if label == "base" else "2222") + "ab" * 18,
                "dirty": False,
            }
            copied["key"] += f"|rev={label}"
            if label == "head" and copied["variant"] == "async":
                copied["metrics"]["throughput_bytes_per_s"] *= 0.7
            trials.append(copied)
    scenario["trials"] = trials
    root = history.history_root(tmp_path)
    for doc in earlier:
        history.append_run(root, doc)
    comparison = compare_run(tonight, history=history.load_history(root).entries).to_dict()
    series = history_series(_records(earlier), tonight)
    found = trend_figures(
        NAME,
        ("kimi",),
        ("sync", "naive-async", "async"),
        series,
        run_id=tonight["run_id"],
        checks=comparison["checks"],
        paired=comparison["paired"],
    )
    svg = _charts(found)["throughput_bytes_per_s"]
    marks = re.findall(
        r'<g class="base-head" data-trend-provider="kimi" data-trend-variant="async">(.*?)</g>',
        svg,
    )
    assert len(marks) == 1
    titles = re.findall(r"<title>([^<]+)</title>", marks[0])
    assert titles[0].startswith("base (main @ 1111aba): ")
    assert titles[1].startswith("head (feature @ 2222aba): ")
    (paired,) = [
        c
        for c in comparison["paired"]["checks"]
        if c["variant"] == "async" and c["metric"] == "throughput_bytes_per_s"
    ]
    assert all(f"head against base: {paired['verdict']}" in t for t in titles)
    assert fmt_metric("throughput_bytes_per_s", paired["base_median"]) in titles[0]
    assert fmt_metric("throughput_bytes_per_s", paired["head_median"]) in titles[1]
    # the head's 30% drop against 8 nights is a regression against history: a red cross
    history_check = [
        c
        for c in comparison["checks"]
        if c["kind"] == "history"
        and c["variant"] == "async"
        and c["metric"] == "throughput_bytes_per_s"
    ]
    assert [c["verdict"] for c in history_check] == ["regressed"]
    assert svg.count("fill: #ff0000") == 1
    assert "regressed against history: kimi / async / c=4, " in svg


def test_names_from_a_scenario_file_are_escaped() -> None:
    evil = '<script>alert("x")</script>'
    docs = [night(n) for n in range(3)]
    for doc in docs:
        for trial in doc["scenarios"][0]["trials"]:
            trial["provider"] = evil
    series = history_series(_records(docs[:2]), docs[2])
    found = trend_figures(NAME, (evil,), ("sync",), series, run_id=docs[2]["run_id"])
    assert found is not None
    assert found.charts
    for text in [found.legend, *(c.svg for c in found.charts)]:
        assert "<script>" not in text
        assert "&lt;script&gt;alert(&quot;x&quot;)" in text


def test_stamps_that_do_not_parse_fall_back_to_night_order() -> None:
    docs = [night(n, started_at=f"night {n}") for n in range(4)]
    series = history_series(_records(docs[:3]), docs[3])
    found = trend_figures(NAME, ("kimi",), ("async",), series, run_id=docs[3]["run_id"])
    svg = _charts(found)["throughput_bytes_per_s"]
    assert "night (oldest left)" in svg
    assert "no date" not in svg  # the stamp as recorded stands in the title
    assert "night 1, commit 0001bee, run night001" in svg


def test_a_scenario_without_any_trend_metric_has_no_figures() -> None:
    assert trend_figures(NAME, ("kimi",), ("async",), {}, run_id="x") is None


def test_lines_far_apart_share_a_log_axis(figures: TrendFigures) -> None:
    charts = _charts(figures)
    # sync uploads one file at a time, async four: throughputs 10x and more apart
    assert "throughput (MiB/s, log scale)" in charts["throughput_bytes_per_s"]
    ticks = re.findall(r'text-anchor="end" dy="3">([^<]+)</text>', charts["throughput_bytes_per_s"])
    assert len(ticks) >= 2
    assert all(re.fullmatch(r"[125]0*(\.0*[125])?|0\.0*[125]", t) for t in ticks), ticks


def test_lines_close_together_keep_a_linear_axis_from_zero() -> None:
    docs = [night(n) for n in range(5)]
    series = history_series(_records(docs[:4]), docs[4])
    only_async = {k: v for k, v in series.items() if k[2] == "async"}
    found = trend_figures(NAME, ("kimi",), ("async",), only_async, run_id=docs[4]["run_id"])
    svg = _charts(found)["throughput_bytes_per_s"]
    assert "log scale" not in svg
    assert re.findall(r'text-anchor="end" dy="3">([^<]+)</text>', svg)[0] == "0"


def test_history_records_that_are_not_history_draw_nothing_and_raise_nothing() -> None:
    docs = [night(n) for n in range(3)]
    good = _records(docs[:2])
    bad: list[Any] = [
        "not a record",
        {"scenario": NAME, "run_id": "x1", "groups": "nope"},
        {"scenario": NAME, "run_id": "x2", "groups": [None, {"concurrency": "four"}]},
        {"scenario": NAME, "run_id": "x3", "groups": [{"concurrency": 4, "samples": []}]},
        {
            "scenario": NAME,
            "run_id": "x4",
            "started_at": None,
            "groups": [{"concurrency": 4, "samples": {"latency_p50_s": "0.1"}}],
        },
    ]
    series = history_series([*good, *bad], docs[2])
    assert {p.run_id for points in series.values() for p in points} == {
        "night000",
        "night001",
        "night002",
    }
    found = trend_figures(NAME, ("kimi",), ("sync", "async"), series, run_id="night002")
    assert found is not None
    assert found.charts


def test_stamps_at_the_ends_of_the_calendar_draw_without_date_ticks() -> None:
    docs = [
        night(0, started_at="0001-01-01T00:00:00Z"),
        night(1, started_at="9999-12-31T00:00:00Z"),
        night(2, started_at="9999-12-31T23:59:00Z"),
    ]
    series = history_series(_records(docs[:2]), docs[2])
    found = trend_figures(NAME, ("kimi",), ("async",), series, run_id=docs[2]["run_id"])
    svg = _charts(found)["throughput_bytes_per_s"]
    assert "0001-01-01 00:00 UTC, commit 0000bee" in svg
