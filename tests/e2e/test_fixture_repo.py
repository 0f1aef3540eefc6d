"""The sensitivity fixture (benchmarks/fixture_repo.py) is what benchmarks/sensitivity.py and
docs/ci.md say it is: a git repository whose tags differ from ``A`` by exactly one line
(``comment``: a comment; ``slow5``/``slow10``/``slow20``: the ``SLOWDOWN`` constant), with
reproducible commit ids, and whose plugin really uploads to the mock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import xxhash

from harness.mockprovider import MockServer
from tests.conftest import MOCK_KEY
from tests.factories.runs import ROOT

SCRIPT = ROOT / "benchmarks" / "fixture_repo.py"
FACTORS = {"A": 0.0, "comment": 0.0, "slow5": 0.05, "slow10": 0.1, "slow20": 0.2}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def build(dest: Path, *extra: str) -> dict[str, str]:
    """Run the script; the tag -> commit id lines it printed."""
    done = subprocess.run(
        [sys.executable, SCRIPT, dest, *extra], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    ids = {}
    for line in done.stdout.splitlines()[1:]:
        tag, commit, *_ = line.split()
        ids[tag] = commit
    return ids


@pytest.fixture(scope="module")
def fixture_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    dest = tmp_path_factory.mktemp("fixture") / "repo"
    return dest, build(dest)


def changed_lines(repo: Path, base: str, head: str) -> tuple[list[str], list[str], list[str]]:
    """Files changed, lines removed and lines added between two revisions."""
    names = git(repo, "diff", "--name-only", base, head).split()
    diff = git(repo, "diff", "--unified=0", base, head).splitlines()
    removed = [d[1:] for d in diff if d.startswith("-") and not d.startswith("---")]
    added = [d[1:] for d in diff if d.startswith("+") and not d.startswith("+++")]
    return names, removed, added


def test_tags_and_reproducible_ids(
    fixture_repo: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, ids = fixture_repo
    assert set(git(repo, "tag", "--list").split()) == set(FACTORS)
    assert list(ids) == list(FACTORS)
    for tag, commit in ids.items():
        assert git(repo, "rev-parse", f"{tag}^{{commit}}").strip() == commit
    # every other tag is a child of A (independent slowdowns, not a chain)
    for tag in ("comment", "slow5", "slow10", "slow20"):
        assert git(repo, "rev-parse", f"{tag}^").strip() == ids["A"]
    # the working tree is A, clean
    assert git(repo, "rev-parse", "HEAD").strip() == ids["A"]
    assert git(repo, "status", "--porcelain") == ""
    # the same ids elsewhere, and again with --force
    again = tmp_path / "again"
    assert build(again) == ids
    assert build(again, "--force") == ids
    refused = subprocess.run(
        [sys.executable, SCRIPT, again], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert "--force" in refused.stderr


def test_comment_changes_only_a_comment(fixture_repo: tuple[Path, dict[str, str]]) -> None:
    repo, _ = fixture_repo
    names, removed, added = changed_lines(repo, "A", "comment")
    assert names == ["slowplug.py"]
    assert len(removed) == len(added) == 1
    assert removed[0].startswith("# ")
    assert added[0].startswith("# ")
    assert removed != added


@pytest.mark.parametrize("tag", ["slow5", "slow10", "slow20"])
def test_each_slow_tag_changes_only_its_factor(
    fixture_repo: tuple[Path, dict[str, str]], tag: str
) -> None:
    repo, _ = fixture_repo
    source = git(repo, "show", f"{tag}:slowplug.py")
    assert [line for line in source.splitlines() if line.startswith("SLOWDOWN")] == [
        f"SLOWDOWN = {FACTORS[tag]!r}"
    ]
    names, removed, added = changed_lines(repo, "A", tag)
    assert names == ["slowplug.py"]
    assert removed == ["SLOWDOWN = 0.0"]
    assert added == [f"SLOWDOWN = {FACTORS[tag]!r}"]


UPLOAD = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path

    import slowplug
    from uploader import LocalFile, Settings, Target

    url, key, folder = sys.argv[1:4]
    files = [
        LocalFile(path=p, size=p.stat().st_size, content_hash="")
        for p in sorted(Path(folder).iterdir())
    ]
    target = Target(provider="kimi", base_url=url + "/kimi/v1", key=key)
    outcomes = asyncio.run(
        slowplug.SlowUploader().upload_many(files, target, Settings(concurrency=2))
    )
    print(json.dumps({
        "module": slowplug.__file__,
        "slowdown": slowplug.SLOWDOWN,
        "outcomes": [
            {"name": o.name, "outcome": o.outcome, "file_id": o.file_id, "error": o.error,
             "latency": o.ended_at - o.started_at}
            for o in outcomes
        ],
    }))
    """
)


def test_the_plugin_at_a_uploads_to_the_mock(
    fixture_repo: tuple[Path, dict[str, str]], mock_server_thread: MockServer, tmp_path: Path
) -> None:
    repo, _ = fixture_repo
    folder = tmp_path / "files"
    folder.mkdir()
    contents = {f"f{i}.bin": os.urandom(64 * 1024 + i) for i in range(3)}
    for name, data in contents.items():
        (folder / name).write_bytes(data)

    # -P: not the current directory on sys.path; slowplug comes from the repository only
    done = subprocess.run(
        [sys.executable, "-P", "-c", UPLOAD, mock_server_thread.url, MOCK_KEY, folder],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    ran = json.loads(done.stdout)
    assert Path(ran["module"]).resolve() == (repo / "slowplug.py").resolve()
    assert ran["slowdown"] == 0.0
    assert [o["name"] for o in ran["outcomes"]] == sorted(contents)
    for outcome in ran["outcomes"]:
        assert outcome["outcome"] == "ok", outcome["error"]
        assert outcome["file_id"]
        assert outcome["latency"] > 0

    # the mock holds the very bytes, one upload per file
    uploads = httpx.get(mock_server_thread.url + "/__mock/stats").json()["requests"]
    held = {u["filename"]: u for u in uploads if u["route"] == "POST /files"}
    assert set(held) == set(contents)
    for name, data in contents.items():
        assert held[name]["content_hash"] == xxhash.xxh3_128(data).hexdigest()
        assert held[name]["content_bytes"] == len(data)
