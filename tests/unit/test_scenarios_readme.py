"""scenarios/README.md: its complete example loads with no warning (so a copy-paste run ends
in a decision), and no TOML snippet uses a renamed fault parameter."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from harness.faults import RENAMED
from harness.plan import plan_trials
from harness.scenario import scenario_from_dict

README = Path(__file__).resolve().parents[2] / "scenarios" / "README.md"
_TOML_BLOCK = re.compile(r"```toml\n(.*?)```", re.S)


def _complete_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## A complete example", 1)[1]
    match = _TOML_BLOCK.search(section)
    assert match is not None, "no ```toml block under '## A complete example'"
    return match.group(1)


def test_the_complete_example_validates_without_warnings() -> None:
    scenario = scenario_from_dict(tomllib.loads(_complete_example()), source="README example")
    assert scenario.warnings == ()
    assert scenario.thresholds, "the example shows thresholds"
    assert plan_trials([scenario])


def test_no_snippet_uses_an_old_fault_parameter_name() -> None:
    for block in _TOML_BLOCK.findall(README.read_text(encoding="utf-8")):
        for old in RENAMED:
            assert not re.search(rf"^\s*{old}\s*=", block, re.M), (old, block)
