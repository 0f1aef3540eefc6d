"""What a reader must know before trusting the report's numbers: incomplete or sharded runs,
harness errors, another environment, noisy cells and too few repeats to decide.

Pure: results, its cells (:mod:`harness.report.view`), history and comparison in, lines out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.analysis import stats
from harness.compare import Policy
from harness.report.trends import entry_fingerprint
from harness.report.view import ScenarioData

__all__ = ["MIN_REPEATS_FOR_SIGNIFICANCE", "NOISE_CV_LIMIT", "report_warnings"]

# A coefficient of variation above this across repeats makes a 10% change undetectable
# (the smallest effect asv and benchstat care about), so the report says so.
NOISE_CV_LIMIT = 0.10
# The fewest repeats per side with which compare's test (exact two-sided Mann-Whitney U at
# its alpha) can reach significance at all: 3 vs 3 cannot (min p = 0.1), 4 vs 4 can.
MIN_REPEATS_FOR_SIGNIFICANCE = next(
    n for n in range(2, 1000) if stats.min_p_value(n, n) < Policy().alpha
)
_SHOWN = 8  # cells named in one warning line before "and N more"


def _listed(items: Sequence[str]) -> str:
    more = len(items) - _SHOWN
    return ", ".join(items[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def report_warnings(
    results: Mapping[str, Any],
    scenarios: Sequence[ScenarioData],
    *,
    history: Sequence[Mapping[str, Any]] | None,
    comparison: Mapping[str, Any] | None,
    extra: Iterable[str] = (),
) -> list[str]:
    """Everything a reader must know before trusting the numbers."""
    out: list[str] = [str(w) for w in extra]
    if not results.get("complete", True):
        out.append("This run is incomplete (still running, crashed or interrupted).")
    shard = results.get("shard")
    if isinstance(shard, Mapping):
        out.append(f"This is shard {shard.get('k')}/{shard.get('n')} only: merge the shards.")
    env = results.get("environment") or {}
    if env.get("git_dirty"):
        out.append("The working tree had uncommitted changes (git_dirty).")
    failed = sum(len(s.failed) for s in scenarios)
    if failed:
        out.append(
            f"{failed} trial(s) failed with a harness error and are left out of every statistic."
        )
    current = env.get("fingerprint")
    if comparison:
        base_env = comparison.get("baseline_environment")
        base_fp = comparison.get("baseline_fingerprint") or (
            base_env.get("fingerprint") if isinstance(base_env, Mapping) else None
        )
        if base_fp and current and base_fp != current:
            out.append(
                f"The baseline ran on another environment (fingerprint {base_fp}, "
                f"this run {current}): differences may come from the machine."
            )
    if history and current:
        runs = {str(e.get("run_id")): entry_fingerprint(e) for e in history}
        other = sum(1 for fp in runs.values() if fp and fp != current)
        if other:
            out.append(
                f"{other} of {len(runs)} earlier run(s) in history ran on another environment "
                f"fingerprint than this run ({current}): their trends are not comparable."
            )
    noisy, few = [], []
    for scenario in scenarios:
        for group in scenario.groups:
            cv = group.cv("wall_s")
            if cv is not None and cv > NOISE_CV_LIMIT:
                noisy.append(f"{scenario.name} / {group.qualified_label} ({cv * 100:.0f}%)")
            if len(group.trials) < MIN_REPEATS_FOR_SIGNIFICANCE:
                few.append(f"{scenario.name} / {group.qualified_label} (n={len(group.trials)})")
    if noisy:
        out.append(
            f"High noise: wall time varies by more than {NOISE_CV_LIMIT:.0%} (coefficient of "
            f"variation) across repeats in {_listed(noisy)}."
        )
    if few:
        out.append(
            "Too few repeats to reach significance (need "
            f"{MIN_REPEATS_FOR_SIGNIFICANCE}): {_listed(few)}."
        )
    return out
