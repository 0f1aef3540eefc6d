"""A base revision whose declared dependencies differ from head's gets a real venv, built
offline (``pip --no-index``: its one requirement, numpy, is already satisfied by this
environment, which the venv sees), cached, and its workers import the revision's code, the
harness of this checkout and this environment's packages. A requirement that cannot be
satisfied offline fails in one line with pip's reason, and leaves no venv behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harness
from harness.errors import HarnessError
from harness.rig.revisions import Revision, VenvBuilder, prepare_revisions

pytestmark = pytest.mark.slow

CHECKOUT = Path(harness.__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # belt and braces: pip never looks online here


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=t", *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def make_repo(repo: Path, base_deps: str, head_deps: str) -> None:
    """``mod.py`` VALUE = 1 at base (HEAD~1), 2 at HEAD; the pyprojects declare the deps."""
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for value, deps in ((1, base_deps), (2, head_deps)):
        (repo / "mod.py").write_text(f"VALUE = {value}\n")
        (repo / "pyproject.toml").write_text(f'[project]\nname = "p"\ndependencies = {deps}\n')
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"v{value}")


def test_a_base_with_other_dependencies_runs_in_its_own_offline_venv(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    repo = tmp_path / "plugin"
    make_repo(repo, '["numpy>=1"]', "[]")
    cache = tmp_path / "cache"

    def prepare() -> tuple[Revision, Revision]:
        return prepare_revisions(
            "HEAD~1", None, variant_specs=["sync", "mod:factory"], repo=None,
            cache_dir=cache, cwd=repo, build_venv=VenvBuilder(no_index=True),
        )  # fmt: skip

    started = time.monotonic()
    base, head = prepare()
    built_s = time.monotonic() - started
    assert head.python == sys.executable
    venv = Path(base.python).parents[1]
    assert venv.parent == cache / "venvs"
    assert (venv / "pyvenv.cfg").read_text().count("include-system-site-packages = true") == 1

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = (
        "import sys, mod, numpy, aiohttp, harness.rig.revisions as r\n"
        "print(mod.VALUE, sys.prefix, r.__file__)\n"
    )
    done = subprocess.run(
        [base.python, "-P", "-c", code], env=base.worker_env(env), cwd=repo,
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    value, prefix, module = done.stdout.split()
    assert value == "1"
    assert Path(prefix) == venv
    assert Path(module) == CHECKOUT / "harness" / "rig" / "revisions.py"

    started = time.monotonic()
    again, _ = prepare()
    assert again.python == base.python
    assert time.monotonic() - started < built_s  # reused, not rebuilt
    assert [p.name for p in venv.parent.iterdir()] == [venv.name]


def test_a_venv_that_cannot_be_built_offline_fails_in_one_line(tmp_path: Path) -> None:
    repo = tmp_path / "plugin"
    make_repo(repo, '["uploadbench-no-such-package-xyz==0.0.1"]', "[]")
    cache = tmp_path / "cache"
    with pytest.raises(HarnessError) as err:
        prepare_revisions(
            "HEAD~1", "HEAD", variant_specs=["mod:factory"], repo=repo, cache_dir=cache,
            cwd=tmp_path, build_venv=VenvBuilder(no_index=True),
        )  # fmt: skip
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("building the venv of base revision 'HEAD~1' (")
    assert "pip install failed: " in message
    assert "uploadbench-no-such-package-xyz" in message
    assert list((cache / "venvs").iterdir()) == []
