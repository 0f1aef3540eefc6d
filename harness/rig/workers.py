"""Worker processes: ``python -m harness.worker`` (or ``harness.profile``) gets the trial
spec on stdin and answers with JSON results on stdout: one (:func:`run_worker`, a profiled
trial) or one per round (:class:`WorkerSession`, the measured rounds of a cell).

The worker runs in its own session so that at the deadline (or on Ctrl-C) the whole
process group goes, a ``cmd:`` variant's curl included. Whatever goes wrong comes back as
a one-line reason, never an exception: a worker's failure is the trial's, not the run's.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from harness.rig.process import one_line

__all__ = ["WorkerAnswer", "WorkerSession", "run_worker"]

_REAP_TIMEOUT_S = 10.0
_EOF = b"\x00end of output"  # WorkerSession._read_line: the worker closed its stdout


@dataclass(frozen=True)
class WorkerAnswer:
    """A worker's result (``metrics``, ``records``, ``profile``) or why there is none."""

    result: dict[str, Any] | None
    error: str | None
    stderr: str


def run_worker(
    command: Sequence[str],
    spec_json: str,
    deadline_s: float,
    *,
    env: Mapping[str, str] | None = None,
) -> WorkerAnswer:
    """Start ``command`` (``python -m harness.profile``), feed it the spec, wait up to the
    deadline."""
    proc = subprocess.Popen(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=dict(env) if env is not None else None,
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


def _how(returncode: int) -> str:
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _parse(line: bytes, stderr: str) -> WorkerAnswer:
    try:
        result = json.loads(line.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        printed = one_line(line.decode(errors="replace"))
        return WorkerAnswer(None, f"worker printed no JSON result: {printed!r}", stderr)
    if (
        isinstance(result, dict)
        and isinstance(result.get("error"), str)
        and not isinstance(result.get("metrics"), dict)
    ):
        return WorkerAnswer(None, f"worker refused the round: {result['error']}", stderr)
    if not isinstance(result, dict) or not isinstance(result.get("metrics"), dict):
        return WorkerAnswer(None, "worker result lacks 'metrics'", stderr)
    return WorkerAnswer(result, None, stderr)


class WorkerSession:
    """A worker process that runs one round per request (``harness.worker``'s session).

    It lives for the rounds of one cell in one process group; :meth:`round` sends a round
    and waits for its result line up to a deadline. A worker that misses the deadline is
    killed with its process group; one that dies answers with why (its exit code and the
    last line of its stderr). Either way the session is then :attr:`dead` and the caller
    starts another for the next round. stderr goes to a temporary file, so a chatty
    uploader never blocks on a full pipe."""

    def __init__(
        self,
        command: Sequence[str],
        spec: Mapping[str, Any],
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (lives with the worker)
        self.proc = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
            env=dict(env) if env is not None else None,
        )
        self.dead = False
        self._buffer = b""
        self._send(json.dumps({**spec, "session": True}))

    def _send(self, line: str) -> bool:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def stderr(self) -> str:
        """The worker's stderr so far (its tail: what explains a failure)."""
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - 64_000))
        return self._stderr.read().decode(errors="replace")

    def round(self, command: Mapping[str, Any], deadline_s: float) -> WorkerAnswer:
        """Run one round; never raises for the worker's failures (Ctrl-C kills it and
        propagates)."""
        if self.dead:
            raise RuntimeError("round() on a dead worker session")
        try:
            if not self._send(json.dumps(dict(command))):
                return self._died()
            line = self._read_line(deadline_s)
        except BaseException:
            self.kill()
            raise
        if line is _EOF:
            return self._died()
        if line is None:
            self.kill()
            return WorkerAnswer(
                None, f"worker killed at the {deadline_s:g} s deadline", self.stderr()
            )
        return _parse(line, "")

    def _read_line(self, deadline_s: float) -> bytes | None:
        """The next line, None at the deadline, :data:`_EOF` when the worker closed its
        output (it exited)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + deadline_s
        while b"\n" not in self._buffer:
            left = end - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:  # end of file: the worker exited
                return _EOF
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _died(self) -> WorkerAnswer:
        self.dead = True
        try:
            code = self.proc.wait(timeout=_REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode if self.proc.returncode is not None else -9
        stderr = self.stderr()
        reason = one_line(stderr) or "no message"
        return WorkerAnswer(None, f"worker failed ({_how(code)}): {reason}", stderr)

    def kill(self) -> None:
        """Kill the worker and its process group now."""
        self.dead = True
        _kill_group(self.proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=_REAP_TIMEOUT_S)
        self._close_pipes()

    def close(self) -> None:
        """End of input: the worker exits by itself (killed if it does not); its stderr
        file is closed. Safe on a dead session; call it once the session is done with."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=_REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)
            self.proc.wait()
        self.dead = True
        self._close_pipes()
        with contextlib.suppress(OSError):
            self._stderr.close()

    def _close_pipes(self) -> None:
        # stderr's temporary file stays readable until close()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
