"""harness.rig.revisions: the code under test of a base and a head revision, each imported
by its workers (``python -P``, PYTHONPATH from the revision) while the harness comes from
this checkout. Repositories are built in tmp_path with git; no network, no real venv (the
offline venv build is tests/e2e/test_revisions_git.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import harness
from harness.errors import EXIT_ERROR, HarnessError
from harness.rig.revisions import (
    WORKING_TREE,
    BuildVenv,
    Revision,
    clean_revisions,
    code_under_test,
    dependency_declarations,
    dependency_hash,
    ensure_worktree,
    find_repo,
    needs_own_venv,
    prepare_revisions,
    resolve_rev,
)

CHECKOUT = Path(harness.__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # no user or system git config, and no repository above tmp_path
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=t", *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str = "c") -> str:
    """Write ``files`` (path -> text) in ``repo``, commit them all, return the commit id."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        git(repo, "init", "-q", "-b", "main")
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def run_in(rev: Revision, code: str) -> str:
    """What ``code`` prints in a worker-like process of ``rev`` (``python -P``)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [rev.python, "-P", "-c", code], env=rev.worker_env(env), cwd=rev.cwd,
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def prepare(
    repo: Path,
    base: str,
    head: str | None,
    specs: Sequence[str],
    cache: Path,
    build_venv: BuildVenv | None = None,
) -> tuple[Revision, Revision]:
    return prepare_revisions(base, head, variant_specs=specs, repo=None, cache_dir=cache,
                             cwd=repo, build_venv=build_venv)  # fmt: skip


@pytest.fixture
def plugin_repo(tmp_path: Path) -> tuple[Path, str, str]:
    """A plugin repository: ``mod.py`` has VALUE = 1 at commit A, 2 at commit B (HEAD);
    ``other.py`` and ``pkg2/`` are top-level too but named by no variant."""
    repo = tmp_path / "plugin"
    a = commit(repo, {"mod.py": "VALUE = 1\n", "other.py": "X = 1\n", "pkg2/__init__.py": ""})
    b = commit(repo, {"mod.py": "VALUE = 2\n"})
    return repo, a, b


# ------------------------------------------------------------------ repo and revs


def test_revs_resolve_to_commit_ids(plugin_repo: tuple[Path, str, str]) -> None:
    repo, a, b = plugin_repo
    git(repo, "tag", "-a", "v1", "-m", "v1", a)  # an annotated tag peels to its commit
    assert resolve_rev(repo, "HEAD") == b
    assert resolve_rev(repo, "main") == b
    assert resolve_rev(repo, "HEAD~1") == a
    assert resolve_rev(repo, "v1") == a
    assert resolve_rev(repo, a[:8]) == a
    assert find_repo(repo / "pkg2") == repo.resolve()


@pytest.mark.parametrize("rev", ["nope", "HEAD~9", "-h", "", "HEAD:mod.py"])
def test_a_bad_rev_is_one_line_naming_the_rev_and_the_repo(
    plugin_repo: tuple[Path, str, str], rev: str
) -> None:
    repo, _, _ = plugin_repo
    with pytest.raises(HarnessError) as err:
        prepare(repo, rev, None, ["mod:f"], repo.parent / "cache")
    message = str(err.value)
    assert err.value.exit_code == EXIT_ERROR
    assert "\n" not in message
    assert f"--base {rev!r} is not a commit in {repo.resolve()}" == message
    with pytest.raises(HarnessError, match=r"^--head 'nope' is not a commit in "):
        prepare(repo, "HEAD", "nope", ["mod:f"], repo.parent / "cache")


def test_not_a_repo_is_a_clear_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(HarnessError, match=r"plain is not in a git repository; --base needs one"):
        prepare(plain, "HEAD", None, ["mod:f"], tmp_path / "cache")
    with pytest.raises(HarnessError, match=r"^--repo .*missing: no such directory$"):
        prepare_revisions("HEAD", None, variant_specs=["mod:f"], repo=tmp_path / "missing",
                          cache_dir=tmp_path / "cache", cwd=plain)  # fmt: skip


# ------------------------------------------------------------- code under test


def test_code_under_test_from_variant_specs() -> None:
    specs = ["sync", "naive-async", "async[streaming=off]", "async+fix1+fix2", "cmd:curl {url}",
             "pkg.mod:Attr", "mod:factory", "pkg.other:X", "harness.x:Y"]  # fmt: skip
    assert code_under_test(specs, uploadbench_repo=False) == ("mod", "pkg")
    assert code_under_test(specs, uploadbench_repo=True) == ("mod", "pkg", "uploader")
    assert code_under_test(["sync", "async"], uploadbench_repo=True) == ("uploader",)
    assert code_under_test(["sync", "cmd:true"], uploadbench_repo=False) == ()


def test_base_and_head_import_their_own_code_and_this_harness(
    plugin_repo: tuple[Path, str, str],
) -> None:
    repo, a, b = plugin_repo
    (repo / "mod.py").write_text("VALUE = 3\n")  # uncommitted: the working tree's head
    cache = repo.parent / "cache"
    base, head = prepare(repo, "HEAD~1", None, ["sync", "mod:factory"], cache)

    assert (base.commit, base.ref, base.dirty, base.label) == (a, "HEAD~1", False, "base")
    assert (head.commit, head.ref, head.dirty, head.label) == (b, WORKING_TREE, True, "head")
    assert head.tree == repo.resolve()
    assert base.tree == cache / "revisions" / a / "tree"
    assert base.python == head.python == sys.executable
    assert head.as_doc() == {"label": "head", "ref": WORKING_TREE, "commit": b, "dirty": True}
    for rev in (base, head):  # exactly the named module, nothing else of the tree
        assert rev.modules == ("mod",)
        assert sorted(p.name for p in rev.import_root.iterdir()) == ["mod.py"]
        assert rev.pythonpath() == [str(rev.import_root), str(CHECKOUT), str(repo.resolve())]

    code = "import mod, harness; print(mod.VALUE, harness.__file__)"
    assert run_in(base, code) == f"1 {CHECKOUT / 'harness' / '__init__.py'}"
    assert run_in(head, code).split()[0] == "3"

    base2, head2 = prepare(repo, a, "HEAD", ["mod:factory"], cache)
    assert (head2.commit, head2.ref, head2.dirty) == (b, "HEAD", False)
    assert run_in(head2, "import mod; print(mod.VALUE)") == "2"
    assert base2.tree == base.tree


def test_a_clean_working_tree_is_not_dirty_unless_code_under_test_is_untracked(
    plugin_repo: tuple[Path, str, str],
) -> None:
    repo, _, b = plugin_repo
    (repo / "notes.txt").write_text("untracked, not code under test")
    _, head = prepare(repo, "HEAD~1", None, ["pkg2.x:Y"], repo.parent / "cache")
    assert (head.commit, head.dirty) == (b, False)
    (repo / "pkg2" / "new.py").write_text("")
    _, head = prepare(repo, "HEAD~1", None, ["pkg2.x:Y"], repo.parent / "cache")
    assert head.dirty is True


def test_a_package_plugin_links_its_package_folder(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    commit(repo, {"src/pkg/__init__.py": "V = 'a'\n", "src/pkg/sub.py": "", "mod.py": ""})
    commit(repo, {"src/pkg/__init__.py": "V = 'b'\n"})
    base, head = prepare(repo, "HEAD~1", "HEAD", ["pkg.sub:make", "cmd:true"], tmp_path / "c")
    assert [p.name for p in base.import_root.iterdir()] == ["pkg"]
    assert (base.import_root / "pkg").is_symlink()
    assert run_in(base, "import pkg; print(pkg.V)") == "a"
    assert run_in(head, "import pkg; print(pkg.V)") == "b"


def test_uploadbench_repo_links_the_uploader_package_only(tmp_path: Path) -> None:
    repo = tmp_path / "ub"
    files = {"uploader/__init__.py": "VALUE = 'old'\n", "harness/__init__.py": "FAKE = 1\n",
             "examples/__init__.py": "", "tests/__init__.py": ""}  # fmt: skip
    commit(repo, files)
    commit(repo, {"uploader/__init__.py": "VALUE = 'new'\n"})
    base, head = prepare(repo, "HEAD~1", None, ["sync", "async[streaming=off]"], tmp_path / "c")
    for rev in (base, head):
        assert rev.modules == ("uploader",)
        assert [p.name for p in rev.import_root.iterdir()] == ["uploader"]
    code = "import uploader, harness; print(uploader.VALUE, hasattr(harness, 'FAKE'))"
    assert run_in(base, code) == "old False"  # harness: this checkout, not the repo's
    assert run_in(head, code) == "new False"


def test_a_module_missing_from_a_revision_is_named_before_anything_runs(
    plugin_repo: tuple[Path, str, str],
) -> None:
    repo, _, _ = plugin_repo
    commit(repo, {"newmod.py": "VALUE = 1\n"})
    with pytest.raises(HarnessError) as err:
        prepare(repo, "HEAD~2", None, ["mod:f", "newmod:f"], repo.parent / "cache")
    assert str(err.value).startswith("base revision 'HEAD~2' has no module 'newmod' (no newmod/")
    assert "\n" not in str(err.value)


def test_variants_with_no_code_under_test_are_refused(plugin_repo: tuple[Path, str, str]) -> None:
    repo, _, _ = plugin_repo
    with pytest.raises(HarnessError, match=r"name none in .*built-ins come from the installed"):
        prepare(repo, "HEAD~1", None, ["sync", "async", "cmd:true"], repo.parent / "cache")


# ------------------------------------------------------------------- worktrees


def test_worktrees_are_cached_per_commit_and_rebuilt_when_not_right(
    plugin_repo: tuple[Path, str, str],
) -> None:
    repo, a, _ = plugin_repo
    cache = repo.parent / "cache"
    tree = ensure_worktree(repo, a, cache)
    assert tree == cache / "revisions" / a / "tree"
    assert git(tree, "rev-parse", "HEAD") == a
    (tree / "marker").write_text("")  # untracked: harmless, so the worktree is reused
    assert ensure_worktree(repo, a, cache) == tree
    assert (tree / "marker").exists()

    (tree / "mod.py").write_text("VALUE = 99\n")  # a tracked change: rebuilt
    assert ensure_worktree(repo, a, cache) == tree
    assert (tree / "mod.py").read_text() == "VALUE = 1\n"
    assert not (tree / "marker").exists()

    git(repo, "worktree", "remove", "--force", str(tree))  # a crash's half-made folder
    tree.mkdir()
    (tree / "mod.py").write_text("partial")
    stale = tree.parent / ".tmp-tree-dead"
    stale.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert ensure_worktree(repo, a, cache) == tree
    assert (tree / "mod.py").read_text() == "VALUE = 1\n"
    assert not stale.exists()
    assert sorted(p.name for p in tree.parent.iterdir()) == ["tree"]
    listed = git(repo, "worktree", "list", "--porcelain")
    assert f"worktree {tree.resolve()}" in listed
    assert ".tmp-tree-" not in listed


def test_clean_removes_worktrees_from_the_repository_and_only_our_folders(
    plugin_repo: tuple[Path, str, str],
) -> None:
    repo, a, b = plugin_repo
    cache = repo.parent / "cache"
    trees = [ensure_worktree(repo, a, cache), ensure_worktree(repo, b, cache)]
    (cache / "venvs" / "0123456789abcdef").mkdir(parents=True)  # a cached venv
    (cache / "venvs" / "mine").mkdir()  # not ours: kept
    (cache / "revisions" / "notes").mkdir()  # not ours: kept
    assert all(
        f"worktree {t.resolve()}" in git(repo, "worktree", "list", "--porcelain") for t in trees
    )

    assert clean_revisions(cache) == 2

    assert not any(t.exists() for t in trees)
    assert str(cache) not in git(repo, "worktree", "list", "--porcelain")
    assert sorted(p.name for p in (cache / "venvs").iterdir()) == ["mine"]
    assert sorted(p.name for p in (cache / "revisions").iterdir()) == ["notes"]
    assert clean_revisions(cache) == 0  # nothing left to remove; no error
    assert clean_revisions(repo.parent / "nothing-here") == 0


# ----------------------------------------------------------------- dependencies


def test_the_dependency_hash_ignores_order_and_spacing_only(tmp_path: Path) -> None:
    def declared(name: str, text: str) -> dict[str, object] | None:
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text('[project]\nname = "p"\n' + text)
        return dependency_declarations(tmp_path / name)

    one = declared("1", 'dependencies = ["b>=2", "a >= 1 ; python_version < \'4\'"]\n')
    two = declared("2", 'dependencies = ["a>=1;python_version  <  \'4\'", "b >=2"]\n')
    extra = declared("3", 'dependencies = ["b>=2", "a>=1; python_version < \'4\'"]\n'
                          '[project.optional-dependencies]\nfast = ["uvloop"]\n')  # fmt: skip
    other = declared("4", 'dependencies = ["b>=3", "a>=1; python_version < \'4\'"]\n')
    assert one == {"dependencies": ["a>=1 ; python_version < '4'", "b>=2"],
                   "optional-dependencies": {}}  # fmt: skip
    assert dependency_hash(one) == dependency_hash(two)
    assert len({dependency_hash(d) for d in (one, extra, other, None)}) == 4


def test_dependency_declarations_are_read_canonically(tmp_path: Path) -> None:
    assert dependency_declarations(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text("[tool.x]\na = 1\n")
    assert dependency_declarations(tmp_path) is None  # no [project] table
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\ndependencies = ["b>=2", "a  >=  1", "b>=2"]\n'
        '[project.optional-dependencies]\nz = ["y"]\nfast = ["uvloop"]\n'
    )
    (tmp_path / "sub").mkdir()
    decl = dependency_declarations(tmp_path, Path("sub"))  # nearest above, within the tree
    assert decl == {
        "dependencies": ["a>=1", "b>=2"],
        "optional-dependencies": {"fast": ["uvloop"], "z": ["y"]},
    }
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(HarnessError, match=r"cannot read .*pyproject.toml: "):
        dependency_declarations(tmp_path)


@pytest.mark.parametrize(
    ("base", "head", "own"),
    [
        (None, None, False),  # neither declares anything
        ({"dependencies": ["a"]}, {"dependencies": ["a"]}, False),  # equal
        ({"dependencies": ["a"]}, {"dependencies": ["a>=2"]}, True),  # differ
        ({"dependencies": ["a"]}, None, True),
        (  # the extras differ
            {"dependencies": ["a"], "optional-dependencies": {"x": ["b"]}},
            {"dependencies": ["a"], "optional-dependencies": {}},
            True,
        ),
        (None, {"dependencies": ["a"]}, False),  # nothing to install for the revision
        ({"dependencies": []}, {"dependencies": ["a"]}, False),
    ],
)
def test_a_revision_gets_its_own_venv_only_when_its_declarations_differ(
    base: dict[str, object] | None, head: dict[str, object] | None, own: bool
) -> None:
    assert needs_own_venv(base, head) is own


class FakeBuilder:
    """Records its calls; makes a venv-shaped folder (or fails, when told)."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[Path, list[str], str]] = []
        self.fail = fail

    def __call__(self, target: Path, requirements: Sequence[str], python: str) -> None:
        self.calls.append((target, list(requirements), python))
        (target / "bin").mkdir(parents=True)
        if self.fail:
            raise HarnessError(f"pip install failed: {self.fail}")
        (target / "bin" / "python").symlink_to(sys.executable)


def _project(deps: Sequence[str]) -> str:
    return '[project]\nname = "p"\ndependencies = [' + ", ".join(f'"{d}"' for d in deps) + "]\n"


def test_a_revision_with_other_dependencies_gets_one_cached_venv(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    commit(repo, {"mod.py": "VALUE = 1\n", "pyproject.toml": _project(["numpy >= 1"])})
    commit(repo, {"pyproject.toml": _project(["numpy>=1", "rich"])})
    cache = tmp_path / "c"
    build = FakeBuilder()
    base, head = prepare(repo, "HEAD~1", None, ["mod:f"], cache, build_venv=build)
    assert [(reqs, py) for _, reqs, py in build.calls] == [(["numpy>=1"], sys.executable)]
    assert head.python == sys.executable
    venv = Path(base.python).parents[1]
    assert venv.parent == cache / "venvs"
    assert base.python == str(venv / "bin" / "python")
    assert sorted(p.name for p in venv.parent.iterdir()) == [venv.name]  # no temporary left
    assert run_in(base, "import mod; print(mod.VALUE)") == "1"

    again, _ = prepare(repo, "HEAD~1", None, ["mod:f"], cache, build_venv=build)
    assert len(build.calls) == 1  # built once, then reused
    assert again.python == base.python

    (repo / "pyproject.toml").write_text(_project(["numpy>=1"]))  # head's now equal base's
    same, _ = prepare(repo, "HEAD~1", None, ["mod:f"], cache, build_venv=build)
    assert same.python == sys.executable
    assert len(build.calls) == 1


def test_a_failed_venv_build_is_one_line_and_never_reused(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    commit(repo, {"mod.py": "", "pyproject.toml": _project(["nosuchpkg==0"])})
    commit(repo, {"pyproject.toml": _project([])})
    cache = tmp_path / "c"
    with pytest.raises(HarnessError) as err:
        prepare(repo, "HEAD~1", None, ["mod:f"], cache, build_venv=FakeBuilder("No matching"))
    assert str(err.value).startswith("building the venv of base revision 'HEAD~1' (")
    assert str(err.value).endswith("failed: pip install failed: No matching")
    assert list((cache / "venvs").iterdir()) == []
    build = FakeBuilder()
    base, _ = prepare(repo, "HEAD~1", None, ["mod:f"], cache, build_venv=build)
    assert len(build.calls) == 1
    assert Path(base.python).exists()


def test_worker_env_puts_the_revision_first_and_keeps_the_users_pythonpath(
    plugin_repo: tuple[Path, str, str],
) -> None:
    repo, _, _ = plugin_repo
    base, _ = prepare(repo, "HEAD~1", None, ["mod:f"], repo.parent / "cache")
    env = base.worker_env({"PYTHONPATH": f"/user/src{os.pathsep}{repo.resolve()}", "X": "1"})
    assert env["X"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep) == [*base.pythonpath(), "/user/src"]
