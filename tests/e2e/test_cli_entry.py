"""``python -m harness``: the console entry point as a process (unit/ spawns nothing)."""

from __future__ import annotations

import subprocess
import sys

from harness.errors import EXIT_ERROR


def test_module_entry_point_runs_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "no-such-command"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == EXIT_ERROR
    assert "Traceback" not in proc.stderr
