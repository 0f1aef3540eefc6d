"""A helper server (mock provider, fault proxy) in its own process.

It prints its base URL as the first stdout line once it accepts connections: that line is
the readiness signal, so nothing polls or sleeps. The rest of its output goes to a log file,
drained by a thread so the server never blocks on a full pipe.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from harness.errors import HarnessError

__all__ = ["ServerProcess", "one_line"]


def one_line(text: str, limit: int = 300) -> str:
    """The last non-blank line of ``text``, cut to ``limit`` characters: what explains a
    failure in one line (a traceback ends with its exception)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


class ServerProcess:
    """A helper server in its own process; ``url`` is what it printed when ready."""

    def __init__(
        self,
        argv: Sequence[str],
        name: str,
        log_path: Path,
        *,
        timeout_s: float,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=None if env is None else dict(env),
        )
        assert self.proc.stdout is not None
        try:
            first, rest = _read_first_line(self.proc, self.proc.stdout, name, timeout_s)
        except HarnessError as err:
            self.stop()
            tail = one_line(log_path.read_text(encoding="utf-8", errors="replace"))
            raise HarnessError(f"{err}: {tail or 'no output'} (log: {log_path})") from None
        except BaseException:
            self.stop()
            raise
        if not first.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
            self.stop()
            raise HarnessError(f"{name} printed {first[:80]!r} instead of its URL; see {log_path}")
        self.url = first.rstrip("/")
        self._log.write(rest)
        self._drain = threading.Thread(
            target=_copy, args=(self.proc.stdout, self._log), name=f"{name}-log", daemon=True
        )
        self._drain.start()

    def check_alive(self) -> None:
        """Raise :class:`HarnessError` if the server has exited."""
        code = self.proc.poll()
        if code is not None:
            raise HarnessError(f"the {self.name} exited (code {code}); see {self.log_path}")

    def stop(self) -> None:
        """Terminate (then kill) the server and close its log."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        drain = getattr(self, "_drain", None)
        if drain is not None:
            drain.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def _read_first_line(
    proc: subprocess.Popen[bytes], stream: IO[bytes], name: str, timeout_s: float
) -> tuple[str, bytes]:
    # Messages name the server, never its whole argv (long, and no business of the user).
    buffer = b""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError(f"the {name} did not print its URL within {timeout_s:.0f} s")
            if not selector.select(timeout=left):
                continue
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                code = proc.wait()
                raise HarnessError(f"the {name} exited (code {code}) before printing its URL")
            buffer += chunk
    line, _, rest = buffer.partition(b"\n")
    return line.decode("utf-8", "replace").strip(), rest


def _copy(source: IO[bytes], sink: IO[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):
        for chunk in iter(lambda: source.read1(65536), b""):  # type: ignore[attr-defined]
            sink.write(chunk)
            sink.flush()
