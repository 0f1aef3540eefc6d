"""The HTML report: results (+ comparison, history) -> one self-contained offline page.

The report shows outcomes; it decides none. Verdicts, gating and the exit code come from the
comparison it is given (:mod:`harness.compare`); claims and the ablation ranking from
:mod:`harness.analysis.claims` and :mod:`harness.analysis.ablation`; medians from the
per-repeat samples compare uses; memory slopes from :mod:`harness.analysis.memory`; number formats
and titles from :mod:`harness.metrics`.

Modules, one idea each:

- :mod:`~harness.report.view`: the view model, a run's trials grouped into cells.
- :mod:`~harness.report.headline`: the verdict area, read from the comparison.
- :mod:`~harness.report.trends`: each key metric night by night (history + this run).
- :mod:`~harness.report.warnings`: what a reader must know before trusting the numbers.
- :mod:`~harness.report.tables`: HTML tables of what was measured (pandas, escaped).
- :mod:`~harness.report.checks`: HTML tables of the comparison's checks.
- :mod:`~harness.report.plots`: the figures (matplotlib, inline SVG).
- :mod:`~harness.report.micro`: the micro-benchmarks section.
- :mod:`~harness.report.format`: text for values that are not a metric's (ratios, p).
- :mod:`~harness.report.render`: :func:`render_report`, pure, data -> HTML string.
- :mod:`~harness.report.write`: the disk: :func:`write_report`, :func:`load_report_history`
  and :func:`report_run` (what ``uploadbench report`` does).
"""

from __future__ import annotations

from harness.report.render import render_report
from harness.report.write import (
    REPORT_FILE,
    TREND_NIGHTS,
    load_report_history,
    report_run,
    write_report,
)

__all__ = [
    "REPORT_FILE",
    "TREND_NIGHTS",
    "load_report_history",
    "render_report",
    "report_run",
    "write_report",
]
