"""What the report shows of data integrity and of checks it does not know: lost files in an
integrity column, a "data lost" gating check (whatever its kind) as a failure in the verdict
area, every per-variant table naming its cell, and one way of writing a missing value."""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.claims import claim_rows
from harness.metrics import MISSING
from harness.report import render_report
from tests.factories.nights import ScenarioSpec, make_comparison, make_results

SPEC = ScenarioSpec("throughput-10-files", "throughput_10_files", 64 * 1024, 4, (2,))


@pytest.fixture(scope="module")
def corrupted() -> dict[str, Any]:
    """A run whose ``async`` variant lost two files in every repeat, and the comparison
    that fails it with a check of a kind the report has never seen."""
    results = make_results(specs=[SPEC], repeats=2, profiled=False)
    for trial in results["scenarios"][0]["trials"]:
        if trial["variant"] == "async":
            trial["metrics"]["integrity_errors"] = 2
            trial["lost_files"] = [
                {"name": "f0000-64KiB.bin", "reason": "size 65535, expected 65536"},
                {"name": "f0001-64KiB.bin", "reason": "missing at the provider"},
            ]
        else:
            trial["lost_files"] = []
    comparison = make_comparison(results, history_regression=None)
    comparison["checks"].append(
        {
            "scenario": SPEC.name,
            "provider": "kimi",
            "variant": "async",
            "concurrency": None,
            "metric": "integrity_errors",
            "kind": "integrity",
            "baseline": "data lost",
            "verdict": "fail",
            "gating": True,
            "ratio": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": None,
            "n_baseline": 0,
            "n_candidate": 2,
            "median_candidate": 2,
            "reason": "2 file(s) the provider does not hold intact: f0000-64KiB.bin, ...",
        }
    )
    comparison["exit_code"] = 1
    return {"results": results, "comparison": comparison}


def test_lost_files_fill_the_integrity_column(corrupted: dict[str, Any]) -> None:
    page = render_report(corrupted["results"])
    assert "<th>integrity (all repeats)</th>" in page
    # two files in each of two repeats; each file named once
    assert "4 lost: f0000-64KiB.bin (size 65535, expected 65536), f0001-64KiB.bin" in page
    assert "<td>intact</td>" in page  # sync and naive-async hold every file


def test_a_data_lost_check_of_any_kind_fails_in_the_verdict_area(
    corrupted: dict[str, Any],
) -> None:
    page = render_report(corrupted["results"], comparison=corrupted["comparison"])
    head = page.split('id="headline"')[1].split("</section>")[0]
    assert 'id="count-failed">1<' in head
    assert 'id="exit-code">1<' in head
    failures = head.split('id="failures"')[1]
    assert "<strong>data lost</strong>" in failures
    assert "throughput-10-files / kimi / async" in failures
    assert "f0000-64KiB.bin" in failures
    # and in the scenario's rule checks, not dropped for being neither threshold nor history
    section = page.split('id="scenario-1"')[1]
    assert "Thresholds and integrity" in section
    assert "<td>integrity (gates)</td>" in section


def test_a_check_outside_every_scenario_still_renders(corrupted: dict[str, Any]) -> None:
    comparison = copy.deepcopy(corrupted["comparison"])
    comparison["checks"][-1]["scenario"] = ""
    page = render_report(corrupted["results"], comparison=comparison)
    assert "Checks of the run as a whole" in page
    assert "<strong>data lost</strong>" in page


def test_every_per_variant_table_names_the_provider_when_several_ran() -> None:
    results = make_results(specs=[SPEC], repeats=2, profiled=False)
    scenario = results["scenarios"][0]
    for trial in list(scenario["trials"]):
        scenario["trials"].append({**copy.deepcopy(trial), "provider": "glm"})
    scenario["definition"]["providers"] = [{"kind": "kimi"}, {"kind": "glm"}]
    page = render_report(results)
    section = page.split('id="scenario-1"')[1]
    for title in ("Variants (median of repeats)", "Event-loop lag", "Errors, timeouts"):
        table = section.split(title)[1].split("</table>")[0]
        assert "<th>provider</th>" in table, title
        assert "<td>glm</td>" in table, title
        assert "<td>kimi</td>" in table, title


def test_named_variants_show_their_specs_apart() -> None:
    results = make_results(specs=[SPEC], repeats=2, profiled=False)
    definition = results["scenarios"][0]["definition"]
    definition["variant_specs"] = {
        "sync": "sync", "naive-async": "naive-async", "async": "async[streaming=on]",
    }  # fmt: skip
    page = render_report(results)
    assert "What each variant name stands for" in page
    assert "<td>async[streaming=on]</td>" in page


def test_a_missing_value_is_written_one_way() -> None:
    results = make_results(specs=[SPEC], repeats=2)
    for trial in results["scenarios"][0]["trials"]:
        trial["metrics"].update(latency_p90_s=None, connections_opened=None, cpu_user_s=None)
    page = render_report(results, comparison=make_comparison(results))
    assert MISSING == "n/a"
    assert f"<td>{MISSING}</td>" in page
    assert not re.search(r"<td>\s*[-–]\s*</td>", page)


def test_a_scenario_without_claim_is_no_claims_row() -> None:
    # The shipped nightly names would once have matched by regex; now only `claim` counts.
    names = ["throughput-10-files", "latency-per-upload", "timeouts-under-faults",
             "memory-50mib", "connection-overhead"]  # fmt: skip
    specs = [ScenarioSpec(n, None, 64 * 1024, 3, (2,)) for n in names]
    rows = claim_rows(make_results(specs=specs, repeats=2)["scenarios"])
    assert {r.verdict for r in rows} == {"not measured"}
    assert {r.scenario for r in rows} == {None}


def test_the_claims_table_needs_only_the_standard_library_and_the_metric_table() -> None:
    # harness.scenario will take CLAIM_KEYS from it: loading a scenario stays light
    source = Path(__file__).resolve().parents[2] / "harness" / "claims.py"
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "dataclasses", "typing", "harness.metrics"}, imported
