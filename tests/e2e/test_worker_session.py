"""The worker's session protocol (harness.worker + harness.rig.workers.WorkerSession) with
real processes: an uploader's exception ends the process with its own type in the reason,
whatever the type (a ValueError is the uploader's, not a malformed round line)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.rig.workers import WorkerSession
from harness.worker import TrialSpec
from tests.factories.uploaders import RAISE_ENV, RAISE_MODE_ENV
from uploader import LocalFile

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("error", ["ValueError", "KeyError", "TypeError", "RuntimeError"])
def test_an_exception_out_of_upload_many_is_the_uploaders_with_its_type(
    tmp_path: Path, error: str
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 16)
    spec = TrialSpec(
        trial_id="t", scenario="s", provider="kimi",
        variant="tests.factories.uploaders:RaisingUploader", concurrency=1,
        base_url="http://127.0.0.1:9/kimi/v1", api_key="k",
        files=(LocalFile(path=path, size=16, content_hash="0" * 32),),
    )  # fmt: skip
    env = {**os.environ, RAISE_ENV: error, RAISE_MODE_ENV: "upload_many", "PYTHONPATH": str(ROOT)}
    session = WorkerSession([sys.executable, "-m", "harness.worker"], spec.__dict__ | {
        "files": [{"path": str(path), "size": 16, "content_hash": "0" * 32}],
        "settings": {},
    }, env=env)  # fmt: skip
    try:
        answer = session.round({"seed": 0, "round": 0}, deadline_s=60)
    finally:
        session.close()
    assert answer.result is None
    assert answer.error is not None
    assert answer.error.startswith("worker failed (exit code 1): ")
    assert error in answer.error
    assert "malformed round line" not in answer.error
    assert session.dead


def test_a_malformed_round_line_is_answered_and_the_session_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 16)
    spec = {
        "trial_id": "t", "scenario": "s", "provider": "kimi", "variant": "sync",
        "concurrency": 1, "base_url": "http://127.0.0.1:9/kimi/v1", "api_key": "k",
        "files": [{"path": str(path), "size": 16, "content_hash": "0" * 32}],
    }  # fmt: skip
    session = WorkerSession(
        [sys.executable, "-m", "harness.worker"], spec,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        answer = session.round({"round": 0}, deadline_s=60)  # no seed
        assert answer.result is None
        assert answer.error is not None
        assert "malformed round line" in answer.error
        assert not session.dead
    finally:
        session.close()
