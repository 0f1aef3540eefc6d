"""CI exports of a comparison: JUnit XML, markdown job summary, Bencher Metric Format."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from harness import compare, history
from tests.factories.results import make_results, make_scenario


@pytest.fixture
def comparison(tmp_path: Path) -> compare.RunComparison:
    for day in range(1, 4):
        scenario = make_scenario("up|load <b>", seed=day, repeats=4, scenario_hash="h1")
        history.append_run(tmp_path, make_results(f"run-0{day}", [scenario]))
    entries = history.load_history(tmp_path).entries
    run = make_scenario(
        "up|load <b>",
        seed=9,
        repeats=4,
        scenario_hash="h1",
        slowdown={"async": 1.4},
        thresholds=["async.latency_p50_s < 1.0s", "async/sync.throughput_bytes_per_s > 5.0x"],
    )
    return compare.compare_run(make_results("run-09", [run]), history=entries)


def test_junit_has_one_testcase_per_check(comparison: compare.RunComparison) -> None:
    root = ET.fromstring(compare.to_junit_xml(comparison))
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(comparison.checks)
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert len(failures) == sum(c.failed and c.gating for c in comparison.checks)
    assert any(c.failed and not c.gating for c in comparison.checks)  # variant: not a failure
    assert len(skipped) == sum(c.verdict == "inconclusive" for c in comparison.checks)
    assert root.get("failures") == str(len(failures))
    assert root.get("tests") == str(len(cases))
    names = {c.get("name") for c in failures}
    assert any(n and n.startswith("threshold:") for n in names)  # the failed ratio threshold
    assert any(n and n.startswith("history: latency_p50_s") for n in names)
    assert all(c.get("classname", "").startswith("up|load <b>") for c in cases)


def test_markdown_summary(comparison: compare.RunComparison) -> None:
    text = compare.to_markdown(comparison)
    assert text.startswith("## uploadbench: ❌ regression, failed threshold or data lost (exit 1)")
    assert "### Gating checks that need a look" in text
    assert "<details><summary>All" in text
    assert "<b>" not in text  # user text is escaped
    assert "up\\|load &lt;b&gt;" in text
    for line in text.splitlines():
        if line.startswith("| up"):
            # every row has the header's 10 columns: escaped pipes do not split cells
            assert line.replace("\\|", "").count("|") == 11


def test_markdown_when_all_is_well() -> None:
    empty = compare.RunComparison(run_id="r", against="none", checks=(), exit_code=0)
    text = compare.to_markdown(empty)
    assert "✅ ok (exit 0)" in text
    assert "<details>" not in text


def test_bmf_shape() -> None:
    scenario = make_scenario("s", seed=1, repeats=3, profiled_heap={"sync": 5e7, "async": 5e6})
    bmf = json.loads(compare.to_bmf(make_results("run-01", [scenario])))
    assert set(bmf) == {"s/kimi/sync/c=4", "s/kimi/async/c=4"}
    for measures in bmf.values():
        for name, metric in measures.items():
            assert len(name) <= 64
            assert set(metric) == {"value", "lower_value", "upper_value"}
            assert metric["lower_value"] <= metric["value"] <= metric["upper_value"]
    wall = bmf["s/kimi/async/c=4"]["wall_s"]
    assert wall["upper_value"] < 100  # the profiled trial's wall time is not a timing
    assert bmf["s/kimi/async/c=4"]["heap_peak_bytes"]["value"] == 5e6
    assert "loop_lag_p99_s" not in bmf["s/kimi/sync/c=4"]  # null: not applicable


def _write_run(reports: Path, doc: dict) -> None:
    run_dir = reports / doc["run_id"]
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps(doc), encoding="utf-8")


def test_compare_cli_writes_every_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    reports = tmp_path / "reports"
    for day in range(1, 4):
        scenario = make_scenario("s", seed=day, repeats=4, scenario_hash="h1")
        history.append_run(history.history_root(reports), make_results(f"run-0{day}", [scenario]))
    slow = make_scenario("s", seed=9, repeats=4, scenario_hash="h1", slowdown={"async": 1.4})
    _write_run(reports, make_results("run-09", [slow]))
    out = {name: tmp_path / f"out.{name}" for name in ("xml", "md", "json")}
    code = main(
        [
            "compare", "run-09", "--reports", str(reports), "--junit", str(out["xml"]),
            "--markdown", str(out["md"]), "--bmf", str(out["json"]), "--metric", "latency",
        ]
    )  # fmt: skip
    assert code == 1
    printed = capsys.readouterr().out
    # the headline counts what decides the exit code: the gating history check, not the
    # variant check (async slower than sync is the finding, not a failure)
    assert printed.startswith("compared with history: 1 regressed")
    assert "regressed: s / kimi / async / c=4: latency_p50_s" in printed
    assert ET.parse(out["xml"]).getroot().get("failures") == "1"  # the gating one
    assert "(exit 1)" in out["md"].read_text(encoding="utf-8")
    assert "s/kimi/async/c=4" in json.loads(out["json"].read_text(encoding="utf-8"))

    assert main(["compare", "run-09", "--reports", str(reports), "--against", "none"]) == 0
    capsys.readouterr()
    assert main(["compare", "run-09", "--reports", str(reports), "--json", "--last", "1"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["against"] == "history"
    assert any("last 1 comparable run: run-03" in n for n in doc["notes"])


def test_compare_cli_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    assert main(["compare", str(tmp_path / "missing"), "--reports", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no such results file" in err
    assert main(["compare", "x", "--metric", "bogus"]) == 2
    assert "unknown metric 'bogus'" in capsys.readouterr().err
