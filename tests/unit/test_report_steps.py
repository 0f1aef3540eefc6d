"""The report's change points: markers on the trend plot, the "Open steps" table (from the
comparison's step checks, and pending steps from the detector over the plotted series).
Rendered HTML only; synthetic nights in a temporary reports folder, no sockets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness import history
from harness.compare.model import Policy
from harness.compare.steps import step_checks
from harness.report import load_report_history, render_report
from tests.factories.nights import ScenarioSpec, make_comparison, make_results

SPECS = [ScenarioSpec("throughput-10-files", "throughput_10_files", 256 * 1024, 6, (4,))]
FLAT = 30  # nights before the step: night030 is the first night of the new level


def commit_of(number: int) -> str:
    return f"{number:04d}" + "c0ffee" * 6


def night(number: int, *, slow: bool) -> dict[str, Any]:
    """One night; ``slow``: the async variant's uploads take 35% longer (throughput about
    -20%, as the file's fixed gaps between uploads do not grow)."""
    results = make_results(
        specs=SPECS,
        seed=500 + number,
        repeats=3,
        run_id=f"night{number:03d}",
        started_at=f"2026-10-01T{number // 60:02d}:{number % 60:02d}:00Z",
        profiled=False,
        records=False,
        slowdown={"throughput-10-files/async": 1.35 if slow else 1.0},
    )
    results["environment"]["git_commit"] = commit_of(number)
    return results


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reports folder whose history holds 30 flat nights and 8 after the step."""
    root = tmp_path_factory.mktemp("reports")
    for number in range(FLAT + 8):
        history.append_run(history.history_root(root), night(number, slow=number >= FLAT))
    return root


def _page(reports: Path, tonight: dict[str, Any], *, nights: int) -> str:
    """Tonight compared with the first ``nights`` of history (checks + step checks), and
    rendered with those nights as its trends."""
    entries = history.load_history(history.history_root(reports)).entries[:nights]
    checks, notes = step_checks(tonight, entries, Policy())
    comparison = make_comparison(tonight, history_regression=None)
    comparison["checks"] += [c.to_dict() for c in checks]
    comparison["notes"] += notes
    records, _ = load_report_history(reports, tonight)
    return render_report(tonight, comparison=comparison, history=records[:nights])


def _open_steps(page: str) -> str:
    start = page.index('id="scenario-1-open-steps"')
    return page[start : page.index("</table>", start)]


def _trends(page: str) -> str:
    """The first scenario's trend charts (one SVG per metric)."""
    return page.split("<h3>History</h3>")[1].split("<h3>Open steps</h3>")[0]


def _rows(table: str) -> list[list[str]]:
    return [
        re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
        if "<td" in row
    ]


@pytest.fixture(scope="module")
def open_page(reports: Path) -> str:
    """Tonight is the 9th night after the step: an open step, confirmed earlier."""
    return _page(reports, night(FLAT + 8, slow=True), nights=FLAT + 8)


def test_the_trend_marks_the_change_point_with_its_size_and_commits(open_page: str) -> None:
    trend = _trends(open_page)
    throughput = re.findall(r"-(?:18|19|20|21|22)% \(0029c0f\.\.0030c0f\)", trend)
    latency = re.findall(r"\+\d\d% \(0029c0f\.\.0030c0f\)", trend)
    found = re.findall(r"[-+]\d+%\?? \([^)]*\)", trend)
    assert throughput, found
    assert latency, found
    assert "?" not in "".join(throughput + latency)  # confirmed, not pending
    assert "vertical line marks a change point" in open_page


def test_the_open_steps_table_lists_the_comparisons_step_checks(open_page: str) -> None:
    rows = _rows(_open_steps(open_page))
    throughput = [r for r in rows if r[1] == "throughput"]
    assert len(throughput) == 1, rows
    cell, _, size, between, status, direction = throughput[0]
    assert cell == "kimi / async / c=4"
    assert re.match(r"-(18|19|20|21|22)\.\d% \(", size)
    assert between == (
        f"run night029 (commit {commit_of(29)[:12]}) and run night030 (commit {commit_of(30)[:12]})"
    )
    assert status == "confirmed (9 runs at the new level)"
    assert direction == "regression"
    assert {r[0] for r in rows} == {"kimi / async / c=4"}  # sync and naive-async never moved
    assert "open regression step" in open_page  # compare's note, among the notes


def test_a_step_confirmed_tonight_reads_as_gating(reports: Path) -> None:
    page = _page(reports, night(FLAT + 4, slow=True), nights=FLAT + 4)
    rows = _rows(_open_steps(page))
    assert [r[4] for r in rows if r[1] == "throughput"] == ["confirmed with this run (gates)"]
    # the failed gating check is listed by its metric in the verdict area
    failures = page.split('id="failures"')[1].split("</div>")[0]
    assert "throughput_bytes_per_s" in failures
    assert "(step, regressed)" in failures


def test_a_pending_step_comes_from_the_plotted_series(reports: Path) -> None:
    page = _page(reports, night(FLAT + 2, slow=True), nights=FLAT + 2)
    rows = _rows(_open_steps(page))
    assert [r[4] for r in rows if r[1] == "throughput"] == ["pending: 3 of 5 nights"]
    trend = _trends(page)
    assert re.search(r"-\d\d%\? \(0029c0f\.\.0030c0f\)", trend)


def test_flat_history_says_no_step(reports: Path) -> None:
    page = _page(reports, night(FLAT, slow=False), nights=FLAT)
    assert "<h3>Open steps</h3>" in page
    assert "No open or pending step in the gating metrics." in page
    assert "open-steps" not in page


def test_without_history_there_is_no_step_table() -> None:
    tonight = night(FLAT, slow=True)
    page = render_report(tonight, comparison=make_comparison(tonight), history=None)
    assert "Open steps" not in page
    assert "No open or pending step" not in page
