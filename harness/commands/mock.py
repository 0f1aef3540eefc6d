"""``uploadbench mock``: serve the mock provider on 127.0.0.1."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

__all__ = ["COMMAND", "MockCommand"]


@dataclass(frozen=True)
class MockCommand:
    name: str = "mock"
    help: str = "serve the mock provider on 127.0.0.1 (prints its base URL when ready)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        from harness.commands.options import exit_codes_help
        from harness.mockprovider.serve import add_arguments

        # Ctrl-C or SIGTERM stops a serving mock cleanly (0); 130 only while it starts.
        parser.epilog = "Ctrl-C or SIGTERM stops the mock with 0. " + exit_codes_help(0, 2, 130)
        add_arguments(parser)
        # the shared options' wording: N for numbers, every default said
        for action in parser._actions:
            if action.dest == "port":
                action.metavar = "N"
                action.help = "TCP port (default 0: a free port, printed in the URL)"
            elif action.dest == "seed":
                action.metavar = "N"

    def run(self, args: argparse.Namespace) -> int:
        from harness.mockprovider.serve import serve

        return serve(args)


COMMAND = MockCommand()
