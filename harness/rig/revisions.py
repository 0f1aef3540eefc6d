"""The code under test of two revisions, side by side: ``run --base REV [--head REV]``.

A base-and-head run starts its workers with ``python -P -m harness.worker`` (``-P``: the
current directory is not put on ``sys.path``) and ``PYTHONPATH`` from
:meth:`Revision.pythonpath`: first the revision's **import root**, then the checkout the
harness itself runs from, then the current directory. The import root is a folder of
symlinks to exactly the revision's *code under test* and nothing else, so a worker imports
that code from the revision while the harness, the mock, the file sets and the scenarios
always come from the current checkout.

What the code under test is, from the scenario's variant specs (:func:`code_under_test`):

- in uploadbench's own repository (its root holds ``uploader/__init__.py`` and
  ``harness/__init__.py``): the bundled ``uploader`` package, which the built-in variants
  (``sync``, ``naive-async``, ``async``, ``async[...]``, ``async+...``) run;
- a plugin, ``pkg.mod:Attr`` or ``mod:factory``: its top-level name (``pkg``, ``mod``), a
  package folder or a ``mod.py`` looked up in the revision's tree at the current directory's
  place in the repository, then at the root, then in ``src/``. In a plugin's repository the
  built-ins come from the installed uploadbench for both revisions (identical code);
- ``cmd:TEMPLATE`` runs an external program: it is **not** revision-aware (the same
  program runs for both revisions).

Only the top-level names are linked: whatever else a plugin imports from its repository
(a sibling module it does not name) comes from the current directory, as ever.

Where each revision's code comes from (:func:`prepare_revisions`): base (and head, when
given) is a ``git worktree add --detach`` of its commit, cached per commit id under
``<cache>/revisions/<commit>/tree`` and reused while it is still at that commit with no
tracked change; head defaults to the **working tree** itself (uncommitted changes included;
HEAD's commit id is recorded with ``dirty``). Dependencies: a revision whose declared
dependencies (``[project] dependencies`` and ``optional-dependencies`` of its
``pyproject.toml``) differ from head's gets its own venv, built once and cached by their
hash under ``<cache>/venvs/<hash>``; otherwise it runs on the current interpreter.

Every error here is a one-line :class:`~harness.errors.HarnessError` (exit 2) raised before
any trial. git and pip run without a shell and git never touches the network (no fetch;
hooks and LFS smudging are off for the worktrees it makes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness.errors import HarnessError
from harness.rig.process import one_line

__all__ = [
    "WORKING_TREE",
    "BuildVenv",
    "Declarations",
    "Revision",
    "VenvBuilder",
    "clean_revisions",
    "code_under_test",
    "dependency_declarations",
    "dependency_hash",
    "ensure_venv",
    "ensure_worktree",
    "find_repo",
    "harness_root",
    "is_uploadbench_repo",
    "needs_own_venv",
    "prepare_revisions",
    "resolve_rev",
    "same_code_twice",
]

WORKING_TREE = "working tree"  # Revision.ref of a head that is the working directory

# The harness always comes from the current checkout: a plugin named harness.x:y is no
# code under test.
_HARNESS_NAMES = frozenset({"harness"})
_NAME_RE = re.compile(r"^[A-Za-z_]\w*$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_VENV_KEY_RE = re.compile(r"^[0-9a-f]{16}$")  # _short_hash: the name of a cached venv
# Environment that would point git at another repository than the one we name with -C.
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR")
_GIT_TIMEOUT_S = 600.0
_VENV_TIMEOUT_S = 300.0
_PIP_TIMEOUT_S = 1800.0
_STALE_TMP_S = 3600.0  # a temporary folder older than this is a crash's leftover

# Canonical dependency declarations: {"dependencies": [...], "optional-dependencies":
# {extra: [...]}}, each list sorted and spaced one way. None: no pyproject [project].
Declarations = dict[str, object]


@dataclass(frozen=True)
class Revision:
    """One side of a base-and-head run: where its code is and how its workers start."""

    label: str  # "base" or "head"
    ref: str  # as the user gave it ("main", "HEAD~3"), or WORKING_TREE
    commit: str | None  # 40-hex id (a working tree: HEAD's; None in a repo with no commit)
    dirty: bool  # a working tree with uncommitted changes
    tree: Path  # the worktree, or the working directory
    import_root: Path  # folder of symlinks to the code under test
    python: str  # the interpreter for this revision's workers
    modules: tuple[str, ...]  # top-level names linked in import_root
    harness_root: Path | None  # the checkout the harness runs from (None: installed)
    cwd: Path  # the directory uploadbench was run from

    def pythonpath(self) -> list[str]:
        """``PYTHONPATH`` entries for this revision's workers (started with ``python -P``):
        the import root, the harness's checkout, the current directory."""
        entries = [str(self.import_root)]
        if self.harness_root is not None:
            entries.append(str(self.harness_root))
        entries.append(str(self.cwd))
        return list(dict.fromkeys(entries))

    def worker_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """``env`` with ``PYTHONPATH`` set to :meth:`pythonpath`, followed by the entries it
        already had (a user's ``PYTHONPATH=src``), which therefore never shadow the
        revision's code under test."""
        out = dict(env)
        before = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        out["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*self.pythonpath(), *before]))
        return out

    def as_doc(self) -> dict[str, object]:
        """What ``results.json`` records of the revision."""
        return {"label": self.label, "ref": self.ref, "commit": self.commit, "dirty": self.dirty}


class BuildVenv(Protocol):
    """Builds a complete venv at ``target`` (a fresh temporary path) for ``requirements``
    on top of ``python``; raises :class:`HarnessError` with a one-line reason."""

    def __call__(self, target: Path, requirements: Sequence[str], python: str) -> None: ...


# ---------------------------------------------------------------------------- git


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_LFS_SKIP_SMUDGE"] = "1"
    return env


def _git(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args],
            check=False,
            capture_output=True,
            text=True,
            env=_git_env(),
            timeout=_GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise HarnessError("git is not installed (--base needs it)") from None
    except subprocess.TimeoutExpired:
        what = " ".join(args[:2])
        raise HarnessError(f"git {what} in {cwd} took over {_GIT_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise HarnessError(f"cannot run git in {cwd}: {exc.strerror or exc}") from None


def find_repo(cwd: Path, repo: Path | None = None) -> Path:
    """The top of the git repository holding ``repo`` (``--repo PATH``) or else ``cwd``."""
    start = Path(repo) if repo is not None else Path(cwd)
    if not start.is_dir():
        raise HarnessError(f"--repo {start}: no such directory")
    done = _git(["rev-parse", "--show-toplevel"], start)
    if done.returncode != 0 or not done.stdout.strip():
        hint = "" if repo is not None else " (run from a repository, or give --repo PATH)"
        raise HarnessError(f"{start} is not in a git repository; --base needs one{hint}")
    return Path(done.stdout.strip()).resolve()


def resolve_rev(repo: Path, rev: str, *, option: str = "--base") -> str:
    """The 40-hex commit id ``rev`` names in ``repo`` (``git rev-parse --verify``)."""
    if not rev.strip() or rev.startswith("-"):
        raise HarnessError(f"{option} {rev!r} is not a commit in {repo}")
    done = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], repo)
    commit = done.stdout.strip()
    if done.returncode != 0 or not _COMMIT_RE.match(commit):
        raise HarnessError(f"{option} {rev!r} is not a commit in {repo}")
    return commit


def _head_state(tree: Path, code_paths: Sequence[str]) -> tuple[str | None, bool]:
    """HEAD's commit id in the working directory ``tree`` and whether it is dirty: a tracked
    file changed anywhere (as ``environment.git_dirty``) or an untracked file in the code
    under test (``code_paths``, relative to ``tree``), which the workers would import."""
    head = _git(["rev-parse", "--verify", "--quiet", "HEAD"], tree)
    commit = head.stdout.strip() if head.returncode == 0 else None
    tracked = _git(["status", "--porcelain", "--untracked-files=no"], tree)
    if tracked.returncode != 0:
        raise HarnessError(f"git status failed in {tree}: {one_line(tracked.stderr)}")
    dirty = bool(tracked.stdout.strip()) or commit is None
    if not dirty and code_paths:
        untracked = _git(
            ["status", "--porcelain", "--untracked-files=all", "--", *code_paths], tree
        )
        dirty = any(line.startswith("??") for line in untracked.stdout.splitlines())
    return commit, dirty


def _is_worktree_at(path: Path, commit: str) -> bool:
    if not (path / ".git").exists():
        return False
    head = _git(["rev-parse", "--verify", "--quiet", "HEAD"], path)
    if head.returncode != 0 or head.stdout.strip() != commit:
        return False
    top = _git(["rev-parse", "--show-toplevel"], path)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != path.resolve():
        return False
    status = _git(["status", "--porcelain", "--untracked-files=no"], path)
    return status.returncode == 0 and not status.stdout.strip()


def _remove_worktree(repo: Path, path: Path) -> None:
    if path.exists() or path.is_symlink():
        _git(["worktree", "remove", "--force", "--force", str(path)], repo)
        if path.is_symlink() or path.is_file():
            path.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)
    _git(["worktree", "prune"], repo)


def _sweep_stale(folder: Path, prefix: str) -> None:
    """Remove ``prefix*`` temporary folders a crash left in ``folder`` (old ones only: a
    young one may be another process's build in progress)."""
    if not folder.is_dir():
        return
    now = time.time()
    for child in folder.iterdir():
        if child.name.startswith(prefix):
            try:
                old = now - child.lstat().st_mtime > _STALE_TMP_S
            except OSError:
                continue
            if old:
                shutil.rmtree(child, ignore_errors=True)


def clean_revisions(cache_dir: Path) -> int:
    """Remove the cached revision worktrees under ``<cache>/revisions`` and the cached
    dependency venvs under ``<cache>/venvs``: only folders named as this module names them
    (a commit id; a 16-hex key or a ``.tmp-`` build), so nothing else in those folders is
    touched. Each worktree also leaves its repository's worktree list (``git worktree
    remove``, then ``prune``); a repository that is gone leaves just the folder to delete.
    Returns the number of worktrees removed."""
    revisions = Path(cache_dir) / "revisions"
    venvs = Path(cache_dir) / "venvs"
    removed = 0
    for home in _children(revisions):
        if not _COMMIT_RE.match(home.name):
            continue
        tree = home / "tree"
        if (tree / ".git").is_file():
            common = _git(["rev-parse", "--path-format=absolute", "--git-common-dir"], tree)
            repo_git = Path(common.stdout.strip()) if common.returncode == 0 else None
            if repo_git is not None and repo_git.is_dir():
                _remove_worktree(repo_git.parent, tree)
            removed += 1
        shutil.rmtree(home, ignore_errors=True)
    for venv in _children(venvs):
        if _VENV_KEY_RE.match(venv.name) or venv.name.startswith(".tmp-"):
            shutil.rmtree(venv, ignore_errors=True)
    for folder in (revisions, venvs):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when nothing else is in it
    return removed


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def ensure_worktree(repo: Path, commit: str, cache_dir: Path) -> Path:
    """A detached worktree of ``commit`` at ``<cache>/revisions/<commit>/tree``, made with
    ``git worktree add --detach`` or reused when one is there, at that commit and without
    tracked changes. A half-made or stale folder is replaced: a new worktree is built under
    a temporary name and renamed into place (then ``git worktree repair``) only when
    complete."""
    if not _COMMIT_RE.match(commit):
        raise HarnessError(f"not a commit id: {commit!r}")
    home = Path(cache_dir) / "revisions" / commit
    final = home / "tree"
    if _is_worktree_at(final, commit):
        return final
    try:
        home.mkdir(parents=True, exist_ok=True)
        _sweep_stale(home, ".tmp-tree-")
        tmp = home / f".tmp-tree-{uuid.uuid4().hex}"
        added = _git(
            ["-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", str(tmp), commit],
            repo,
        )
        if added.returncode != 0:
            _remove_worktree(repo, tmp)
            raise HarnessError(
                f"git worktree add of {commit[:12]} failed in {repo}: "
                f"{one_line(added.stderr or added.stdout)}"
            )
        if (final.exists() or final.is_symlink()) and not _is_worktree_at(final, commit):
            _remove_worktree(repo, final)
        try:
            os.rename(tmp, final)
        except OSError:
            # Another process put a good one in place meanwhile: keep theirs.
            _remove_worktree(repo, tmp)
            if _is_worktree_at(final, commit):
                return final
            raise
        repaired = _git(["worktree", "repair", str(final)], repo)
        if repaired.returncode != 0 or not _is_worktree_at(final, commit):
            raise HarnessError(
                f"the worktree of {commit[:12]} at {final} is not usable: "
                f"{one_line(repaired.stderr) or 'not at that commit after the move'}"
            )
    except OSError as exc:
        raise HarnessError(
            f"cannot make the worktree of {commit[:12]} in {home}: {exc.strerror or exc}"
        ) from None
    return final


# ------------------------------------------------------------------- code under test


def is_uploadbench_repo(root: Path) -> bool:
    """Whether ``root`` is uploadbench's own repository (the bundled ``uploader`` is the
    code under test)."""
    return (root / "uploader" / "__init__.py").is_file() and (
        root / "harness" / "__init__.py"
    ).is_file()


def _plugin_name(spec: str) -> str | None:
    spec = spec.strip()
    if spec.startswith("cmd:") or ":" not in spec:
        return None  # an external command, or a built-in
    top = spec.partition(":")[0].split(".")[0].strip()
    return top if _NAME_RE.match(top) else None


def code_under_test(variant_specs: Sequence[str], *, uploadbench_repo: bool) -> tuple[str, ...]:
    """The top-level module names the variant specs make revision-aware (sorted): the
    plugins' top-level names, plus ``uploader`` in uploadbench's own repository. Specs are
    the specs the variants run (``[named_variants]`` resolved), not their names. ``cmd:``
    variants are external programs and not revision-aware; ``harness`` never is."""
    names = {n for n in map(_plugin_name, variant_specs) if n is not None}
    if uploadbench_repo:
        names.add("uploader")
    return tuple(sorted(names - _HARNESS_NAMES))


def _search_dirs(rel: Path) -> list[Path]:
    return list(dict.fromkeys([rel, Path("."), Path("src")]))


def _locate(tree: Path, rel: Path, name: str) -> Path | None:
    """Where ``import name`` finds ``name`` in ``tree``, Python's order within a folder: a
    regular package, a module, then a namespace package; first folder that has one wins."""
    for folder in _search_dirs(rel):
        base = tree / folder
        if (base / name / "__init__.py").is_file():
            return base / name
        if (base / f"{name}.py").is_file():
            return base / f"{name}.py"
        if (base / name).is_dir():
            return base / name
    return None


def _short_hash(obj: object) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _import_root(home: Path, targets: Mapping[str, Path]) -> Path:
    """``home/import-<hash>``: one symlink per entry of ``targets`` (link name -> target),
    made under a temporary name and renamed when complete, reused when there."""
    final = home / f"import-{_short_hash({k: str(v) for k, v in targets.items()})}"
    if final.is_dir() and sorted(p.name for p in final.iterdir()) == sorted(targets):
        return final
    try:
        home.mkdir(parents=True, exist_ok=True)
        _sweep_stale(home, ".tmp-import-")
        tmp = home / f".tmp-{final.name}-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            for link, target in targets.items():
                (tmp / link).symlink_to(target, target_is_directory=target.is_dir())
            if final.exists() or final.is_symlink():
                shutil.rmtree(final, ignore_errors=True)
            try:
                os.rename(tmp, final)
            except OSError:
                if not final.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise HarnessError(f"cannot make the import root {final}: {exc.strerror or exc}") from None
    return final


def _link_code(
    label: str, ref: str, tree: Path, rel: Path, names: Sequence[str], home: Path
) -> Path:
    targets: dict[str, Path] = {}
    for name in names:
        found = _locate(tree, rel, name)
        if found is None:
            where = ", ".join(str(tree / d) for d in _search_dirs(rel))
            raise HarnessError(
                f"{label} revision {ref!r} has no module {name!r} "
                f"(no {name}/ or {name}.py in {where})"
            )
        targets[found.name] = found
    return _import_root(home, targets)


def harness_root() -> Path | None:
    """The checkout the running harness comes from (the folder holding ``harness/``), or
    None when the harness is installed in site-packages (the interpreter finds it)."""
    root = Path(__file__).resolve().parents[2]
    if root.name in ("site-packages", "dist-packages"):
        return None
    return root


# ---------------------------------------------------------------------- dependencies


def _canonical(reqs: object, where: str) -> list[str]:
    if not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
        raise HarnessError(f"{where} must be a list of strings")
    return sorted({_canonical_req(r) for r in reqs if r.strip()})


def _canonical_req(req: str) -> str:
    # "numpy >= 1" is "numpy>=1": no space matters before the marker; in it, only one
    spec, semi, marker = req.partition(";")
    return "".join(spec.split()) + (f" ; {' '.join(marker.split())}" if semi else "")


def dependency_declarations(tree: Path, rel: Path = Path(".")) -> Declarations | None:
    """The canonical ``[project] dependencies`` and ``optional-dependencies`` of the
    ``pyproject.toml`` nearest above ``tree / rel``, within ``tree`` (None: no pyproject or
    no [project] table). Dependencies a pyproject lists as ``dynamic`` are not seen."""
    start = tree / rel
    folders = [start, *(p for p in start.parents if p == tree or tree in p.parents)]
    path = next((d / "pyproject.toml" for d in folders if (d / "pyproject.toml").is_file()), None)
    if path is None:
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HarnessError(f"cannot read {path}: {one_line(str(exc))}") from None
    project = data.get("project")
    if not isinstance(project, dict):
        return None
    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise HarnessError(f"{path}: [project.optional-dependencies] must be a table")
    return {
        "dependencies": _canonical(project.get("dependencies", []), f"{path}: dependencies"),
        "optional-dependencies": {
            str(extra): _canonical(reqs, f"{path}: optional-dependencies.{extra}")
            for extra, reqs in sorted(optional.items())
        },
    }


def dependency_hash(declarations: Declarations | None) -> str:
    """A stable hash of canonical declarations (order and spacing do not matter)."""
    return _short_hash(declarations)


def needs_own_venv(revision: Declarations | None, head: Declarations | None) -> bool:
    """Whether a revision needs its own venv: its declarations differ from head's and it
    declares something to install (without a dependency list there is nothing a venv on
    top of the current environment would add)."""
    if dependency_hash(revision) == dependency_hash(head):
        return False
    return revision is not None and bool(revision.get("dependencies"))


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


_SITE_DIRS_CODE = (
    "import json, site, sys\n"
    "dirs = list(site.getsitepackages())\n"
    "if site.ENABLE_USER_SITE: dirs.append(site.getusersitepackages())\n"
    "print(json.dumps([d for d in dirs if d]))\n"
)
_PURELIB_CODE = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


@dataclass(frozen=True)
class VenvBuilder:
    """The default :class:`BuildVenv`: ``python -m venv --system-site-packages`` plus a
    ``.pth`` that adds ``python``'s own site-packages (when ``python`` is itself a venv,
    as in development, ``--system-site-packages`` alone would only see the base
    interpreter's), then ``<venv>/bin/python -m pip install`` of the requirements: only
    what the current environment does not already satisfy is installed, into the venv,
    where it takes precedence.

    Real builds use pip's configured index (pip.conf, ``PIP_INDEX_URL``...) and so may
    download; ``no_index=True`` (or ``PIP_NO_INDEX=1``) never touches the network and
    succeeds only when everything is already satisfied, as the tests need."""

    no_index: bool = False
    pip_timeout_s: float = _PIP_TIMEOUT_S

    def __call__(self, target: Path, requirements: Sequence[str], python: str) -> None:
        self._run([python, "-m", "venv", "--system-site-packages", "--without-pip",
                   str(target)], "python -m venv", _VENV_TIMEOUT_S)  # fmt: skip
        vpy = str(_venv_python(target))
        parent_dirs = json.loads(self._run([python, "-c", _SITE_DIRS_CODE], "site", 60.0))
        purelib = Path(self._run([vpy, "-c", _PURELIB_CODE], "sysconfig", 60.0).strip())
        lines = [f"import site; site.addsitedir({d!r})\n" for d in parent_dirs]
        (purelib / "_uploadbench_parent_site.pth").write_text("".join(lines), encoding="utf-8")
        if not self._ok([vpy, "-c", "import pip"]):
            self._run([vpy, "-m", "ensurepip", "--default-pip"], "ensurepip", _VENV_TIMEOUT_S)
        if requirements:
            argv = [vpy, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
            if self.no_index:
                argv.append("--no-index")
            self._run([*argv, "--", *requirements], "pip install", self.pip_timeout_s)

    @staticmethod
    def _ok(argv: Sequence[str]) -> bool:
        try:
            done = subprocess.run(list(argv), check=False, capture_output=True, timeout=60.0)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    @staticmethod
    def _run(argv: Sequence[str], what: str, timeout_s: float) -> str:
        try:
            done = subprocess.run(
                list(argv),
                check=False,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise HarnessError(f"{what} took over {timeout_s:.0f} s") from None
        except OSError as exc:
            raise HarnessError(f"cannot run {what}: {exc.strerror or exc}") from None
        if done.returncode != 0:
            reason = one_line(done.stderr) or one_line(done.stdout) or f"exit {done.returncode}"
            raise HarnessError(f"{what} failed: {reason}")
        return done.stdout


def ensure_venv(
    cache_dir: Path,
    declarations: Declarations,
    python: str,
    *,
    build: BuildVenv,
    what: str = "a revision",
) -> str:
    """The interpreter of the venv for ``declarations`` on top of ``python``, at
    ``<cache>/venvs/<hash>`` (the hash of the declarations and of ``python``'s path), built
    by ``build`` once: under a temporary name, renamed when complete, so a failed build is
    never reused (the next run tries again). Only its interpreter is used, so the rename
    does not matter (the scripts it holds keep the temporary path)."""
    key = _short_hash({"declarations": declarations, "python": os.path.abspath(python)})
    venvs = Path(cache_dir) / "venvs"
    final = venvs / key
    if _venv_python(final).exists():
        return str(_venv_python(final))
    requirements = declarations.get("dependencies", [])
    assert isinstance(requirements, list)
    tmp = venvs / f".tmp-{key}-{uuid.uuid4().hex}"
    try:
        venvs.mkdir(parents=True, exist_ok=True)
        _sweep_stale(venvs, ".tmp-")
        try:
            build(tmp, [str(r) for r in requirements], python)
        except HarnessError as exc:
            raise HarnessError(f"building the venv of {what} failed: {exc}") from None
        if not _venv_python(tmp).exists():
            raise HarnessError(f"building the venv of {what} left no interpreter in {tmp}")
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)  # a folder without an interpreter
        try:
            os.rename(tmp, final)
        except OSError:
            if not _venv_python(final).exists():  # else another process built it meanwhile
                raise
    except OSError as exc:
        raise HarnessError(f"cannot make the venv {final}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(_venv_python(final))


# ---------------------------------------------------------------------------- both


def prepare_revisions(
    base: str,
    head: str | None,
    *,
    variant_specs: Sequence[str],
    repo: Path | None,
    cache_dir: Path,
    cwd: Path,
    python: str = sys.executable,
    build_venv: BuildVenv | None = None,
) -> tuple[Revision, Revision]:
    """Base and head, ready for their workers: commits resolved, worktrees and import roots
    made, interpreters chosen. ``head=None`` is the working tree of the repository holding
    ``repo`` (``--repo PATH``) or ``cwd``. Head always runs on ``python``; base too unless
    its declared dependencies differ from head's (:func:`needs_own_venv`), then on a venv
    that ``build_venv`` (default :class:`VenvBuilder`) makes once. Raises
    :class:`HarnessError` (a bad revision, not a repository, a module missing from a
    revision, a failed venv build)."""
    cwd = Path(cwd).resolve()
    top = find_repo(cwd, repo)
    try:
        rel = cwd.relative_to(top)
    except ValueError:
        rel = Path(".")
    names = code_under_test(variant_specs, uploadbench_repo=is_uploadbench_repo(top))
    if not names:
        raise HarnessError(
            f"--base compares revisions of the code under test, but the variants "
            f"({', '.join(variant_specs) or 'none'}) name none in {top}: built-ins come from "
            "the installed uploadbench and cmd: variants are external programs"
        )
    base_commit = resolve_rev(top, base, option="--base")
    head_commit = None if head is None else resolve_rev(top, head, option="--head")
    root = harness_root()
    revisions = Path(cache_dir) / "revisions"

    if head is None or head_commit is None:
        head_ref, head_tree = WORKING_TREE, top
        head_home = revisions / f"wt-{_short_hash(str(top))}"
        code_paths = [str(p.relative_to(top)) for n in names if (p := _locate(top, rel, n))]
        head_id, head_dirty = _head_state(top, code_paths)
    else:
        head_ref, head_id, head_dirty = head, head_commit, False
        head_tree = ensure_worktree(top, head_commit, cache_dir)
        head_home = revisions / head_commit
    base_tree = ensure_worktree(top, base_commit, cache_dir)
    # Every module is looked for before any venv is built: a missing one fails fast.
    head_import = _link_code("head", head_ref, head_tree, rel, names, head_home)
    base_import = _link_code("base", base, base_tree, rel, names, revisions / base_commit)

    base_python = python
    base_decl = dependency_declarations(base_tree, rel)
    if needs_own_venv(base_decl, dependency_declarations(head_tree, rel)):
        assert base_decl is not None
        base_python = ensure_venv(
            cache_dir, base_decl, python, build=build_venv or VenvBuilder(),
            what=f"base revision {base!r} ({base_commit[:12]})",
        )  # fmt: skip
    head_rev = Revision(
        label="head", ref=head_ref, commit=head_id, dirty=head_dirty, tree=head_tree,
        import_root=head_import, python=python, modules=names, harness_root=root, cwd=cwd,
    )  # fmt: skip
    base_rev = Revision(
        label="base", ref=base, commit=base_commit, dirty=False, tree=base_tree,
        import_root=base_import, python=base_python, modules=names, harness_root=root, cwd=cwd,
    )  # fmt: skip
    return base_rev, head_rev


def same_code_twice(*, cwd: Path, python: str = sys.executable) -> tuple[Revision, Revision]:
    """An A/A pair (``calibrate --paired``): base and head are both the code as it is in
    ``cwd``, imported as an ordinary run imports it (the current directory first), so
    their pairs measure the paired noise of this machine and nothing else. The commit is
    HEAD's when ``cwd`` is in a git repository, else None."""
    cwd = Path(cwd).resolve()
    try:
        commit, dirty = _head_state(find_repo(cwd), [])
    except HarnessError:
        commit, dirty = None, False
    return tuple(  # type: ignore[return-value]
        Revision(
            label=label,
            ref=WORKING_TREE,
            commit=commit,
            dirty=dirty,
            tree=cwd,
            import_root=cwd,
            python=python,
            modules=(),
            harness_root=harness_root(),
            cwd=cwd,
        )
        for label in ("base", "head")
    )
