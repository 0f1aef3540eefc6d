"""``uploadbench validate`` and ``uploadbench list`` as a user runs them: a subprocess.

Each bad file gives exactly one line on stderr naming file, field and what is allowed,
exit code 2, and never a traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from harness.scenario import scenario_from_dict

GOOD = """\
name = "good"
description = "two variants"
variants = ["sync", "async"]
concurrency = [1, 4]
repeats = 2
warmups = 1
thresholds = ["async.timeout_rate < 1%"]

[files]
count = 2
sizes = ["64KiB"]
"""


def uploadbench(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


BAD = {
    "unknown-key": (
        GOOD.replace("repeats = 2", "repeats = 2\ncolour = 'red'"),
        "colour: unknown key; allowed: name",
    ),
    "bad-unit": (
        GOOD.replace('"64KiB"', '"64 parsecs"'),
        "files.sizes[0]: unknown size unit 'parsecs'",
    ),
    "negative-count": (
        GOOD.replace("count = 2", "count = -3"),
        "files.count: must be an integer between 1 and 100000, got -3",
    ),
    "unknown-variant": (
        GOOD.replace('"async"]', '"turbo"]'),
        "variants[1]: unknown variant 'turbo'; allowed: sync",
    ),
    "unknown-http-fault": (
        GOOD + '\n[[faults]]\ntype = "gremlins"\n',
        "faults[0].type: must be one of http_error",
    ),
    "unknown-network-fault": (
        GOOD + '\n[[network_faults]]\ntype = "earthquake"\n',
        "network_faults[0].type: unknown network fault 'earthquake'; allowed: latency",
    ),
    "unknown-metric": (
        GOOD.replace("async.timeout_rate < 1%", "async.speed > 5"),
        "thresholds[0]: unknown metric 'speed'; allowed: wall_s",
    ),
    "malformed-toml": (GOOD.replace("[files]", "[files"), ": not valid TOML: "),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_gives_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    path = write(tmp_path, f"{case}.toml", text)
    result = uploadbench("validate", path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith(f"uploadbench: error: {path}: ")
    assert expected in lines[0]


def test_good_files_and_folders(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD)
    (tmp_path / "more").mkdir()
    write(tmp_path / "more", "b.toml", GOOD.replace('name = "good"', 'name = "other"'))
    result = uploadbench("validate", tmp_path)
    assert result.returncode == 0, result.stderr
    # sync runs at concurrency 1 only: 3 cells x (2 processes x (1 warm-up + 1 round) + 1 profiled)
    assert result.stdout.splitlines() == ["ok good (15 trials)", "ok other (15 trials)"]
    assert result.stderr == ""


def test_mixed_good_and_bad_reports_each_and_exits_2(tmp_path: Path) -> None:
    good = write(tmp_path, "good.toml", GOOD)
    bad = write(tmp_path, "bad.toml", GOOD.replace("count = 2", "count = 0"))
    dup = write(tmp_path, "dup.toml", GOOD)
    result = uploadbench("validate", good, bad, dup, tmp_path / "missing.toml")
    assert result.returncode == 2
    assert result.stdout.splitlines() == ["ok good (15 trials)"]
    errors = result.stderr.splitlines()
    assert len(errors) == 3
    assert f"{bad}: files.count:" in errors[0]
    assert f"{dup}: name: 'good' is also the name of {good}" in errors[1]
    assert "missing.toml: no such file or directory" in errors[2]
    assert "Traceback" not in result.stderr


def test_hostile_name_stays_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "evil.toml", GOOD.replace('name = "good"', 'name = "a\\nb\\u001b[31m"'))
    result = uploadbench("validate", path)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["ok a\\nb\\x1b[31m (15 trials)"]


def test_list_shows_scenarios_variants_and_faults(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    write(folder, "good.toml", GOOD)
    result = uploadbench("list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "good  (15 trials, good.toml)" in out
    assert "two variants" in out
    for expected in ("naive-async", "streaming", "cmd:TEMPLATE", "http_error", "drop_response"):
        assert expected in out
    for kind in ("latency", "bandwidth", "reset_peer", "blackhole"):
        assert f"  {kind}: " in out
    assert "memory_slope" in out

    write(folder, "broken.toml", "name = ")
    broken = uploadbench("list", folder)
    assert broken.returncode == 2
    assert "INVALID" in broken.stdout
    assert "Traceback" not in broken.stderr

    missing = uploadbench("list", tmp_path / "nowhere")
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("nowhere: no such folder")


def test_shipped_scenarios_validate() -> None:
    root = Path(__file__).resolve().parents[2]
    result = uploadbench("validate", root / "scenarios")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok ") >= 1


def readme_blocks() -> list[str]:
    readme = Path(__file__).resolve().parents[2] / "scenarios" / "README.md"
    return re.findall(r"```toml\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)


def test_every_toml_example_in_the_scenario_readme_is_valid() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 7
    complete = scenario_from_dict(tomllib.loads(blocks[0]), source="README.md")
    assert complete.name == "throughput-10-files"
    base = {
        "name": "doc",
        "variants": ["sync", "async"],
        "files": {"count": 1, "sizes": ["1KiB"]},
        "providers": [{"kind": "kimi"}, {"kind": "glm"}, {"kind": "supabase"}],
    }
    for block in blocks[1:]:
        # each fragment shows one field; it must load on top of a minimal scenario
        scenario_from_dict({**base, **tomllib.loads(block)}, source="README.md")
