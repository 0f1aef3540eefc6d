"""``uploadbench report`` end to end on files in tmp_path (no sockets)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.history import append_run, history_root
from harness.results import point_latest
from tests.factories.nights import ScenarioSpec, make_results

SPECS = [ScenarioSpec("throughput-10-files", "throughput_10_files", 64 * 1024, 4, (1, 2))]


def _store(reports: Path, doc: dict[str, Any]) -> Path:
    run_dir = reports / doc["run_id"]
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    return run_dir


# harness.compare's BCa bootstrap warns on constant samples (integrity_errors == 0 in every
# repeat); that is its concern, not this command's.
@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")
def test_report_latest_against_history_writes_index_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    for night in range(3):
        earlier = make_results(
            specs=SPECS, seed=night, repeats=3, run_id=f"night{night}",
            started_at=f"2026-11-2{night}T02:00:00Z", profiled=False, records=False,
        )  # fmt: skip
        append_run(history_root(reports), earlier)
    doc = make_results(specs=SPECS, repeats=3)
    run_dir = _store(reports, doc)
    point_latest(reports, doc["run_id"])

    code = main(["report", "latest", "--reports", str(reports)])

    assert code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(reports / "latest" / "index.html")
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    assert "History: 3 earlier night(s)." in page
    assert 'id="exit-code"' in page


def test_report_to_another_file_without_comparison(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    doc = make_results(specs=SPECS, repeats=2)
    run_dir = _store(reports, doc)
    out = tmp_path / "site" / "nightly.html"

    code = main(["report", str(run_dir / "results.json"), "--against", "none", "-o", str(out),
                 "--reports", str(reports), "--nights", "0"])  # fmt: skip

    assert code == 0
    page = out.read_text(encoding="utf-8")
    assert f'href="../reports/{doc["run_id"]}/profiles/' in page
    assert not (run_dir / "index.html").exists()


def test_missing_run_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", str(tmp_path / "nope"), "--reports", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("uploadbench: error: ")
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_trends_keep_earlier_runs_of_the_same_definition_only(tmp_path: Path) -> None:
    from harness.report import load_report_history

    root = history_root(tmp_path)
    for night in range(4):
        earlier = make_results(
            specs=SPECS, seed=night, repeats=2, run_id=f"night{night}",
            started_at=f"2026-11-2{night}T02:00:00Z", profiled=False, records=False,
        )  # fmt: skip
        if night == 0:
            earlier["scenarios"][0]["hash"] = "another-definition"
        append_run(root, earlier)
    later = make_results(specs=SPECS, repeats=2, run_id="later", profiled=False, records=False,
                         started_at="2026-12-01T02:00:00Z")  # fmt: skip
    append_run(root, later)
    doc = make_results(specs=SPECS, repeats=2)  # started 2026-11-28

    records, warnings = load_report_history(tmp_path, doc, nights=2)

    assert [r["run_id"] for r in records] == ["night2", "night3"]  # the last two, no future
    assert warnings == [
        "Trends start at this scenario's definition: 1 history record(s) ran another "
        "definition of their scenario (different hash) and are left out of the trends."
    ]
    assert records[0]["groups"][0]["samples"]["wall_s"]


@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")
def test_a_baseline_run_from_another_machine_is_refused_or_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    old = make_results(specs=SPECS, repeats=3, run_id="old", started_at="2026-11-01T02:00:00Z",
                       fingerprint="fedcba9876543210", profiled=False)  # fmt: skip
    _store(reports, old)
    run_dir = _store(reports, make_results(specs=SPECS, repeats=3))
    base = ["report", str(run_dir), "--against", "old", "--reports", str(reports)]

    assert main(base) == 2  # timings across machines are not comparable by default
    assert "another environment" in capsys.readouterr().err

    assert main([*base, "--any-environment"]) == 0
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    assert "Compare on one machine: the baseline run old ran on another environment " in page
    assert "(fingerprint fedcba9876543210" in page


def test_warnings_name_the_provider_of_each_group() -> None:
    # Three providers ran "async c=4": a warning must say which one it means.
    from harness.report.view import scenarios_of
    from harness.report.warnings import report_advice
    from tests.factories.results import make_results as make_verdict_results
    from tests.factories.results import make_scenario

    scenario = make_scenario("smoke", seed=1, providers=("kimi", "glm", "supabase"), repeats=2)
    doc = make_verdict_results("run-01", [scenario])

    advice = report_advice(doc, scenarios_of(doc), history=None, comparison=None)

    (few,) = [a for a in advice if a.action == "Add repeats"]
    assert few.text.startswith("Add repeats: 6 cells cannot decide")
    for provider in ("kimi", "glm", "supabase"):
        needs = rf"smoke / {provider} / async c=4 needs \d+ to decide \d+% \(has 2\)"
        assert any(re.fullmatch(needs, cell) for cell in few.cells), few.cells
        # and in the folded table, a row per cell with its provider
        assert f'data-scenario="smoke" data-provider="{provider}" data-variant="async"' in (
            few.table or ""
        )


@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")
def test_report_compares_with_history_by_default_and_says_so(tmp_path: Path) -> None:
    # One CLI vocabulary: --against defaults to history in every command, so the page of a
    # slowed-down run shows the regression that `compare` would find, and says against what.
    reports = tmp_path / "reports"
    for night in range(3):
        earlier = make_results(
            specs=SPECS, seed=night, repeats=4, run_id=f"night{night}",
            started_at=f"2026-11-2{night}T02:00:00Z", profiled=False, records=False,
        )  # fmt: skip
        append_run(history_root(reports), earlier)
    slow = make_results(specs=SPECS, repeats=4, slowdown={"throughput-10-files/async": 1.6})
    run_dir = _store(reports, slow)
    point_latest(reports, slow["run_id"])

    assert main(["report", "latest", "--reports", str(reports)]) == 0
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    assert 'id="exit-code">1<' in page
    assert "; against history." in page

    assert main(["report", "latest", "--reports", str(reports), "--against", "none"]) == 0
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    assert 'id="exit-code">0<' in page
    assert "; against none." in page


@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")
def test_a_run_folder_brings_its_own_reports_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `report DIR/latest` reads DIR's history, not ./reports (which does not exist here)
    monkeypatch.chdir(tmp_path)
    reports = tmp_path / "elsewhere"
    for night in range(2):
        earlier = make_results(
            specs=SPECS, seed=night, repeats=2, run_id=f"night{night}",
            started_at=f"2026-11-2{night}T02:00:00Z", profiled=False, records=False,
        )  # fmt: skip
        append_run(history_root(reports), earlier)
    doc = make_results(specs=SPECS, repeats=2)
    _store(reports, doc)
    point_latest(reports, doc["run_id"])

    assert main(["report", str(reports / "latest")]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(reports / "latest" / "index.html")  # result: stdout
    page = (reports / "latest" / "index.html").read_text(encoding="utf-8")
    assert "History: 2 earlier night(s)." in page
    assert not (tmp_path / "reports").exists()


def test_help_lists_every_exit_code_and_every_option_has_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from harness.commands.options import EXIT_CODES_HELP
    from harness.commands.report import COMMAND

    parser = argparse.ArgumentParser()
    COMMAND.configure(parser)
    assert parser.epilog is not None
    assert parser.epilog.endswith(EXIT_CODES_HELP)
    assert "130" in EXIT_CODES_HELP
    for action in parser._actions:
        assert action.help, action.dest
    assert parser.get_default("against") == "history"
