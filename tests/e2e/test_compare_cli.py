"""``uploadbench compare --confirm`` and live ``uploadbench calibrate SCENARIO`` end to end:
real mock provider, real worker processes, a tiny scenario (2 variants, 2 small files).

A slowdown is seeded with the mock's ``latency`` fault. A changed fault changes the scenario
hash, and runs of different definitions are never compared, so the fast baseline run's
hash is set to the slow scenario's before comparing (as ``benchmarks/aa_ab.py`` does): in
real use the code changes, not the scenario. The fault is 20 ms against 250 ms per file so
the verdict does not hinge on the machine's noise; nothing here asserts on timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.history import history_root, load_history
from harness.results import load_results

ROOT = Path(__file__).resolve().parents[2]

TINY = """
name = "tiny-compare"
variants = ["sync", "async"]
baseline = "sync"
concurrency = 1
repeats = {repeats}
warmups = 0
deadline = "30s"
profile = false

[files]
count = 2
sizes = ["16KiB"]
seed = 3

[[providers]]
kind = "kimi"

[[faults]]
type = "latency"
ms = "{ms}ms"
target = {{ method = "POST", route = "/files" }}
"""


def uploadbench(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def scenario(tmp_path: Path, name: str, *, ms: int, repeats: int = 4) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(TINY.format(ms=ms, repeats=repeats), encoding="utf-8")
    return path


def run(path: Path, reports: Path, cache: Path) -> str:
    done = uploadbench(
        "run", path, "--reports", reports, "--cache-dir", cache, "--no-report", "--against", "none"
    )
    assert done.returncode == 0, done.stderr
    return str(load_results("latest", reports_dir=reports)["run_id"])


def test_confirm_reruns_the_suspects_without_moving_latest_or_history(tmp_path: Path) -> None:
    reports, cache = tmp_path / "reports", tmp_path / "cache"
    fast = run(scenario(tmp_path, "fast", ms=20), reports, cache)
    slow_file = scenario(tmp_path, "slow", ms=250)
    slow = run(slow_file, reports, cache)
    # The seeded slowdown: the fast run stands for the code before the change.
    fast_path = reports / fast / "results.json"
    doc = json.loads(fast_path.read_text(encoding="utf-8"))
    doc["scenarios"][0]["hash"] = load_results(slow, reports_dir=reports)["scenarios"][0]["hash"]
    fast_path.write_text(json.dumps(doc), encoding="utf-8")
    history_before = load_history(history_root(reports)).entries
    runs_before = {p.name for p in reports.iterdir()}

    done = uploadbench(
        "compare", "latest", "--against", fast, "--reports", reports, "--confirm",
        "--scenarios", slow_file, "--cache-dir", cache, "--json",
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    comparison = json.loads(done.stdout)
    assert comparison["run_id"] == slow
    [note] = [n for n in comparison["notes"] if "re-ran" in n]
    assert note.startswith("tiny-compare: re-ran ")
    regressed = [
        c for c in comparison["checks"]
        if c["kind"] == "history" and c["gating"] and c["verdict"] == "regressed"
    ]  # fmt: skip
    assert regressed
    # pooled: the run's 4 repeats and the confirmation's 4 of each suspected variant
    assert {c["n_candidate"] for c in regressed} == {8}
    # The confirmation run is kept apart: latest, the run folders and history are unchanged.
    assert load_results("latest", reports_dir=reports)["run_id"] == slow
    assert {p.name for p in reports.iterdir()} == {*runs_before, "confirmations"}
    [confirmation] = [p for p in (reports / "confirmations").iterdir() if p.name != "latest"]
    assert confirmation.name in note
    assert load_results(confirmation)["scenarios"][0]["trials"]
    assert load_history(history_root(reports)).entries == history_before
    assert [e.run_id for e in history_before] == [fast, slow]


def test_compare_dir_latest_brings_dirs_history_and_agrees_with_run(tmp_path: Path) -> None:
    # `run S --reports DIR` then `compare DIR/latest`: compare finds DIR's history (not
    # ./reports/history) and, on the same results and history, gives run's exit code.
    reports, cache = tmp_path / "elsewhere", tmp_path / "cache"
    path = scenario(tmp_path, "h", ms=20, repeats=3)
    common = ("--reports", reports, "--cache-dir", cache, "--no-report")

    first = uploadbench("run", path, *common)
    # nothing to compare with yet: the default --against history cannot pass honestly
    assert first.returncode == 3, first.stderr
    assert "no comparable history" in first.stdout
    assert "tiny-compare (baseline sync)" in first.stdout  # results on stdout ...
    assert "history: 1 file(s)" in first.stderr  # ... log lines on stderr
    first_id = load_results("latest", reports_dir=reports)["run_id"]

    second = uploadbench("run", path, *common, "--json")
    assert second.returncode in (0, 1, 3), second.stderr
    ran = json.loads(second.stdout)
    assert ran["comparison"]["against"] == "history"

    done = uploadbench("compare", reports / "latest", "--json")
    compared = json.loads(done.stdout)
    assert compared["run_id"] == ran["run_id"] != first_id
    assert f"tiny-compare: history: last 1 comparable run: {first_id}" in compared["notes"]
    assert done.returncode == ran["exit_code"] == compared["exit_code"]
    assert compared["checks"] == ran["comparison"]["checks"]


def test_calibrate_a_scenario_live(tmp_path: Path) -> None:
    reports, cache = tmp_path / "reports", tmp_path / "cache"
    path = scenario(tmp_path, "aa", ms=20, repeats=2)

    done = uploadbench(
        "calibrate", path, "--runs", "2", "--repeats", "2", "--reports", reports,
        "--cache-dir", cache,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("A/A over runs ")
    assert "1 run-vs-run comparisons" in lines[0]
    table = [line for line in lines if line.startswith("  tiny-compare / kimi / ")]
    for variant in ("sync", "async"):
        assert any(f"/ {variant} / c=1 throughput_bytes_per_s: n=4 " in line for line in table)
    assert all(" CV=" in line and " -> normal " in line for line in table)
    # A/A runs are not the run users mean by latest, and never enter the history.
    assert not (reports / "latest").exists()
    assert not history_root(reports).exists()
    runs = {p.resolve() for p in (reports / "calibration").glob("*/results.json")}
    assert len(runs) == 2  # (and calibration/latest pointing at one of them)
