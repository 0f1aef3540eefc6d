"""``uploadbench list [DIR]``: the scenarios under ``DIR`` (default ``scenarios/``) with
their description and trial count, then the built-in variants and switches, the HTTP fault
types of the mock provider, the network fault types and the threshold metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.validate import printable, scenario_files
from harness.errors import EXIT_ERROR, EXIT_OK, ScenarioError
from harness.faultproxy import NETWORK_FAULT_TYPES
from harness.plan import plan_trials
from harness.scenario import load_scenario
from harness.thresholds import METRIC_ALIASES, METRICS
from uploader.api import Fixes
from uploader.variants import BUILTIN_VARIANTS

__all__ = ["COMMAND", "ListCommand"]

DEFAULT_DIR = Path("scenarios")


def _scenario_lines(folder: Path) -> tuple[list[str], int]:
    lines: list[str] = []
    bad = 0
    for path, problem in scenario_files([folder]):
        if problem is None:
            try:
                scenario = load_scenario(path)
            except ScenarioError as err:
                problem = err
        if problem is not None:
            bad += 1
            lines.append(f"  INVALID  {printable(str(problem))}")
            continue
        trials = len(plan_trials([scenario]))
        shown = path.relative_to(folder).as_posix()
        lines.append(f"  {printable(scenario.name)}  ({trials} trials, {shown})")
        if scenario.description:
            lines.append(f"      {printable(scenario.description)}")
    return lines, bad


def _http_fault_lines() -> list[str]:
    # imported here: the mock pulls in aiohttp, which listing scenarios does not need
    from harness.mockprovider import FAULT_TYPES

    lines = []
    for kind, params in FAULT_TYPES.items():
        lines.append(f"  {kind}: {', '.join(params) or '(no parameters)'}")
    lines.append("  (every fault also takes rate, target = {provider, method, route}, max_count)")
    return lines


class ListCommand:
    name = "list"
    help = "list scenarios, variants and faults"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "dir",
            nargs="?",
            type=Path,
            default=None,
            metavar="DIR",
            help=f"folder of scenario files (default: {DEFAULT_DIR}/)",
        )

    def run(self, args: argparse.Namespace) -> int:
        folder: Path = args.dir if args.dir is not None else DEFAULT_DIR
        out: list[str] = []
        bad = 0
        if folder.is_dir():
            out.append(f"Scenarios in {printable(str(folder))}/:")
            lines, bad = _scenario_lines(folder)
            out.extend(lines)
        elif args.dir is not None:
            raise ScenarioError(str(folder), "", "no such folder")
        else:
            out.append(f"Scenarios: no {folder}/ folder here")
        out.append("")
        out.append("Variants:")
        out.extend(f"  {name}: {text}" for name, text in BUILTIN_VARIANTS.items())
        out.append(
            "  async[SWITCH=off,...]: the reference with fixes off; "
            f"switches: {', '.join(Fixes.names())}"
        )
        out.append(
            "  cmd:TEMPLATE: an external command per file, "
            "e.g. cmd:curl -sf --data-binary @{path} {url}"
        )
        out.append("  package.module:attr: your own uploader (sync or async upload_many)")
        out.append("")
        out.append("HTTP faults (mock provider, [[faults]]):")
        out.extend(_http_fault_lines())
        out.append("")
        out.append("Network faults (fault proxy, [[network_faults]]):")
        out.extend(f"  {kind}: {text}" for kind, text in NETWORK_FAULT_TYPES.items())
        out.append("  (every network fault also takes rate and direction = up | down | both)")
        out.append("")
        out.append("Threshold metrics:")
        out.append(f"  {', '.join(METRICS)}")
        out.append(f"  aliases: {', '.join(f'{a}={m}' for a, m in METRIC_ALIASES.items())}")
        print("\n".join(out))
        return EXIT_ERROR if bad else EXIT_OK


COMMAND = ListCommand()
