"""The HTML report: results (+ comparison, history) -> one self-contained page.

:func:`render_report` is pure (data -> string); :func:`write_report` writes the file and
:func:`load_report_history` reads the history records its trends show.
"""

from __future__ import annotations

from harness.report.render import render_report
from harness.report.write import REPORT_FILE, TREND_NIGHTS, load_report_history, write_report

__all__ = ["REPORT_FILE", "TREND_NIGHTS", "load_report_history", "render_report", "write_report"]
