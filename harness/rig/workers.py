"""One worker process per trial: ``python -m harness.worker`` (or ``harness.profile``) gets
the trial spec on stdin and answers with one JSON result on stdout.

The worker runs in its own session so that at the deadline (or on Ctrl-C) the whole
process group goes, a ``cmd:`` variant's curl included. Whatever goes wrong comes back as
a one-line reason, never an exception: a worker's failure is the trial's, not the run's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

from harness.rig.process import one_line

__all__ = ["WorkerAnswer", "run_worker"]

_REAP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class WorkerAnswer:
    """A worker's result (``metrics``, ``records``, ``profile``) or why there is none."""

    result: dict[str, Any] | None
    error: str | None
    stderr: str


def run_worker(python: str, module: str, spec_json: str, deadline_s: float) -> WorkerAnswer:
    """Start ``python -m module``, feed it the spec, wait up to the deadline."""
    proc = subprocess.Popen(
        [python, "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    return _answer(proc, spec_json, deadline_s)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The worker's own children (a cmd: variant's curl) share its process group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _answer(proc: subprocess.Popen[bytes], spec: str, deadline_s: float) -> WorkerAnswer:
    try:
        out, err = proc.communicate(spec.encode(), timeout=deadline_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            _, err = proc.communicate(timeout=_REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # A grandchild that left the group still holds the pipes; stop reading them.
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            proc.wait()
            err = b""
        return WorkerAnswer(
            None, f"worker killed at the {deadline_s:g} s deadline", err.decode(errors="replace")
        )
    except BaseException:
        # Ctrl-C or a harness bug: the worker has its own session, so nothing else stops it.
        _kill_group(proc)
        proc.wait()
        raise
    stderr = err.decode(errors="replace")
    if proc.returncode != 0:
        reason = one_line(stderr) or "no message"
        how = (
            f"killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"exit code {proc.returncode}"
        )
        return WorkerAnswer(None, f"worker failed ({how}): {reason}", stderr)
    try:
        result = json.loads(out.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        printed = one_line(out.decode(errors="replace"))
        return WorkerAnswer(None, f"worker printed no JSON result: {printed!r}", stderr)
    if not isinstance(result, dict) or not isinstance(result.get("metrics"), dict):
        return WorkerAnswer(None, "worker result lacks 'metrics'", stderr)
    return WorkerAnswer(result, None, stderr)
