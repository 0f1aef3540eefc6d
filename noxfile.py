"""The only way in: CI and people call these sessions, never pytest or scripts directly."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, with pytest-memray limits enforced (--memray)."""
    session.install("-e", ".[test,fast]")
    session.run(
        "pytest",
        "--memray",
        "--durations=15",
        *session.posargs,
        env={"UPLOADBENCH_CHROMIUM": os.environ.get("UPLOADBENCH_CHROMIUM", "/usr/bin/chromium")},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (style, imports, bugs) and mypy (strict on harness/ and uploader/)."""
    session.install("-e", ".[lint,test,fast]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "harness", "uploader")


@nox.session
def bench(session: nox.Session) -> None:
    """The nightly suite: scenarios, micro-benchmarks, comparison with history, HTML report.

    Exit code follows the run: 0 ok, 1 regression/threshold, 2 error, 3 inconclusive.
    """
    session.install("-e", ".[test,fast]")
    args = session.posargs or ["scenarios/nightly"]
    session.run("uploadbench", "run", *args, "--out", str(ROOT / "reports"))
