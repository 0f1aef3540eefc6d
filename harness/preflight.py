"""Before any trial: can every variant run at all?

A plugin whose module does not import, or has no ``upload_many``, and a ``cmd:`` variant
whose program does not exist, would otherwise show up as a run of failed trials (a missing
program even as "ok" trials full of connection errors). Both are configuration mistakes,
not measurements: :func:`variant_problems` finds them, ``uploadbench validate`` prints them
and :func:`check_variants` (called by the runner before the first trial) stops the run with
one line naming the scenario file and the variant, exit code 2.

The checks look where the worker will look: a plugin is imported with the current
directory first on ``sys.path`` (the worker runs as ``python -m harness.worker`` from the
same directory, with the same ``PYTHONPATH``), and a program is found like the shell finds
it (``PATH``, or a path with a ``/`` relative to the current directory).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shlex
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from harness.errors import ScenarioError
from harness.scenario import Scenario
from uploader import parse_variant

__all__ = ["check_variants", "variant_problems"]

_LABEL_LIMIT = 80


def variant_problems(
    scenario: Scenario,
    names: Iterable[str] | None = None,
    *,
    search_path: Sequence[str] | None = None,
    where: str = "",
) -> list[ScenarioError]:
    """One error per variant of ``scenario`` (or of ``names``) that cannot run. A plugin is
    imported as the worker will: from the current directory, or, for a revision of a
    base-and-head run, from ``search_path`` (its import root first, :mod:`harness.rig.
    revisions`); ``where`` ("in revision base (main)") is added to the message."""
    problems = []
    for name in scenario.variants if names is None else names:
        spec = scenario.spec_of(name)
        with _as_the_worker_sees_it(search_path):
            problem = _problem(spec)
        if problem is not None and where:
            problem += f" {where}"
        if problem is not None:
            source = str(scenario.path) if scenario.path is not None else scenario.name
            problems.append(ScenarioError(source, "variants", f"{_label(name, spec)} {problem}"))
    return problems


def check_variants(
    scenarios: Iterable[tuple[Scenario, Iterable[str]]],
    *,
    search_paths: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Raise the first problem of the variants that are about to run (one line); the rest
    are counted in it, ``uploadbench validate`` lists them all. ``search_paths`` (revision
    label -> its workers' import path) checks each revision of a base-and-head run where
    its workers will import it, instead of the current directory."""
    pairs = [(scenario, list(names)) for scenario, names in scenarios]
    if search_paths:
        problems = [
            p
            for label, path in search_paths.items()
            for scenario, names in pairs
            for p in variant_problems(
                scenario, names, search_path=path, where=f"(revision {label})"
            )
        ]
    else:
        problems = [p for scenario, names in pairs for p in variant_problems(scenario, names)]
    if not problems:
        return
    first = problems[0]
    if len(problems) > 1:
        more = f" (and {len(problems) - 1} more; see uploadbench validate)"
        raise ScenarioError(first.file, first.field, first.problem + more)
    raise first


def _label(name: str, spec: str) -> str:
    shown = spec if len(spec) <= _LABEL_LIMIT else spec[: _LABEL_LIMIT - 3] + "..."
    return f"{name!r}" if name == spec and len(spec) <= _LABEL_LIMIT else f"{name!r} ({shown})"


def _problem(spec: str) -> str | None:
    try:
        parsed = parse_variant(spec)
    except ValueError as exc:
        return f"is not a variant: {exc}"
    if parsed.kind == "cmd":
        return _command_problem(parsed.name)
    if parsed.kind == "import":
        return _plugin_problem(parsed.name)
    return None  # a built-in: part of this package


def _command_problem(template: str) -> str | None:
    try:
        argv = shlex.split(template)
    except ValueError as exc:
        return f"cannot be split into a command: {exc}"
    if not argv:
        return "has an empty command"
    program = argv[0]
    if "{" in program:
        return None  # the program itself is a placeholder: known only per file
    if "/" in program:
        path = Path(program)
        if not path.is_file():
            return f"cannot run: program {program!r} does not exist"
        if not os.access(path, os.X_OK):
            return f"cannot run: program {program!r} is not executable"
        return None
    if shutil.which(program) is None:
        return f"cannot run: program {program!r} is not on PATH"
    return None


IMPORT_HINT = (
    "the worker imports from the current directory and PYTHONPATH: run from the folder "
    "that holds the package, or add it to PYTHONPATH"
)


def _plugin_problem(name: str) -> str | None:
    module_name, _, attr_path = name.partition(":")
    # where the import looks is set by the caller's _as_the_worker_sees_it
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error of user code at import time
        where = "" if module_name in str(exc) else f" {module_name!r}"
        problem = f"cannot import{where}: {type(exc).__name__}: {_first_line(exc)}"
        # The plugin's own package is not found (not a module it imports in turn).
        missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            problem += f" ({IMPORT_HINT})"
        return problem
    obj: object = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            return f"cannot run: module {module_name!r} has no attribute {attr_path!r}"
        obj = getattr(obj, part)
    if hasattr(obj, "upload_many"):
        if not callable(obj.upload_many):
            return f"cannot run: {attr_path}.upload_many is not a method"
        return None
    if isinstance(obj, type) or not callable(obj):
        return (
            f"cannot run: {attr_path} has no upload_many(files, target, settings) method "
            "(see docs/plugins.md)"
        )
    # A factory: the worker calls it with no arguments, so call it the same way.
    try:
        made = obj()
    except Exception as exc:
        return f"cannot run: calling {attr_path}() failed: {type(exc).__name__}: {exc}"
    if not callable(getattr(made, "upload_many", None)):
        return f"cannot run: {attr_path}() returns an object without upload_many"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no message"


@contextlib.contextmanager
def _as_the_worker_sees_it(search_path: Sequence[str] | None = None) -> Iterator[None]:
    # ``python -m`` puts the current directory first on sys.path; a console script does
    # not. A revision's worker (``python -P``) looks in its import path instead, and each
    # revision must import its own code: what a revision's check imported is forgotten
    # afterwards. A plugin that prints while importing must not write into our stdout.
    first = list(search_path) if search_path is not None else [os.getcwd()]
    added = [p for p in first if p not in sys.path]
    before = set(sys.modules)
    sys.path[:0] = added
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for path in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(path)
        if search_path is not None:
            for name in set(sys.modules) - before:
                del sys.modules[name]
            importlib.invalidate_caches()
