"""The CLI shell: exit codes and one-line errors, without running any command's work."""

from __future__ import annotations

import argparse

import pytest

from harness import cli
from harness.commands.options import EXIT_CODES, EXIT_CODES_HELP, exit_codes_help
from harness.errors import EXIT_ERROR, ScenarioError


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == EXIT_ERROR
    assert "usage: uploadbench" in capsys.readouterr().out


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out
    for code in ("0 ok", "1 ", "2 usage", "3 inconclusive", "130 interrupted"):
        assert code in " ".join(out.split()), code


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == EXIT_ERROR
    assert "invalid choice" in capsys.readouterr().err


def test_scenario_error_names_file_and_field() -> None:
    err = ScenarioError("scenarios/x.toml", "files.count", "must be an integer >= 1, got -3")
    assert str(err) == "scenarios/x.toml: files.count: must be an integer >= 1, got -3"
    assert err.exit_code == EXIT_ERROR


def test_every_registered_command_module_provides_a_command() -> None:
    for name in cli.COMMANDS:
        command = cli._load(name)
        assert command.name == name
        assert command.help


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


# The codes each command can return; report's verdict sentence names them all.
COMMAND_EXIT_CODES: dict[str, tuple[int, ...]] = {
    "run": tuple(EXIT_CODES),
    "compare": tuple(EXIT_CODES),
    "report": tuple(EXIT_CODES),
    "calibrate": (0, 2, 130),
    "bisect": (0, 2, 3, 130),
    "mock": (0, 2, 130),
    "merge": (0, 2),
    "validate": (0, 2),
    "list": (0, 2),
}


def test_every_option_of_every_command_has_help_and_every_epilog_lists_exit_codes() -> None:
    assert set(COMMAND_EXIT_CODES) == set(cli.COMMANDS)
    missing = []
    for name in cli.COMMANDS:
        parser = cli.command_parser(name)
        assert parser.epilog is not None, name
        # each epilog lists its codes from the one table (options.EXIT_CODES)
        assert parser.epilog.endswith(exit_codes_help(*COMMAND_EXIT_CODES[name])), name
        for action in _options(parser):
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"options without help text: {', '.join(missing)}"


def test_exit_codes_help_is_built_from_the_one_table() -> None:
    assert exit_codes_help(*EXIT_CODES) == EXIT_CODES_HELP
    assert exit_codes_help(0, 2) == f"exit codes: 0 {EXIT_CODES[0]}; 2 {EXIT_CODES[2]}"
    assert "1 " not in exit_codes_help(0, 2).removeprefix("exit codes: ")
