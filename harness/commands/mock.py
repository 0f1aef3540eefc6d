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
        from harness.mockprovider.serve import add_arguments

        add_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        from harness.mockprovider.serve import serve

        return serve(args)


COMMAND = MockCommand()
