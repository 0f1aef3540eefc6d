"""``cmd:TEMPLATE``: an external command per file (curl for the physical ceiling, or
another team's CLI).

The template is split with :func:`shlex.split`; ``{path}``, ``{url}``, ``{key}``,
``{name}`` and ``{cafile}`` are substituted inside each argument, and the command runs
without a shell. ``{cafile}`` is the CA certificate (PEM) to trust over TLS
(:attr:`Target.ca_file`) and the empty string without one: ``curl --cacert {cafile}``
works with and without TLS, since curl reads no CA file for an ``http://`` URL.
Exit code 0 is ok; if stdout is a JSON object with ``id`` or ``Key`` that becomes the file
id, and a ``bytes`` count is checked against the file's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import time
from collections.abc import Callable, Sequence

from uploader import protocol
from uploader.api import LocalFile, Outcome, OutcomeClass, Settings, Target
from uploader.timeouts import deadline_s

__all__ = ["PLACEHOLDERS", "CommandUploader", "render_command"]

Clock = Callable[[], float]
PLACEHOLDERS = ("path", "url", "key", "name", "cafile")
# curl's exit codes that say what went wrong (man curl, "EXIT CODES").
_CURL_TIMEOUT = frozenset({28})
_CURL_HTTP_ERROR = frozenset({22})
_MAX_OUTPUT = 1024 * 1024  # a CLI that prints more than this is not answering with an id


def render_command(template: str, file: LocalFile, target: Target) -> list[str]:
    """The argv for ``file``: each placeholder replaced inside each argument."""
    try:
        argv = shlex.split(template)
    except ValueError as exc:
        raise ValueError(f"cannot split command template: {exc}") from exc
    if not argv:
        raise ValueError("command template is empty")
    values = {
        "path": str(file.path),
        "url": protocol.upload_url(target, file.name),
        "key": target.key,
        "name": file.name,
        "cafile": target.ca_file or "",
    }
    rendered = []
    for arg in argv:
        for name, value in values.items():
            arg = arg.replace("{" + name + "}", value)
        rendered.append(arg)
    return rendered


def _program(argv: Sequence[str]) -> str:
    return argv[0].rsplit("/", 1)[-1]


class CommandUploader:
    """Runs ``template`` once per file, at most ``settings.concurrency`` at a time.

    Each run is killed at the file's size-aware deadline (an outcome of ``timeout``).
    """

    def __init__(self, template: str, *, clock: Clock = time.perf_counter) -> None:
        if not template.strip():
            raise ValueError("command template is empty")
        shlex.split(template)  # fail on bad quoting now, not per file
        self.template = template
        self._clock = clock

    async def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        slots = asyncio.Semaphore(max(1, settings.concurrency))

        async def one(file: LocalFile) -> Outcome:
            async with slots:
                return await self.upload_one(file, target, settings)

        return list(await asyncio.gather(*(one(f) for f in files)))

    async def upload_one(self, file: LocalFile, target: Target, settings: Settings) -> Outcome:
        argv = render_command(self.template, file, target)
        started = self._clock()
        outcome: OutcomeClass = "ok"
        file_id: str | None = None
        stored = file.size
        error: str | None = None
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            return self._outcome(file, started, "connection_error", f"cannot run: {exc}", target)
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(), timeout=deadline_s(file.size, settings)
            )
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return self._outcome(file, started, "timeout", "command passed its deadline", target)
        if proc.returncode != 0:
            code = proc.returncode
            last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            if _program(argv) == "curl" and code in _CURL_TIMEOUT:
                outcome = "timeout"
            elif _program(argv) == "curl" and code in _CURL_HTTP_ERROR:
                outcome = "http_error"
            else:
                outcome = "connection_error"
            return self._outcome(file, started, outcome, f"exit code {code}: {last[0]}", target)
        file_id, confirmed = _parse_output(out[:_MAX_OUTPUT])
        if confirmed is not None and confirmed != file.size:
            outcome, stored = "integrity_error", confirmed
            error = f"command reported {confirmed} bytes of {file.size}"
        return self._outcome(file, started, outcome, error, target, file_id, stored)

    def _outcome(
        self,
        file: LocalFile,
        started: float,
        outcome: OutcomeClass,
        error: str | None,
        target: Target,
        file_id: str | None = None,
        stored: int = 0,
    ) -> Outcome:
        return Outcome(
            name=file.name,
            size=file.size,
            outcome=outcome,
            started_at=started,
            ended_at=self._clock(),
            attempts=1,
            status=None,
            file_id=file_id,
            bytes_sent=stored if outcome in ("ok", "integrity_error") else 0,
            error=protocol.safe_error(error, target.key),
        )


def _parse_output(out: bytes) -> tuple[str | None, int | None]:
    """File id (``id`` or ``Key``) and byte count from a JSON object on stdout, if any."""
    try:
        data = json.loads(out)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    file_id = data.get("id", data.get("Key"))
    size = data.get("bytes")
    return (
        file_id if isinstance(file_id, str) else None,
        size if isinstance(size, int) and not isinstance(size, bool) else None,
    )
