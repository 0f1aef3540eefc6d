"""A variant that cannot run is a harness error before any trial: ``validate`` and ``run``
both say so in one line naming the scenario file and the variant, and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories.runs import REPORTS_FLAG, tiny, uploadbench

MISSING_PROGRAM = "cmd:uploadbench-no-such-program-xyz {path} {url}"


@pytest.mark.parametrize(
    ("variant", "problem"),
    [
        (MISSING_PROGRAM, "program 'uploadbench-no-such-program-xyz' is not on PATH"),
        ("cmd:./no/such/uploader {path}", "program './no/such/uploader' does not exist"),
        (
            "tests.factories.no_such_module:Uploader",
            "cannot import: ModuleNotFoundError: No module named "
            "'tests.factories.no_such_module' (the worker imports from the current directory "
            "and PYTHONPATH: run from the folder that holds the package, or add it to "
            "PYTHONPATH)",
        ),
        ("tests.factories.uploaders:NoSuchUploader", "has no attribute 'NoSuchUploader'"),
        ("tests.factories.runs:tiny", "tiny() failed"),
    ],
)
def test_validate_names_the_file_and_the_variant_that_cannot_run(
    tmp_path: Path, variant: str, problem: str
) -> None:
    scenario = tiny(tmp_path, "cannot", ["sync", variant], baseline="sync")
    done = uploadbench("validate", scenario, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"uploadbench: error: {scenario}: variants: ")
    assert problem in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_run_stops_before_any_trial_on_a_missing_program(tmp_path: Path) -> None:
    scenario = tiny(tmp_path, "cannot", ["sync", MISSING_PROGRAM], baseline="sync")
    out = tmp_path / "reports"
    done = uploadbench("run", scenario, REPORTS_FLAG, out, "--cache-dir", tmp_path / "c")
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"uploadbench: error: {scenario}: variants: ")
    assert "is not on PATH" in lines[0]
    # Nothing ran and nothing was written: no mock, no run folder.
    assert not out.exists() or not any(out.iterdir())


def test_a_runnable_plugin_and_an_existing_program_pass(tmp_path: Path) -> None:
    variants = ["sync", "tests.factories.uploaders:SlowUploader", "cmd:curl -sf {url}"]
    scenario = tiny(tmp_path, "fine", variants, baseline="sync")
    done = uploadbench("validate", scenario, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok fine (")
