"""``write_report``: the one place the report touches the disk."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.report.render import render_report
from harness.results import atomic_write_text, load_results

__all__ = ["REPORT_FILE", "write_report"]

REPORT_FILE = "index.html"


def write_report(
    run_dir: Path,
    results: Mapping[str, Any] | None = None,
    *,
    comparison: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    environment_warnings: Sequence[str] = (),
    output: Path | None = None,
) -> Path:
    """Render the run in ``run_dir`` (its ``results.json`` unless ``results`` is given) and
    write it atomically to ``output`` (default ``run_dir/index.html``); returns the path.

    Links to the run's flame graphs are rewritten relative to ``output``'s folder, so a
    report written elsewhere still finds them.
    """
    doc = load_results(run_dir) if results is None else results
    target = output if output is not None else run_dir / REPORT_FILE
    prefix = os.path.relpath(run_dir.resolve(), target.parent.resolve())
    html = render_report(
        doc,
        comparison=comparison,
        history=history,
        environment_warnings=environment_warnings,
        asset_prefix="" if prefix == "." else Path(prefix).as_posix() + "/",
    )
    try:
        atomic_write_text(target, html)
    except OSError as exc:
        raise HarnessError(f"{target}: cannot write the report: {exc.strerror or exc}") from None
    return target
