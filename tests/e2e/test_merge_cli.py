"""``uploadbench merge``: shard files in, one results.json out; bad input is one line, exit 2.

The shards here are written with the real ResultsStore (no servers needed); that shards of
a real run merge to the unsharded trial set is tested in test_run_cli.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.results import METRIC_NAMES, ResultsStore, load_results

ROOT = Path(__file__).resolve().parents[2]


def uploadbench(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_shard(
    out: Path, k: int, n: int, trials: list[tuple[str, int]], scenario_hash: str = "h1"
) -> Path:
    store = ResultsStore(
        out,
        f"20261128T10300{k}Z-00000{k}",
        started_at="2026-11-28T10:30:00Z",
        environment={"fingerprint": "f" * 16},
        shard=(k, n),
    )
    store.add_scenario("s", scenario_hash, {"name": "s", "thresholds": []}, "sync")
    for key, index in trials:
        trial: dict[str, Any] = {
            "key": key,
            "index": index,
            "provider": "kimi",
            "variant": key.split("|")[2],
            "concurrency": 1,
            "repeat": 0,
            "warmup": False,
            "profiled": False,
            "status": "ok",
            "error": None,
            "metrics": {**dict.fromkeys(METRIC_NAMES, 1.0), "integrity_errors": 0.0},
            "records": [],
        }
        store.add_trial("s", trial)
    return store.finish("2026-11-28T10:31:00Z")


def test_merge_writes_one_complete_run_and_points_latest_at_it(tmp_path: Path) -> None:
    one = write_shard(
        tmp_path / "a", 1, 2, [("s|kimi|sync|c=1|r=0", 0), ("s|kimi|sync|c=1|r=1", 2)]
    )
    two = write_shard(tmp_path / "b", 2, 2, [("s|kimi|async|c=1|r=0", 1)])
    out = tmp_path / "merged"
    done = uploadbench("merge", one, two.parent, "--reports", out)
    assert done.returncode == 0, done.stderr
    merged = load_results("latest", reports_dir=out)
    assert merged["complete"] is True
    assert merged["shard"] is None
    trials = merged["scenarios"][0]["trials"]
    assert [t["index"] for t in trials] == [0, 1, 2]
    assert {m["shard"]["k"] for m in merged["merged_from"]} == {1, 2}
    # The result (the merged file) on stdout; the summary line is a log line on stderr.
    assert done.stdout.strip() == str(out / merged["run_id"] / "results.json")
    assert "merged 2 shard(s)" in done.stderr


def test_merge_refuses_shards_of_different_scenario_definitions(tmp_path: Path) -> None:
    one = write_shard(tmp_path / "a", 1, 2, [("s|kimi|sync|c=1|r=0", 0)])
    two = write_shard(tmp_path / "b", 2, 2, [("s|kimi|async|c=1|r=0", 1)], scenario_hash="h2")
    done = uploadbench("merge", one, two, "--reports", tmp_path / "merged")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "differs between shards" in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "merged").exists()


def test_merge_names_a_corrupt_shard_file(tmp_path: Path) -> None:
    one = write_shard(tmp_path / "a", 1, 2, [("s|kimi|sync|c=1|r=0", 0)])
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schema_version": 7}))
    done = uploadbench("merge", one, broken, "--reports", tmp_path / "merged")
    assert done.returncode == 2
    assert str(broken) in done.stderr
    assert "unknown schema_version 7" in done.stderr
    assert "Traceback" not in done.stderr


def test_merge_of_a_missing_shard_is_marked_incomplete(tmp_path: Path) -> None:
    one = write_shard(tmp_path / "a", 1, 3, [("s|kimi|sync|c=1|r=0", 0)])
    out = tmp_path / "merged"
    done = uploadbench("merge", one, "--reports", out)
    assert done.returncode == 0, done.stderr
    assert "INCOMPLETE" in done.stderr
    assert load_results("latest", reports_dir=out)["complete"] is False


def test_merge_history_adds_a_whole_night_by_the_rule_run_uses(tmp_path: Path) -> None:
    one = write_shard(
        tmp_path / "a", 1, 2, [("s|kimi|sync|c=1|r=0", 0), ("s|kimi|sync|c=1|r=1", 2)]
    )
    two = write_shard(tmp_path / "b", 2, 2, [("s|kimi|async|c=1|r=0", 1)])
    out = tmp_path / "merged"
    done = uploadbench("merge", one, two, "--reports", out, "--history")
    assert done.returncode == 0, done.stderr
    assert "history: 1 file(s)" in done.stderr
    assert list((out / "history").rglob("*.json"))
    # half a night is no night: an incomplete merge is refused, and says why
    part = tmp_path / "part"
    done = uploadbench("merge", one, "--reports", part, "--history")
    assert done.returncode == 0, done.stderr
    assert "history: not added" in done.stderr
    assert not list((part / "history").rglob("*.json"))
