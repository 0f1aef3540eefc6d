"""Typed errors. Library code raises these; only :func:`harness.cli.main` turns them into
an exit code and a one-line message (no traceback)."""

from __future__ import annotations

__all__ = [
    "EXIT_ERROR",
    "EXIT_INCONCLUSIVE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REGRESSION",
    "HarnessError",
    "ResultsError",
    "ScenarioError",
    "UploadbenchError",
]

# Exit codes are a contract with CI (docs/design.md, README "Exit codes").
EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_ERROR = 2
EXIT_INCONCLUSIVE = 3
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT: finished trials kept, --resume


class UploadbenchError(Exception):
    """Base class: ``str(err)`` is the one-line message shown to the user."""

    exit_code: int = EXIT_ERROR


class ScenarioError(UploadbenchError):
    """A scenario file is invalid. The message names the file, the field and what is allowed."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {problem}")


class HarnessError(UploadbenchError):
    """The rig itself failed: a worker, the mock provider, the output folder."""


class ResultsError(UploadbenchError):
    """A results or history file is missing, corrupt or of an unknown schema version."""
