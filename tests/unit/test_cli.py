"""The CLI shell: exit codes and one-line errors, without running any command's work."""

from __future__ import annotations

import argparse

import pytest

from harness import cli
from harness.commands.options import EXIT_CODES_HELP
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


def test_every_option_of_every_command_has_help_and_every_epilog_lists_exit_codes() -> None:
    missing = []
    for name in cli.COMMANDS:
        parser = cli.command_parser(name)
        assert parser.epilog is not None, name
        assert parser.epilog.endswith(EXIT_CODES_HELP), name
        for action in _options(parser):
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"options without help text: {', '.join(missing)}"
