"""``uploadbench validate FILE...``: check scenario files (or folders of them).

Prints ``ok NAME (N trials)`` per good file on stdout, one line per warning (a threshold that
can never be decided) and one line per problem on stderr:
a bad file, or a variant that cannot run (a plugin that does not import or has no
``upload_many``, a ``cmd:`` program that does not exist; :mod:`harness.preflight`).
Exits 2 if there is any problem. Nothing is run and no server is started.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.commands.options import exit_codes_help
from harness.errors import EXIT_ERROR, EXIT_OK, ScenarioError
from harness.plan import plan_trials
from harness.preflight import variant_problems
from harness.scenario import Scenario, load_scenario

__all__ = ["COMMAND", "ValidateCommand", "printable", "scenario_files"]


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a hostile name stays on one line and
    cannot drive the terminal."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def scenario_files(paths: list[Path]) -> list[tuple[Path, ScenarioError | None]]:
    """Expand folders to their ``*.toml`` files (sorted); a missing path or an empty folder
    comes back with its error."""
    out: list[tuple[Path, ScenarioError | None]] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.rglob("*.toml"), key=lambda p: p.relative_to(path).as_posix())
            if not found:
                out.append((path, ScenarioError(str(path), "", "no *.toml scenario files here")))
            out.extend((p, None) for p in found)
        elif path.exists():
            out.append((path, None))
        else:
            out.append((path, ScenarioError(str(path), "", "no such file or directory")))
    return out


class ValidateCommand:
    name = "validate"
    help = "check scenario files"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.epilog = exit_codes_help(0, 2)
        parser.add_argument(
            "files",
            nargs="+",
            type=Path,
            metavar="FILE",
            help="scenario .toml files, or folders searched for *.toml",
        )

    def run(self, args: argparse.Namespace) -> int:
        bad = 0
        names: dict[str, Path] = {}
        for path, problem in scenario_files(args.files):
            scenario: Scenario | None = None
            if problem is None:
                try:
                    scenario = load_scenario(path)
                except ScenarioError as err:
                    problem = err
            if scenario is not None and scenario.name in names:
                problem = ScenarioError(
                    str(path),
                    "name",
                    f"{scenario.name!r} is also the name of {names[scenario.name]}",
                )
            if problem is not None or scenario is None:
                bad += 1
                print(f"uploadbench: error: {printable(str(problem))}", file=sys.stderr)
                continue
            names[scenario.name] = path
            cannot_run = variant_problems(scenario)
            for problem in cannot_run:
                print(f"uploadbench: error: {printable(str(problem))}", file=sys.stderr)
            if cannot_run:
                bad += 1
                continue
            trials = len(plan_trials([scenario]))
            print(f"ok {printable(scenario.name)} ({trials} trials)")
            # Valid, but something in it can never be decided (memory_slope without a
            # sweep, heap_peak without profiling): say so now, not after the run.
            for warning in scenario.warnings:
                print(f"uploadbench: warning: {printable(warning)}", file=sys.stderr)
        return EXIT_ERROR if bad else EXIT_OK


COMMAND = ValidateCommand()
