"""``run_scenarios`` in process (real mock, real workers): what a RunOutcome tells the run
command about harness errors."""

from __future__ import annotations

import os
from pathlib import Path

from harness.runner import run_scenarios
from harness.scenario import load_scenario
from tests.factories.runs import ROOT, tiny

CRASH = "tests.factories.uploaders:crash_uploader"


def test_harness_error_reasons_are_distinct_and_counted(tmp_path: Path) -> None:
    # The worker imports test plugins from the current directory: the checkout.
    assert Path(os.getcwd()).resolve() == ROOT
    scenario = load_scenario(tiny(tmp_path, "reasons", ["sync", CRASH], repeats=2))
    outcome = run_scenarios([scenario], out_dir=tmp_path / "reports", cache_dir=tmp_path / "c")
    assert outcome.harness_errors == 2
    (line,) = outcome.harness_error_reasons
    assert line.startswith("2x worker failed (exit code ")
    assert "uploader exploded" in line
    assert line.endswith(f"(variant {CRASH})")
