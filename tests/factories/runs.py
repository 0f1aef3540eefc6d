"""Running ``uploadbench`` as a process from the checkout, and small scenario files.

The worker imports test plugins (``tests.factories.uploaders:NAME``) from the current
directory, so every command runs with the checkout as its working directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["ALONE", "REPORTS_FLAG", "ROOT", "TINY", "run_alone", "tiny", "trials_of", "uploadbench"]

ROOT = Path(__file__).resolve().parents[2]

# The reports folder's one name in every command (harness.commands.options).
REPORTS_FLAG = "--reports"

# A minimal scenario: two small files per trial, one repeat, no thresholds unless `extra`.
TINY = """
name = "{name}"
variants = {variants}
{baseline_line}
concurrency = 2
repeats = {repeats}
warmups = 0
deadline = "{deadline}"
profile = false

[files]
count = 2
sizes = ["64KiB"]
seed = 3

[[providers]]
kind = "{provider}"
{extra}"""


def uploadbench(
    *args: str | Path, timeout: float = 180, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """``python -m harness ARGS`` from ``cwd`` (the checkout by default)."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# A run on its own: no comparison, no page, no history record.
ALONE = ("--against", "none", "--no-report", "--no-history")


def run_alone(
    scenario: Path, out: Path, cache: Path, *extra: str | Path
) -> subprocess.CompletedProcess[str]:
    """``uploadbench run SCENARIO`` into ``out`` with its file sets in ``cache``, on its own
    (:data:`ALONE`), plus ``extra`` options."""
    return uploadbench("run", scenario, REPORTS_FLAG, out, *ALONE, "--cache-dir", cache, *extra)


def tiny(tmp_path: Path, name: str, variants: list[str], **kw: Any) -> Path:
    """Write :data:`TINY` with ``variants`` to ``tmp_path/NAME.toml``."""
    params = {
        "repeats": 1,
        "deadline": "60s",
        "provider": "kimi",
        "baseline": variants[0],
        "extra": "",
        **kw,
    }
    # A written-out spec (cmd:..., pkg.mod:attr) cannot be named as the baseline: leave the
    # line out and let the scenario's default choose.
    baseline = str(params.pop("baseline"))
    params["baseline_line"] = "" if ":" in baseline else f'baseline = "{baseline}"'
    path = tmp_path / f"{name}.toml"
    path.write_text(TINY.format(name=name, variants=json.dumps(variants), **params))
    return path


def trials_of(doc: Any) -> list[dict[str, Any]]:
    """Every trial of a results document, scenario after scenario."""
    return [t for s in doc["scenarios"] for t in s["trials"]]
