"""Lost data is a failed upload: a plugin that corrupts every file and reports ``ok``, in a
scenario with no threshold at all. Real mock, real worker, real (misbehaving) uploader."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.results import load_results
from tests.factories.runs import REPORTS_FLAG, tiny, trials_of, uploadbench

CORRUPT = "tests.factories.uploaders:corrupt_uploader"

RunDone = tuple[subprocess.CompletedProcess[str], Path]


@pytest.fixture(scope="module")
def corrupt_run(tmp_path_factory: pytest.TempPathFactory) -> RunDone:
    tmp = tmp_path_factory.mktemp("lost")
    scenario = tiny(tmp, "lost", [CORRUPT])
    out = tmp / "reports"
    done = uploadbench("run", scenario, REPORTS_FLAG, out, "--no-report", "--cache-dir", tmp / "c")
    return done, out


def test_every_corrupted_file_is_lost_and_counted_as_failed(corrupt_run: RunDone) -> None:
    done, out = corrupt_run
    assert "Traceback" not in done.stderr
    doc = load_results("latest", reports_dir=out)
    (trial,) = trials_of(doc)
    assert trial["status"] == "ok"  # the uploader ran; its uploads failed
    metrics = trial["metrics"]
    assert metrics["success_rate"] == 0.0
    assert metrics["error_rate"] == 1.0
    assert metrics["integrity_errors"] == 2  # every file of the trial
    assert metrics["throughput_bytes_per_s"] == 0.0
    assert metrics["files_per_s"] == 0.0
    # What the uploader claimed stays on record; the verdict is the server's.
    assert [r["outcome"] for r in trial["records"]] == ["ok", "ok"]
    assert sorted(f["name"] for f in trial["lost_files"]) == sorted(
        r["name"] for r in trial["records"]
    )
    for lost in trial["lost_files"]:
        assert "content hash differs" in lost["reason"]


def test_lost_data_fails_the_run_without_any_threshold(corrupt_run: RunDone) -> None:
    done, _ = corrupt_run
    assert done.returncode == 1, done.stderr[-3000:]
    assert "data lost" in done.stdout + done.stderr


def test_a_night_that_lost_data_is_no_baseline(corrupt_run: RunDone) -> None:
    done, out = corrupt_run
    assert "history: not added (data lost)" in done.stdout + done.stderr
    assert not (out / "history").exists()
