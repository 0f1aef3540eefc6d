"""``python -m harness.mockprovider [--port 0] ...``: the same as ``uploadbench mock``."""

import sys

from harness.cli import main

sys.exit(main(["mock", *sys.argv[1:]]))
