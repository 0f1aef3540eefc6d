"""The CLI shell: exit codes and one-line errors, without running any command's work."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness import cli
from harness.errors import EXIT_ERROR, ScenarioError


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == EXIT_ERROR
    assert "usage: uploadbench" in capsys.readouterr().out


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out
    assert "Exit codes" in out


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


def test_module_entry_point_runs_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "no-such-command"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == EXIT_ERROR
    assert "Traceback" not in proc.stderr
