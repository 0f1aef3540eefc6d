"""One module per ``uploadbench`` subcommand; see :mod:`harness.cli`."""
