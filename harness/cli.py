"""The ``uploadbench`` command line.

Each subcommand is a small object in its own module under :mod:`harness.commands`
(memray's layout): it declares its arguments and runs, returning an exit code. Modules are
imported only when their command is chosen, so ``uploadbench mock`` does not pay for pandas.
Only :func:`main` exits; library code raises :class:`harness.errors.UploadbenchError`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol

from harness.commands.options import EXIT_CODES_HELP
from harness.errors import EXIT_ERROR, EXIT_INTERRUPTED, UploadbenchError

__all__ = ["COMMANDS", "Command", "command_parser", "main"]


class Command(Protocol):
    """What every ``harness.commands.<name>.COMMAND`` provides."""

    name: str
    help: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# name -> (module, one-line help). The module defines COMMAND, an object of the protocol above.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("harness.commands.run", "run scenarios and write reports/<run-id>/"),
    "merge": ("harness.commands.merge", "merge shards of one run into one results.json"),
    "compare": ("harness.commands.compare", "compare a run with history or another run"),
    "report": ("harness.commands.report", "render the HTML report of a run"),
    "calibrate": ("harness.commands.calibrate", "estimate noise with A/A runs"),
    "bisect": ("harness.commands.bisect", "find the commit that made it slower"),
    "mock": ("harness.commands.mock", "serve the mock provider on 127.0.0.1"),
    "validate": ("harness.commands.validate", "check scenario files"),
    "list": ("harness.commands.list", "list scenarios, variants and faults"),
}


def _load(name: str) -> Command:
    module_name, _ = COMMANDS[name]
    module = importlib.import_module(module_name)
    command: Command = module.COMMAND
    return command


def _parser() -> tuple[
    argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]
]:
    parser = argparse.ArgumentParser(
        prog="uploadbench",
        description="Benchmark and regression harness for file-upload clients.",
        epilog=EXIT_CODES_HELP,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser, sub


def _add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str
) -> argparse.ArgumentParser:
    # Every command's --help ends with the exit codes it can return (its configure sets the
    # epilog from options.EXIT_CODES): CI scripts branch on them.
    help_text = COMMANDS[name][1]
    return sub.add_parser(name, help=help_text, description=help_text)


def command_parser(name: str) -> argparse.ArgumentParser:
    """The fully configured parser of command ``name``, as ``uploadbench NAME`` builds it."""
    _, sub = _parser()
    parser = _add_command(sub, name)
    _load(name).configure(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns (and, as a script, exits with) a code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, sub = _parser()
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    for name in COMMANDS:
        sub_parser = _add_command(sub, name)
        if name == chosen:
            try:
                _load(name).configure(sub_parser)
            except ModuleNotFoundError as exc:
                if exc.name != COMMANDS[name][0]:
                    raise
                sub_parser.error(f"'{name}' is not available in this build")
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse already printed a one-line usage error
        return int(exc.code or 0) and EXIT_ERROR
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        return _load(args.command).run(args)
    except UploadbenchError as err:
        print(f"uploadbench: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("uploadbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
