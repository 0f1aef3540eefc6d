"""The report's head-against-base section (a base-and-head run, ``run --base --head``): built
from ``compare(doc).to_dict()["paired"]`` of synthetic documents, no files but the
report itself, no sockets."""

from __future__ import annotations

import html.parser
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pytest

from harness.analysis.paired import PairedCheck
from harness.compare import RunComparison, compare_run
from harness.compare.paired import paired_headline
from harness.report import REPORT_FILE, render_report, write_report
from harness.report.paired import paired_section, paired_verdict_line
from harness.report.render import REPORT_DATA_VERSION
from harness.results.contract import ResultsDoc
from tests.factories.results import NOISY, TYPICAL, make_results, make_trial

EVIL = "<script>alert(1)</script>"
REVISIONS = {
    "base": {"label": "base", "ref": "main", "commit": "1a2b3c4d5e6f7a8b", "dirty": False},
    "head": {"label": "head", "ref": "feature/pool", "commit": "9f8e7d6c5b4a3f2e", "dirty": True},
}
MIB = 1024 * 1024


def paired_doc(
    *,
    seed: int = 0,
    processes: int = 4,
    rounds: int = 4,
    head_factor: Mapping[str, float] | None = None,
    revisions: Mapping[str, Mapping[str, Any]] = REVISIONS,
    variant: str = "async",
    sizes: Sequence[int | None] = (None,),
    extra: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A base-and-head run of one cell (per size): ``processes`` x ``rounds`` pairs, every
    noisy metric TYPICAL x exp(shared + own noise), the shared part common to a pair;
    ``head_factor`` multiplies the head's values. ``extra`` trials are appended as given."""
    rng = np.random.default_rng(seed)
    trials: list[dict[str, Any]] = []
    for size in sizes:
        for p in range(processes):
            for r in range(rounds):
                shared = 0.05 * rng.standard_normal()
                for label in ("base", "head"):
                    metrics: dict[str, float | None] = {}
                    for name, value in TYPICAL.items():
                        if name in NOISY:
                            value *= math.exp(shared + 0.03 * rng.standard_normal())
                        metrics[name] = value
                    metrics["loop_lag_p99_s"] = None  # not applicable
                    if label == "head":
                        for name, factor in (head_factor or {}).items():
                            metrics[name] = float(metrics[name] or 0.0) * factor
                    trial = make_trial("kimi", variant, 4, p, metrics)
                    trial["round"] = r
                    trial["revision"] = dict(revisions[label])
                    trial["key"] += f"|n={r}|rev={label}"
                    if size is not None:
                        trial["file_size_bytes"] = size
                        trial["key"] += f"|size={size}"
                    trials.append(trial)
    scenario = {
        "name": "s",
        "hash": "h",
        "definition": {"name": "s"},
        "baseline": "sync",
        "trials": [*trials, *extra],
    }
    return make_results("run-07", [scenario])


def compare(doc: Mapping[str, Any]) -> RunComparison:
    return compare_run(cast(ResultsDoc, doc))


def plain_doc() -> dict[str, Any]:
    """The same run without revisions: every trial is of this run's code."""
    doc = paired_doc()
    for trial in doc["scenarios"][0]["trials"]:
        del trial["revision"]
        del trial["round"]
    return doc


class _Ids(html.parser.HTMLParser):
    """The text of every element with an id (nested elements' text included)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id")
        if tag not in {"br", "meta", "link", "img", "input", "hr", "col"}:
            self._open.append(ident)
        if ident:
            self.ids[ident] = ""

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for ident in self._open:
            if ident:
                self.ids[ident] += data


def ids_of(page: str) -> dict[str, str]:
    parser = _Ids()
    parser.feed(page)
    return parser.ids


def data_of(page: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ids_of(page)["report-data"])
    return data


def rows_of(table_html: str) -> list[list[str]]:
    """The cells' text of every body row of an HTML table."""

    class Rows(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self._in_body = self._in_cell = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "tbody":
                self._in_body = True
            elif tag == "tr" and self._in_body:
                self.rows.append([])
            elif tag == "td" and self._in_body:
                self._in_cell = True
                self.rows[-1].append("")

        def handle_endtag(self, tag: str) -> None:
            if tag == "td":
                self._in_cell = False

        def handle_data(self, data: str) -> None:
            if self._in_cell:
                self.rows[-1][-1] += data

    parser = Rows()
    parser.feed(table_html)
    return parser.rows


@pytest.fixture(scope="module")
def dropped() -> dict[str, Any]:
    """A head whose throughput dropped by 30% and that opens 50% more connections."""
    doc = paired_doc(head_factor={"throughput_bytes_per_s": 0.7, "connections_opened": 1.5})
    comparison = compare(doc)
    return {"doc": doc, "comparison": comparison, "dict": comparison.to_dict()}


@pytest.fixture(scope="module")
def dropped_page(dropped: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    """The run written as its run folder's index.html, as ``uploadbench run`` does."""
    run_dir = tmp_path_factory.mktemp("run")
    path = write_report(run_dir, dropped["doc"], comparison=dropped["dict"])
    assert path == run_dir / REPORT_FILE
    return path.read_text(encoding="utf-8")


def test_the_section_names_both_revisions_and_the_verdict(
    dropped: dict[str, Any], dropped_page: str
) -> None:
    ids = ids_of(dropped_page)
    assert "head-vs-base" in ids
    assert ids["paired-base"] == "main @ 1a2b3c4d"
    assert ids["paired-head"] == "feature/pool @ 9f8e7d6c, dirty"
    # the job summary's verdict line, from the same checks
    line = paired_headline(dropped["comparison"].paired)
    assert line.startswith("head is slower than base on 1 gating check (throughput)")
    assert ids["paired-verdict"] == line
    assert 'class="paired regression"' in dropped_page
    assert 'href="#head-vs-base"' in dropped_page  # the page's navigation names it
    revisions = rows_of(dropped_page[dropped_page.index('id="head-vs-base"') :])[:2]
    assert revisions == [
        ["base", "main", "1a2b3c4d", "clean"],
        ["head", "feature/pool", "9f8e7d6c", "dirty (uncommitted changes)"],
    ]


def test_a_30_percent_throughput_drop_is_a_regressed_gating_row(dropped_page: str) -> None:
    start = dropped_page.index('id="paired-gating"')
    gating = dropped_page[start : dropped_page.index("</table>", start)]
    rows = {row[4]: row for row in rows_of(gating)}
    # one row per gating metric of the one cell
    assert set(rows) == {"throughput", "latency p50", "latency p99", "success"}
    scenario, provider, variant, c, _, base, head, change, p, pairs, verdict = rows["throughput"]
    assert (scenario, provider, variant, c) == ("s", "kimi", "async", "4")
    assert base.endswith("MiB/s")
    assert head.endswith("MiB/s")
    # "-30.0% [-31.2%, -28.8%]": the change and its CI, percent
    assert change.startswith("-3")
    assert change.count("%") == 3
    assert "[" in change
    assert p == "<0.0001"
    assert pairs == "16 (4 processes)"
    assert verdict == "regressed"
    assert '<td class="verdict bad">regressed</td>' in gating  # the report's verdict colours
    assert rows["success"][7] == "+0.00 pp [+0.00 pp, +0.00 pp]"  # fractions: points
    assert rows["success"][10] == "unchanged"
    assert '<td class="verdict neutral">unchanged</td>' in gating


def test_non_gating_regressions_are_listed_and_every_check_is_collapsed(
    dropped: dict[str, Any], dropped_page: str
) -> None:
    start = dropped_page.index('id="paired-regressed"')
    worse = rows_of(dropped_page[start : dropped_page.index("</table>", start)])
    assert [(row[4], row[10]) for row in worse] == [("connections", "regressed")]
    assert worse[0][7].startswith("+50.0%")
    count = len(dropped["comparison"].paired)
    assert f"<details><summary>All {count} paired checks" in dropped_page
    assert "excludes no change" in ids_of(dropped_page)["paired-all"]  # the reasons


def test_the_headline_counts_paired_checks_with_the_gating_checks(
    dropped: dict[str, Any], dropped_page: str
) -> None:
    ids = ids_of(dropped_page)
    gating = [c for c in dropped["dict"]["checks"] if c["gating"]]
    assert gating
    assert all(c["kind"] == "paired" for c in gating)
    assert ids["exit-code"] == "1"
    assert int(ids["count-regressions"]) == sum(c["verdict"] == "regressed" for c in gating)
    assert sum(int(ids[f"count-{k}"]) for k in ("regressions", "improvements", "unchanged",
                                                 "inconclusive")) == len(gating)  # fmt: skip
    assert "head against base (4 paired gating checks)" in dropped_page
    failures = ids["failures"]
    assert "throughput_bytes_per_s" in failures
    assert "head vs base (main @ 1a2b3c4d), regressed" in failures
    data = data_of(dropped_page)
    assert data["report_data_version"] == REPORT_DATA_VERSION
    assert data["headline"]["paired"] == 4
    assert data["headline"]["regressions"] >= 1
    assert data["paired"]["revisions"] == REVISIONS
    assert data["paired"]["verdict"] == ids["paired-verdict"]
    assert len(data["paired"]["checks"]) == len(dropped["comparison"].paired)


def test_the_pivot_words_paired_checks_and_writes_rates_as_points(dropped_page: str) -> None:
    start = dropped_page.index("<h3>What changed, cell by cell</h3>")
    pivot = dropped_page[start : dropped_page.index("</table>", start)]
    assert "Head against base, paired per round: against base (main @ 1a2b3c4d)" in pivot
    rows = rows_of(pivot)
    assert [row[:3] for row in rows] == [["kimi", "async", "4"]]
    cells = rows[0][3:]
    # throughput, head/base about 0.7: "32% slower (30-34%)" over its verdict
    assert any(
        re.fullmatch(r"[23]\d% slower \(\d\d-\d\d%\)regressed \(gates\)", cell) for cell in cells
    ), cells
    # a rate is a difference, not the gate's ratio made of 1 + difference (unchanged: the
    # interval is in the cell's hover text only)
    assert any(cell.startswith("+0.00 pp") for cell in cells)
    assert 'title="+0.00 pp [+0.00 pp, +0.00 pp]: ' in pivot
    assert "1x [1x – 1x]" not in pivot
    assert 'data-scenario="s" data-provider="kimi" data-variant="async"' in pivot
    assert "Head against base: paired per round" in dropped_page


def test_the_per_variant_tables_show_the_head_only(
    dropped: dict[str, Any], dropped_page: str
) -> None:
    (group,) = data_of(dropped_page)["scenarios"][0]["groups"]
    assert group["repeats"] == 16  # the head's trials, not the base's as well
    head = [
        t["metrics"]["throughput_bytes_per_s"]
        for t in dropped["doc"]["scenarios"][0]["trials"]
        if t["revision"]["label"] == "head"
    ]
    assert group["median"]["throughput_bytes_per_s"] == pytest.approx(float(np.median(head)))
    assert "show the head revision (<code>feature/pool @ 9f8e7d6c, dirty</code>) only" in (
        dropped_page
    )


def test_a_run_without_revisions_has_no_section() -> None:
    doc = plain_doc()
    comparison = compare(doc).to_dict()
    assert comparison["paired"] is None
    page = render_report(doc, comparison=comparison)
    assert 'id="head-vs-base"' not in page
    assert "Head against base" not in page
    assert "revision-note" not in page
    assert data_of(page)["paired"] is None
    assert data_of(page)["headline"]["paired"] == 0
    # a comparison written before the paired key existed renders the same way
    older = {k: v for k, v in comparison.items() if k != "paired"}
    assert 'id="head-vs-base"' not in render_report(doc, comparison=older)
    assert paired_section(None) is None


def test_revision_names_and_variants_are_escaped() -> None:
    evil = {
        "base": {**REVISIONS["base"], "ref": EVIL},
        "head": {**REVISIONS["head"], "ref": f"x{EVIL}"},
    }
    doc = paired_doc(revisions=evil, variant=f"v{EVIL}", processes=2, rounds=3)
    page = render_report(doc, comparison=compare(doc).to_dict())
    assert EVIL not in page
    ids = ids_of(page)
    assert ids["paired-base"].startswith(EVIL)  # shown as text
    assert f"v{EVIL}" in ids["paired-gating"]


def test_a_size_sweep_names_each_size_and_too_few_pairs_are_inconclusive() -> None:
    doc = paired_doc(sizes=(MIB, 5 * MIB), processes=1, rounds=3)
    comparison = compare(doc).to_dict()
    section = paired_section(comparison)
    assert section is not None
    assert section.verdict == "inconclusive"
    assert section.line == "inconclusive on 8 gating checks"
    assert section.gating is not None
    rows = rows_of(section.gating)
    assert {row[4] for row in rows} == {"1 MiB", "5 MiB"}  # the size column
    assert all(row[-1] == "inconclusive" and row[8] == "n/a" for row in rows)
    assert all(row[10] == "3 (1 process)" for row in rows)


def test_a_failed_base_trial_says_it_was_the_bases() -> None:
    broken = make_trial("kimi", "async", 4, 9, {}, status="error")
    broken["revision"] = dict(REVISIONS["base"])
    broken["round"] = 0
    doc = paired_doc(processes=2, rounds=3, extra=[broken])
    page = render_report(doc, comparison=compare(doc).to_dict())
    assert "s|kimi|async|c=4|r=9 (base revision): worker killed at its deadline" in page


def test_the_verdict_line_survives_a_check_this_version_cannot_read() -> None:
    check: dict[str, Any] = {
        "scenario": "s",
        "provider": "kimi",
        "variant": "async",
        "concurrency": 4,
        "metric": "a_metric_of_tomorrow",
        "gating": True,
        "verdict": "regressed",
    }
    assert paired_verdict_line([check]) == (
        "1 regressed, 0 inconclusive, 0 improved, 0 unchanged of 1 gating check(s)"
    )
    section = paired_section({"paired": {"revisions": {}, "checks": [check]}})
    assert section is not None
    assert section.verdict == "regression"
    assert section.base == "n/a"
    assert section.gating is not None
    assert "a_metric_of_tomorrow" in section.gating


def test_the_verdict_line_is_the_job_summarys(dropped: dict[str, Any]) -> None:
    checks: list[PairedCheck] = list(dropped["comparison"].paired)
    as_json = dropped["dict"]["paired"]["checks"]
    assert paired_verdict_line(as_json) == paired_headline(checks)
    assert paired_verdict_line([]) == "no gating check: no base and head pairs"


def test_the_first_screen_names_the_paired_regression_and_both_revisions(
    dropped_page: str,
) -> None:
    head = dropped_page.split('<section id="headline"')[1].split("</section>")[0]
    (line,) = rows_between(head, 'id="regressions"', "</ul>")
    assert line.startswith("s / kimi / async / c=4: throughput 3")
    assert "% slower (" in line
    assert line.endswith("base main @ 1a2b3c4d → head feature/pool @ 9f8e7d6c, dirty")
    verdict = ids_of(dropped_page)["verdict"]
    assert verdict.startswith("Failed: 1 regression: throughput of s / kimi / async / c=4 3")
    assert verdict.endswith("base main @ 1a2b3c4d → head feature/pool @ 9f8e7d6c, dirty.")


def rows_between(markup: str, start: str, end: str) -> list[str]:
    """The text of each <li> between ``start`` and ``end``, whitespace collapsed."""
    part = markup.split(start)[1].split(end)[0]
    items = part.split("<li")[1:]
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", "<li" + i)).split()) for i in items]
