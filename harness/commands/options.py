"""The command-line vocabulary every command shares: one spelling, one default, one help
text for each option that more than one command takes.

- ``--reports DIR``: the reports folder (runs, ``latest``, ``history/``); default
  ``reports``. A RUN given as a path (a run folder, ``DIR/latest`` or a ``results.json``)
  brings its own reports folder along: the folder that holds the run.
- ``--against history|RUN|none``: what a run is compared with; default ``history`` for
  every command (``none`` gates on thresholds and data integrity only).
- ``--seed N``: the seed of what is *measured* (mock, faults, jitter); the statistics'
  resampling seed is ``--bootstrap-seed``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.results import LATEST_LINK, RESULTS_FILE, atomic_write_text, resolve_results_path

__all__ = [
    "AGAINST_DEFAULT",
    "AGAINST_HELP",
    "EXIT_CODES",
    "EXIT_CODES_HELP",
    "REPORTS_DEFAULT",
    "RUN_HELP",
    "RunLocation",
    "add_against",
    "add_bootstrap_seed",
    "add_reports",
    "exit_codes_help",
    "locate_run",
    "parse_shard",
    "write_export",
]

REPORTS_DEFAULT = Path("reports")
AGAINST_DEFAULT = "history"
RUN_HELP = "a run: its folder, DIR/latest, a results.json, a run id or 'latest' (under --reports)"
AGAINST_HELP = (
    "compare with the reports folder's history (default), another RUN, "
    "or none (thresholds and data integrity only)"
)
# The one table of exit codes -> meaning: every command's --help lists its codes from it.
EXIT_CODES: dict[int, str] = {
    0: "ok",
    1: "a threshold failed, a regression is confirmed or data was lost",
    2: "usage, scenario or harness error",
    3: "inconclusive (too few samples or too much noise to decide)",
    130: "interrupted (a run keeps its finished trials)",
}


def exit_codes_help(*codes: int) -> str:
    """The epilog line for a command that can return only ``codes`` (from EXIT_CODES)."""
    return "exit codes: " + "; ".join(f"{code} {EXIT_CODES[code]}" for code in codes)


# Every code: run and compare (which gate) and the top-level --help.
EXIT_CODES_HELP = exit_codes_help(*EXIT_CODES)


def add_reports(parser: argparse.ArgumentParser) -> None:
    """``--reports DIR``, the one name of the reports folder in every command."""
    parser.add_argument(
        "--reports",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"reports folder: runs, 'latest' and history/ (default: {REPORTS_DEFAULT}, or "
        "the folder that holds a RUN given as a path)",
    )


def add_against(parser: argparse.ArgumentParser) -> None:
    """``--against history|RUN|none`` with the same default everywhere."""
    parser.add_argument(
        "--against", default=AGAINST_DEFAULT, metavar="history|RUN|none", help=AGAINST_HELP
    )


def add_bootstrap_seed(parser: argparse.ArgumentParser) -> None:
    """``--bootstrap-seed``: the seed of the statistics' resampling (not of measurements)."""
    parser.add_argument(
        "--bootstrap-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the bootstrap resampling behind confidence intervals (default 0)",
    )


@dataclass(frozen=True)
class RunLocation:
    """Where a run's ``results.json`` is and which reports folder (history) goes with it."""

    results: Path
    reports: Path


def locate_run(ref: str | Path, reports: Path | None = None) -> RunLocation:
    """Resolve RUN. An explicit ``reports`` wins; otherwise a RUN given as a path brings its
    own reports folder (``DIR/latest`` and ``DIR/<run-id>`` -> ``DIR``; ``.../results.json``
    -> the folder above its run folder), and ``latest`` or a bare run id use ``reports/``."""
    text = str(ref)
    base = reports if reports is not None else REPORTS_DEFAULT
    if text == LATEST_LINK or (not Path(text).exists() and (base / text).is_dir()):
        return RunLocation(resolve_results_path(text, reports_dir=base), base)
    path = Path(text)
    results = path / RESULTS_FILE if path.is_dir() else path
    # The run folder is results.parent, taken without resolving links: DIR/latest -> DIR.
    owner = results.parent.parent if results.parent != Path() else Path("..")
    return RunLocation(results, reports if reports is not None else owner)


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``; argparse turns the ValueError into a usage error."""
    k_text, sep, n_text = text.partition("/")
    try:
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N such as 1/2, got {text!r}") from None
    if not sep or n < 1 or not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, got {text!r}")
    return k, n


def write_export(target: str, text: str) -> None:
    """An export (``--markdown``, ``--junit``...): ``-`` is stdout; anything else is
    replaced atomically (written last, at the edge)."""
    if target == "-":
        sys.stdout.write(text)
    else:
        atomic_write_text(Path(target), text)
