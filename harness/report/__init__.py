"""The HTML report: results (+ comparison, history) -> one self-contained page.

:func:`render_report` is pure (data -> string); :func:`write_report` writes the file.
"""

from __future__ import annotations

from harness.report.render import render_report
from harness.report.write import REPORT_FILE, write_report

__all__ = ["REPORT_FILE", "render_report", "write_report"]
