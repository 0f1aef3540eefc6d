"""run, compare and calibrate speak one CLI vocabulary (harness.commands.options): every
option has help text, ``--help`` lists the exit codes it can return, ``--against``
defaults to history, ``--reports`` names the reports folder, ``--seed`` and
``--bootstrap-seed`` are split."""

from __future__ import annotations

import argparse

import pytest

from harness.commands import calibrate, compare, run
from harness.commands.options import AGAINST_DEFAULT, EXIT_CODES_HELP, exit_codes_help

COMMANDS = {"run": run.COMMAND, "compare": compare.COMMAND, "calibrate": calibrate.COMMAND}


def parser_of(name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"uploadbench {name}")
    COMMANDS[name].configure(parser)
    return parser


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help_and_help_lists_the_exit_codes(name: str) -> None:
    parser = parser_of(name)
    # run and compare gate (every code); calibrate only reports noise: 0, 2 or 130
    assert parser.epilog == (exit_codes_help(0, 2, 130) if name == "calibrate" else EXIT_CODES_HELP)
    assert "130" in parser.format_help()
    for action in parser._actions:
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
    flags = {flag for action in parser._actions for flag in action.option_strings}
    assert "--reports" in flags
    assert "--out" not in flags
    assert "--bootstrap-seed" in flags


@pytest.mark.parametrize("name", ["run", "compare"])
def test_against_defaults_to_history(name: str) -> None:
    assert parser_of(name).get_default("against") == AGAINST_DEFAULT == "history"


def test_compare_seeds_are_split_by_meaning() -> None:
    args = parser_of("compare").parse_args(["latest", "--seed", "5", "--bootstrap-seed", "7"])
    assert (args.seed, args.bootstrap_seed) == (5, 7)
