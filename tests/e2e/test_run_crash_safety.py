"""Crash safety of ``uploadbench run``: SIGKILL keeps every finished trial, SIGINT stops
cleanly (results and report marked incomplete, exit 130), an unwritable output folder is
one line and exit 2 before any trial, ``--resume`` runs only what is missing; a mock whose
harness was killed does not stay behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from harness.results import load_results
from tests.factories.runs import ALONE, REPORTS_FLAG

ROOT = Path(__file__).resolve().parents[2]
SLOW = "tests.factories.uploaders:SlowUploader"
# Bounds of the polling loops below: far above a trial's few seconds on a loaded box.
WAIT_S = 120.0
POLL_S = 0.1

SCENARIO = """
name = "crash"
variants = {variants}
concurrency = 1
repeats = {repeats}
warmups = 0
deadline = "60s"
profile = false

[files]
count = 2
sizes = ["8KiB"]
seed = 7

[[providers]]
kind = "kimi"
"""


def scenario_file(tmp_path: Path, *, repeats: int = 4, variants: list[str] | None = None) -> Path:
    variants = variants or [SLOW]
    path = tmp_path / "crash.toml"
    path.write_text(SCENARIO.format(variants=json.dumps(variants), repeats=repeats))
    return path


def uploadbench(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class BackgroundRun:
    """A started ``uploadbench run`` and every process seen under it, so the test can kill
    them by id at the end even once a killed run has left them orphaned."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.seen: dict[int, psutil.Process] = {}

    def look(self) -> list[psutil.Process]:
        """The run's descendants now (remembered for the clean-up)."""
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        for child in children:
            self.seen.setdefault(child.pid, child)
        return children

    def signal(self, sig: int, *, group: bool = False) -> None:
        self.look()
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)


@contextmanager
def started_run(tmp_path: Path, *args: str | Path) -> Iterator[BackgroundRun]:
    """``uploadbench run`` in the background, in a process group of its own (as a
    terminal's job would be); whatever it started is killed by id afterwards."""
    log = (tmp_path / "run.stderr").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
        start_new_session=True,
        env={**os.environ, "UPLOADBENCH_TEST_SLOW_S": "0.7"},
    )
    run = BackgroundRun(proc)
    try:
        yield run
    finally:
        run.look()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for child in run.seen.values():
            # by id, and only if it is still the process we saw (pids are reused)
            if child.is_running():
                child.kill()
        log.close()


def finished_trials(out: Path) -> int:
    """Trials in the run's results file so far (0 until it exists)."""
    for path in out.glob("*/results.json"):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            return 0  # it is replaced atomically, so this is a bug the test will show later
        return sum(len(s["trials"]) for s in doc["scenarios"])
    return 0


def wait_for_trials(run: BackgroundRun, out: Path, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while finished_trials(out) < count:
        run.look()
        assert run.proc.poll() is None, "the run ended before the test could stop it"
        assert time.monotonic() < deadline, f"fewer than {count} trials after {WAIT_S} s"
        time.sleep(POLL_S)  # polls a file another process writes; nothing to wait on


def trials_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for s in doc["scenarios"] for t in s["trials"]]


def test_sigkill_mid_run_keeps_every_finished_trial_readable(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    args = (
        scenario_file(tmp_path),
        REPORTS_FLAG,
        out,
        "--against",
        "none",
        "--no-report",
        "--cache-dir",
        tmp_path / "c",
    )
    with started_run(tmp_path, *args) as run:
        wait_for_trials(run, out, 2)
        run.signal(signal.SIGKILL)
        run.proc.wait(timeout=30)
    results = next(out.glob("*/results.json")).resolve()
    doc = load_results(results)
    assert doc["complete"] is False
    trials = trials_of(doc)
    assert 2 <= len(trials) < 4
    for trial in trials:
        assert trial["status"] == "ok", trial["error"]
        assert trial["metrics"]["success_rate"] == 1.0
        assert len(trial["records"]) == 2
    # no temp file of an interrupted write is left to confuse a reader
    assert not [p for p in results.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_mock_whose_starter_was_killed_stops_by_itself(tmp_path: Path) -> None:
    """``--exit-with-parent``: SIGKILL the process that started the mock; the mock goes."""
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-m', 'harness.mockprovider', '--port', '0',"
            " '--exit-with-parent'], stdout=subprocess.PIPE, text=True)\n"
            "print(p.pid, p.stdout.readline().strip(), flush=True)\n"
            "time.sleep(120)\n",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert starter.stdout is not None
    pid_text, url = starter.stdout.readline().split()
    mock = psutil.Process(int(pid_text))
    try:
        assert url.startswith("http://127.0.0.1:")
        starter.kill()
        starter.wait(timeout=30)
        # bounded: the mock looks at its parent twice a second
        _, alive = psutil.wait_procs([mock], timeout=30)
        assert not alive, "the mock outlived the process that started it"
    finally:
        starter.stdout.close()
        if mock.is_running():
            mock.kill()


def test_sigint_stops_cleanly_with_an_incomplete_report_and_exit_130(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    args = (
        scenario_file(tmp_path),
        REPORTS_FLAG,
        out,
        "--against",
        "none",
        "--no-history",
        "--cache-dir",
        tmp_path / "c",
    )
    with started_run(tmp_path, *args) as run:
        wait_for_trials(run, out, 1)
        # Ctrl-C in a terminal: SIGINT to the whole foreground group (the mock too)
        run.signal(signal.SIGINT, group=True)
        code = run.proc.wait(timeout=60)
    stderr = (tmp_path / "run.stderr").read_text()
    assert code == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    run_dir = next(out.glob("*/results.json")).resolve().parent
    doc = load_results(run_dir / "results.json")
    assert doc["complete"] is False
    assert 1 <= len(trials_of(doc)) < 4
    assert all(t["status"] == "ok" for t in trials_of(doc))
    page = (run_dir / "index.html").read_text()
    assert "This run is incomplete" in page


def test_an_unwritable_output_folder_is_one_line_and_exit_2_before_any_trial(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = uploadbench(
        "run",
        scenario_file(tmp_path),
        REPORTS_FLAG,
        blocker / "reports",
        "--cache-dir",
        tmp_path / "c",
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert str(blocker) in lines[0]
    # before any trial: not even the file set was made
    assert not (tmp_path / "c").exists()


def test_resume_runs_only_the_missing_trials_and_completes_the_run(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    scenario = scenario_file(tmp_path)
    common = (REPORTS_FLAG, out, *ALONE, "--cache-dir", tmp_path / "c")
    with started_run(tmp_path, scenario, *common) as run:
        wait_for_trials(run, out, 2)
        mocks = [p for p in run.look() if "harness.mockprovider" in p.cmdline()]
        run.signal(signal.SIGKILL)
        run.proc.wait(timeout=30)
        # the run's key is not on the mock's command line, and the orphaned mock goes
        assert len(mocks) == 1
        assert not [arg for arg in mocks[0].cmdline() if arg.startswith("--keys")]
        _, alive = psutil.wait_procs(mocks, timeout=30)
        assert not alive, "the mock outlived the killed run"
    results = next(out.glob("*/results.json")).resolve()
    before = {t["key"]: t for t in trials_of(load_results(results))}
    run_id = results.parent.name

    # a scenario that changed since the run is refused, in one line
    changed = tmp_path / "changed" / "crash.toml"
    changed.parent.mkdir()
    changed.write_text(scenario.read_text().replace("seed = 7", "seed = 8"))
    refused = uploadbench("run", changed, *common, "--resume", run_id)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "changed since the run" in refused.stderr
    assert "Traceback" not in refused.stderr

    done = uploadbench("run", scenario, *common, "--resume", run_id)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = load_results(results)
    assert doc["complete"] is True
    after = trials_of(doc)
    keys = [t["key"] for t in after]
    assert len(keys) == len(set(keys)) == 4  # every planned trial once
    for key, trial in before.items():
        assert next(t for t in after if t["key"] == key) == trial  # kept, not re-run
    assert all(t["status"] == "ok" for t in after)
    # the run is one run: no second results file
    assert {p.resolve().parent.name for p in out.glob("*/results.json")} == {run_id}

    again = uploadbench("run", scenario, *common, "--resume", run_id)
    assert again.returncode == 2
    assert "nothing to resume" in again.stderr
