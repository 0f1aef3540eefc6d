"""``uploadbench list [DIR]``: the scenarios under ``DIR`` (default ``scenarios/``) with
their description and trial count, then the built-in variants and switches, the HTTP and
network fault catalogs (:mod:`harness.faults`), the network presets (round trip, bandwidth
each way, jitter: :data:`harness.faults.network.NETWORK_PRESETS`) and TLS choices, and the
metrics with unit and definition (:data:`harness.metrics.METRIC_TABLE`). Everything goes to
stdout."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path

from harness.commands.options import exit_codes_help
from harness.commands.validate import printable, scenario_files
from harness.errors import EXIT_ERROR, EXIT_OK, ScenarioError
from harness.faults import (
    COMMON_FAULT_PARAMS,
    COMMON_NETWORK_PARAMS,
    FAULT_TYPES,
    NETWORK_FAULT_TYPES,
    RENAMED,
    network_fault_summary,
)
from harness.faults.network import NETWORK_KEYS, NETWORK_PRESETS
from harness.metrics import METRIC_TABLE
from harness.plan import plan_trials
from harness.scenario import load_scenario
from harness.scenario.load import TLS_CHOICES
from uploader.api import Fixes
from uploader.variants import BUILTIN_VARIANTS

__all__ = ["COMMAND", "ListCommand"]

DEFAULT_DIR = Path("scenarios")

# What each choice of a scenario's ``tls`` costs a new connection before its first request
# byte (the round trips the network profile makes it pay).
TLS_TEXT = {
    "off": "plain HTTP (the default): a new connection pays 1 RTT (TCP)",
    "1.2": "TLS 1.2: a new connection pays 3 RTT (TCP + a two-round-trip handshake)",
    "1.3": "TLS 1.3, as the real providers: a new connection pays 2 RTT (TCP + TLS)",
}


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


def _catalog_lines(
    common: Mapping[str, str], types: Mapping[str, Mapping[str, str]], summary: Callable[[str], str]
) -> list[str]:
    lines: list[str] = []
    for kind, params in types.items():
        about = summary(kind)
        lines.append(f"  {kind}" + (f": {about}" if about else ""))
        lines.extend(f"      {name}: {text}" for name, text in params.items())
        if not params:
            lines.append("      (no parameters)")
    lines.append("  every fault also takes:")
    lines.extend(f"      {name}: {text}" for name, text in common.items() if name != "type")
    return lines


def _rate(bytes_per_s: float | None) -> str:
    if bytes_per_s is None:
        return "no limit"
    bits = bytes_per_s * 8
    return f"{bits / 1e6:g} Mbit/s" if bits >= 1e6 else f"{bits / 1e3:g} kbit/s"


def _network_lines() -> list[str]:
    lines = []
    for name, p in NETWORK_PRESETS.items():
        lines.append(
            f"  {name}: RTT {p.rtt_ms:g} ms, up {_rate(p.up_bytes_per_s)}, "
            f"down {_rate(p.down_bytes_per_s)}, jitter {p.jitter_ms:g} ms"
        )
        if p.source:
            lines.append(f"      {p.source}")
    lines.append("  or a table (custom):")
    lines.extend(f"      {key}: {text}" for key, text in NETWORK_KEYS.items())
    return lines


def _tls_lines() -> list[str]:
    return [f'  "{choice}": {TLS_TEXT[choice]}' for choice in TLS_CHOICES]


def _metric_lines() -> list[str]:
    lines = []
    for m in METRIC_TABLE:
        unit = f" [{m.base_unit}]" if m.base_unit else ""
        better = "higher is better" if m.higher_is_better else "lower is better"
        aliases = f"; aliases: {', '.join(m.aliases)}" if m.aliases else ""
        lines.append(f"  {m.name}{unit} ({m.kind}, {better}{aliases})")
        lines.append(f"      {m.definition}")
    return lines


class ListCommand:
    name = "list"
    help = "list scenarios, variants and faults"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.epilog = exit_codes_help(0, 2)
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
        out.append(
            '  name a cmd: or plugin spec once in [named_variants] (curl = "cmd:...") and '
            "use the name in variants, baseline, thresholds and allow_data_loss"
        )
        out.append("")
        out.append("HTTP faults (mock provider, [[faults]]):")
        out.extend(_catalog_lines(COMMON_FAULT_PARAMS, FAULT_TYPES, lambda _: ""))
        out.append("")
        out.append("Network faults (fault proxy, [[network_faults]]):")
        out.extend(
            _catalog_lines(COMMON_NETWORK_PARAMS, NETWORK_FAULT_TYPES, network_fault_summary)
        )
        out.append("")
        out.append(
            'Network profiles (network = "NAME", applied by the fault proxy to every '
            "connection; up = client to provider):"
        )
        out.extend(_network_lines())
        out.append("")
        out.append('TLS (tls = "..."; the mock serves HTTPS with a CA made for the run):')
        out.extend(_tls_lines())
        out.append("")
        out.append(
            "Renamed fault parameters (old names are refused): "
            + ", ".join(f"{old} -> {new}" for old, new in RENAMED.items())
        )
        out.append("")
        out.append("Metrics (thresholds: NAME.METRIC OP VALUE, NAME/BASELINE.METRIC OP VALUEx):")
        out.extend(_metric_lines())
        print("\n".join(out))
        return EXIT_ERROR if bad else EXIT_OK


COMMAND = ListCommand()
