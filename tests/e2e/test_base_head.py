"""Base and head in one run, end to end: a plugin repository built in a temporary folder,
``uploadbench run --base REV --head REV`` from inside it, real workers importing each
revision's module from a git worktree, the real mock.

What is asserted is the mechanism (each trial ran its revision's code, the pairs decide,
the exit code follows), never a timing: the head revision fails every upload, a change no
amount of machine noise can hide or fake.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

PLUGIN = '''\
"""A plugin under test: the bundled reference uploader, or a broken copy of it."""

import dataclasses

from uploader import parse_variant
from uploader.loading import load_variant

BROKEN = {broken}


class Plug:
    async def upload_many(self, files, target, settings):
        outcomes = await load_variant(parse_variant("async")).upload_many(files, target, settings)
        if not BROKEN:
            return outcomes
        return [
            dataclasses.replace(o, outcome="http_error", status=500, error="broken on purpose")
            for o in outcomes
        ]
'''

SCENARIO = """\
name = "plug"
variants = ["plug"]
concurrency = 2
repeats = 1
warmups = 0
rounds = 10
deadline = "60s"
profile = false

[named_variants]
plug = "plug:Plug"

[files]
count = 3
sizes = ["16KiB"]
seed = 5

[[providers]]
kind = "kimi"
"""


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def plugin_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("plugrepo")
    _git(repo, "init", "-q", "-b", "main")
    (repo / "plug.toml").write_text(SCENARIO)
    (repo / ".gitignore").write_text("__pycache__/\nreports/\n")
    for tag, broken in (("good", False), ("broken", True)):
        (repo / "plug.py").write_text(PLUGIN.format(broken=broken))
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", tag)
        _git(repo, "tag", tag)
    _git(repo, "checkout", "-q", "good")
    return repo


def _run(repo: Path, tmp: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [
            sys.executable, "-m", "harness", "run", "plug.toml", "--reports", str(tmp / "r"),
            "--against", "none", "--no-report", "--cache-dir", str(tmp / "cache" / "filesets"),
            "--json", "--markdown", str(tmp / "summary.md"), *args,
        ],
        cwd=repo, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def _trials(summary: dict[str, Any]) -> list[dict[str, Any]]:
    doc = json.loads(Path(summary["results"]).read_text())
    trials: list[dict[str, Any]] = doc["scenarios"][0]["trials"]
    return trials


def test_a_head_that_breaks_every_upload_fails_on_the_pairs(
    plugin_repo: Path, tmp_path: Path
) -> None:
    code, summary, stderr = _run(plugin_repo, tmp_path, "--base", "good", "--head", "broken")
    assert code == 1, stderr
    trials = _trials(summary)
    good = _git(plugin_repo, "rev-parse", "good")
    broken = _git(plugin_repo, "rev-parse", "broken")
    by_label = {t["revision"]["label"]: t["revision"] for t in trials}
    assert by_label["base"] == {"label": "base", "ref": "good", "commit": good, "dirty": False}
    assert by_label["head"]["commit"] == broken
    # every round ran both revisions, in the one process per revision
    assert sorted((t["round"], t["revision"]["label"]) for t in trials) == sorted(
        (r, label) for r in range(10) for label in ("base", "head")
    )
    # each revision ran its own code: the base's uploads worked, the head's all failed
    for t in trials:
        expected = 0.0 if t["revision"]["label"] == "head" else 1.0
        assert t["metrics"]["success_rate"] == expected, t["key"]
    paired = summary["comparison"]["paired"]
    success = next(c for c in paired["checks"] if c["metric"] == "success_rate")
    assert success["verdict"] == "regressed"
    assert success["n_pairs"] == 10
    assert paired["revisions"]["head"]["ref"] == "broken"
    markdown = (tmp_path / "summary.md").read_text()
    assert "Head against base" in markdown
    assert f"good @ {good[:8]}" in markdown


def test_a_bad_revision_is_one_line_and_exit_2(plugin_repo: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "plug.toml", "--base", "no-such-rev",
         "--reports", str(tmp_path / "r")],
        cwd=plugin_repo, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert done.returncode == 2
    assert "no-such-rev" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_max_pairs_adds_processes_only_while_a_gating_check_is_undecided(
    plugin_repo: Path, tmp_path: Path
) -> None:
    # A/A: the same commit twice; whether 10 pairs decide depends on the machine's noise,
    # so the test asserts the rule, not an outcome
    code, summary, stderr = _run(
        plugin_repo, tmp_path, "--base", "good", "--head", "good", "--max-pairs", "20"
    )
    assert code != 2, stderr
    trials = _trials(summary)
    repeats = sorted({t["repeat"] for t in trials})
    checks = [c for c in summary["comparison"]["paired"]["checks"] if c["gating"]]
    pairs = {c["n_pairs"] for c in checks}
    if repeats == [0]:
        # every gating check was decided on the first 10 pairs
        assert "pairs:" not in stderr
        assert all(c["verdict"] != "inconclusive" for c in checks)
    else:
        assert repeats == [0, 1]  # one more process of the scenario's 10 rounds
        assert "pairs: plug: added 10 pair(s)" in stderr
        assert max(pairs) == 20
        # both revisions of the added process, in every added round
        added = [t for t in trials if t["repeat"] == 1]
        assert sorted({t["revision"]["label"] for t in added}) == ["base", "head"]


def test_repo_flag_runs_from_outside_the_plugin_repository(
    plugin_repo: Path, tmp_path: Path
) -> None:
    # the plugin is imported from each revision's worktree, never from the current
    # directory: the preflight and the workers look in the same place
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [
            sys.executable, "-m", "harness", "run", str(plugin_repo / "plug.toml"),
            "--repo", str(plugin_repo), "--base", "good", "--head", "broken",
            "--reports", str(tmp_path / "r"), "--against", "none", "--no-report",
            "--cache-dir", str(tmp_path / "cache" / "filesets"),
        ],
        cwd=elsewhere, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    assert "cannot import" not in done.stderr
