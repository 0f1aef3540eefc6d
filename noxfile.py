"""The only way in: CI and people call these sessions, never pytest or scripts directly."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
ZHIPUAI = "zhipuai==2.1.5.20250825"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, with pytest-memray limits enforced (--memray)."""
    session.install("-e", ".[test,fast]")
    # The official GLM client for tests/server/test_mock_tls.py. zhipuai pins PyJWT < 2.9
    # and supabase-auth needs >= 2.15.1, so no resolver can install both; zhipuai is
    # installed without its dependencies (it needs cachetools beside what is here) and runs
    # on the newer PyJWT: with disable_token_cache it sends the key as is and signs nothing.
    session.install("cachetools>=4.2.2")
    session.install("--no-deps", ZHIPUAI)
    session.run(
        "pytest",
        "--memray",
        "--durations=15",
        *session.posargs,
        env={"UPLOADBENCH_CHROMIUM": os.environ.get("UPLOADBENCH_CHROMIUM", "/usr/bin/chromium")},
    )


@nox.session
def unit(session: nox.Session) -> None:
    """The socket-free unit suite (tests/unit, network sockets blocked): seconds, for
    everyday work. ``nox -s tests`` runs it too, with everything else."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests/unit", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (style, imports, bugs) and mypy (strict on harness/ and uploader/)."""
    session.install("-e", ".[lint,test,fast]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "harness", "uploader")
    session.run("uploadbench", "validate", "scenarios")


@nox.session
def bench(session: nox.Session) -> None:
    """The nightly suite: scenarios compared with history, HTML report, exit code as a gate.

    nox reduces every failure to exit 1, so the run's own code (0 ok, 1 regression or
    threshold, 2 harness error, 3 inconclusive) is also written to reports/bench-exit-code
    for CI to read. An inconclusive night (3, e.g. the first one, with no history yet) does
    not fail the session; 1 and 2 do.
    """
    session.install("-e", ".[test,fast]")
    reports = ROOT / "reports"
    reports.mkdir(exist_ok=True)
    args = session.posargs or ["scenarios/nightly", "scenarios/memory-sweep.toml"]
    command = ["uploadbench", "run", *args, "--reports", str(reports), "--against", "history"]
    session.log(" ".join(command))
    path = f"{session.bin}{os.pathsep}{os.environ.get('PATH', '')}"
    code = subprocess.call(command, env={**os.environ, "PATH": path}, cwd=ROOT)
    (reports / "bench-exit-code").write_text(f"{code}\n")
    latest = reports / "latest"
    if code != 2 and (latest / "results.json").exists():
        # Micro-benchmarks of the hot paths into the run's folder, then the page again so
        # it shows them against the previous night's (they describe, they do not gate).
        session.run(
            "pytest",
            "benchmarks/micro",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json={latest / 'micro-benchmarks.json'}",
        )
        session.run(
            "uploadbench", "report", "latest", "--reports", str(reports), "--against", "history"
        )
    if code == 3:
        session.warn("inconclusive: too few samples or too much noise to decide (exit 3)")
    elif code != 0:
        session.error(f"uploadbench run exited {code}")
