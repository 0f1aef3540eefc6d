"""Verdicts for a run, and the gate that turns them into an exit code.

One module per idea:

- :mod:`~harness.compare.model`: what a check is (:class:`Check`), the knobs
  (:class:`Policy`), a run's checks and exit code (:class:`RunComparison`);
- :mod:`~harness.compare.gate`: what gates (thresholds from the one evaluator, data lost,
  rollback triggers, gating history checks) and :func:`exit_code_for`, the one exit-code
  rule of ``run`` and ``compare``;
- :mod:`~harness.compare.variants`: each variant against the baseline variant (never gates);
- :mod:`~harness.compare.baseline`: against history or another run, with the run-to-run
  noise floor;
- :mod:`~harness.compare.comparison`: :func:`compare_run` (pure) and :func:`compare_against`
  (reads history or the other run);
- :mod:`~harness.compare.confirm`: re-running suspected regressions (``--confirm``);
- :mod:`~harness.compare.exports`: JUnit XML, markdown job summary, Bencher Metric Format.
"""

from __future__ import annotations

from harness.compare.comparison import compare_against, compare_run
from harness.compare.exports import to_bmf, to_junit_xml, to_markdown
from harness.compare.gate import data_lost_checks, exit_code_for, threshold_checks
from harness.compare.model import Check, CheckKind, CheckVerdict, Policy, RunComparison
from harness.compare.variants import compare_variants
from harness.metrics import DEFAULT_GATING_METRICS, HIGHER_IS_BETTER, MIN_EFFECT

__all__ = [
    "DEFAULT_GATING_METRICS",
    "HIGHER_IS_BETTER",
    "MIN_EFFECT",
    "Check",
    "CheckKind",
    "CheckVerdict",
    "Policy",
    "RunComparison",
    "compare_against",
    "compare_run",
    "compare_variants",
    "data_lost_checks",
    "exit_code_for",
    "threshold_checks",
    "to_bmf",
    "to_junit_xml",
    "to_markdown",
]
