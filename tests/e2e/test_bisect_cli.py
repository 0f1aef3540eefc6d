"""``uploadbench bisect`` end to end on a plugin repository built in a temporary folder:
six first-parent commits, the fourth breaks every upload. Deterministic on purpose (a
broken upload, not a slowdown): the test checks the search and its report, not timings;
``benchmarks/bisect_fixture.py`` measures bisects of a real 15% slowdown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_base_head import PLUGIN, _git

pytestmark = pytest.mark.slow

SCENARIO = """\
name = "plug"
variants = ["plug"]
concurrency = 2
repeats = 1
warmups = 0
rounds = 8
deadline = "60s"
profile = false

[named_variants]
plug = "plug:Plug"

[files]
count = 2
sizes = ["16KiB"]
seed = 5

[[providers]]
kind = "kimi"
"""


@pytest.fixture(scope="module")
def history_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    repo = tmp_path_factory.mktemp("bisectrepo")
    _git(repo, "init", "-q", "-b", "main")
    (repo / "plug.toml").write_text(SCENARIO)
    (repo / ".gitignore").write_text("__pycache__/\nreports/\n")
    commits = []
    for i in range(6):
        broken = i >= 4
        (repo / "plug.py").write_text(PLUGIN.format(broken=broken) + f"\n# commit {i}\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", f"commit {i}" + (" breaks uploads" if i == 4 else ""))
        commits.append(_git(repo, "rev-parse", "HEAD"))
    return repo, commits


def _bisect(repo: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "bisect", *args, "plug.toml",
         "--reports", str(tmp / "r"), "--cache-dir", str(tmp / "cache" / "filesets")],
        cwd=repo, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip


def test_bisect_names_the_commit_that_broke_it(
    history_repo: tuple[Path, list[str]], tmp_path: Path
) -> None:
    repo, commits = history_repo
    done = _bisect(repo, tmp_path, commits[0], commits[-1], "--metric", "success_rate")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"first bad commit {commits[4][:12]}" in done.stdout
    assert "commit 4 breaks uploads" in done.stdout
    (report,) = (tmp_path / "r" / "bisect").iterdir()
    data = json.loads((report / "bisect.json").read_text())
    assert data["found"] is True
    assert data["first_bad"] == commits[4]
    assert data["last_good"] == commits[3]
    assert data["metric"] == "success_rate"
    # GOOD vs BAD, then a binary search: never more steps than 1 + ceil(log2(5))
    assert 2 <= len(data["steps"]) <= 4
    assert all(Path(s["run"]).exists() for s in data["steps"])
    assert "first bad commit" in (report / "bisect.md").read_text()


def test_bisect_of_good_against_good_says_not_slower(
    history_repo: tuple[Path, list[str]], tmp_path: Path
) -> None:
    repo, commits = history_repo
    done = _bisect(repo, tmp_path, commits[0], commits[3], "--metric", "success_rate")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not slower" in done.stdout


def test_bisect_refuses_a_good_that_is_not_an_ancestor(
    history_repo: tuple[Path, list[str]], tmp_path: Path
) -> None:
    repo, commits = history_repo
    done = _bisect(repo, tmp_path, commits[4], commits[1])
    assert done.returncode == 2
    assert "not an ancestor" in done.stderr
    assert "Traceback" not in done.stderr
