"""What a reader must do before trusting the report's numbers, each said as an action:
incomplete or sharded runs, harness errors, another environment, noisy cells and too few
repeats to decide ("add repeats: smoke / kimi / sync c=1 needs 6 to decide 5%").

Pure: results, its cells (:mod:`harness.report.view`), history and comparison in, advice
out. How many repeats a cell needs is the analysis layer's
(:func:`harness.analysis.stats.repeats_to_decide`, from the cell's noise and each gating
metric's minimum effect).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.analysis import stats
from harness.compare import Policy
from harness.metrics import DEFAULT_GATING_METRICS, METRICS
from harness.report.trends import entry_fingerprint
from harness.report.view import Group, ScenarioData

__all__ = [
    "MIN_REPEATS_FOR_SIGNIFICANCE",
    "NOISE_CV_LIMIT",
    "Advice",
    "repeats_needed",
    "report_advice",
    "report_warnings",
]

# A coefficient of variation above this across repeats makes a 10% change undetectable
# (the smallest effect asv and benchstat care about), so the report says so.
NOISE_CV_LIMIT = 0.10
# The fewest repeats per side with which compare's test (exact two-sided Mann-Whitney U at
# its alpha) can reach significance at all: 3 vs 3 cannot (min p = 0.1), 4 vs 4 can.
MIN_REPEATS_FOR_SIGNIFICANCE = next(
    n for n in range(2, 1000) if stats.min_p_value(n, n) < Policy().alpha
)
_SHOWN = 8  # cells named in one line before "and N more"


@dataclass(frozen=True)
class Advice:
    """One thing to do, and why: ``action`` is the imperative (``Add repeats``), ``text``
    the whole line, ``cells`` the cells it is about (shown in full when folded open)."""

    action: str
    text: str
    cells: tuple[str, ...] = ()


def _listed(items: Sequence[str]) -> str:
    more = len(items) - _SHOWN
    return ", ".join(items[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def repeats_needed(group: Group) -> tuple[int | None, float] | None:
    """Repeats a side with which this cell can decide every gating metric at its minimum
    effect (:func:`~harness.analysis.stats.repeats_to_decide` from the cell's noise), and
    that effect; None when the cell has no gating metric. ``(None, effect)``: more than
    any practical number."""
    worst: tuple[int | None, float] | None = None
    for metric in DEFAULT_GATING_METRICS:
        if not group.values(metric):
            continue
        effect = METRICS[metric].min_effect
        n = stats.repeats_to_decide(group.cv(metric), effect)
        if worst is None or n is None or (worst[0] is not None and n > worst[0]):
            worst = (n, effect)
        if n is None:
            break
    return worst


def report_advice(
    results: Mapping[str, Any],
    scenarios: Sequence[ScenarioData],
    *,
    history: Sequence[Mapping[str, Any]] | None,
    comparison: Mapping[str, Any] | None,
    extra: Iterable[str] = (),
) -> list[Advice]:
    """Everything a reader must do before trusting the numbers, as actions."""
    out: list[Advice] = [Advice("Note", str(w)) for w in extra]
    if not results.get("complete", True):
        out.append(
            Advice(
                "Finish the run",
                "Finish the run (uploadbench run --resume): it is incomplete (still "
                "running, crashed or interrupted).",
            )
        )
    shard = results.get("shard")
    if isinstance(shard, Mapping):
        out.append(
            Advice(
                "Merge the shards",
                f"Merge the shards (uploadbench merge): this is shard {shard.get('k')}/"
                f"{shard.get('n')} only.",
            )
        )
    env = results.get("environment") or {}
    if env.get("git_dirty"):
        out.append(
            Advice(
                "Commit first",
                "Commit before a run you will compare: the working tree had uncommitted "
                "changes (git_dirty).",
            )
        )
    failed = sum(len(s.failed) for s in scenarios)
    if failed:
        out.append(
            Advice(
                "Fix the failed trials",
                f"Fix the failed trials (listed in their scenario): {failed} trial(s) failed "
                "with a harness error and are left out of every statistic.",
            )
        )
    current = env.get("fingerprint")
    if comparison:
        base_env = comparison.get("baseline_environment")
        base_fp = comparison.get("baseline_fingerprint") or (
            base_env.get("fingerprint") if isinstance(base_env, Mapping) else None
        )
        if base_fp and current and base_fp != current:
            out.append(
                Advice(
                    "Compare on one machine",
                    f"Compare on one machine: the baseline ran on another environment "
                    f"(fingerprint {base_fp}, this run {current}): differences may come "
                    "from the machine.",
                )
            )
    if history and current:
        runs = {str(e.get("run_id")): entry_fingerprint(e) for e in history}
        other = sum(1 for fp in runs.values() if fp and fp != current)
        if other:
            out.append(
                Advice(
                    "Read trends per machine",
                    f"Read the trends per machine: {other} of {len(runs)} earlier run(s) in "
                    f"history ran on another environment fingerprint than this run "
                    f"({current}): their trends are not comparable.",
                )
            )
    noisy: list[str] = []
    needs: list[tuple[float, str]] = []
    for scenario in scenarios:
        for group in scenario.groups:
            cell = f"{scenario.name} / {group.qualified_label}"
            cv = group.cv("wall_s")
            if cv is not None and cv > NOISE_CV_LIMIT:
                noisy.append(f"{cell} ({cv * 100:.0f}%)")
            need = repeats_needed(group)
            have = len(group.trials)
            if need is None or (need[0] is not None and need[0] <= have):
                continue
            n, effect = need
            many = f"{n}" if n is not None else "more than 100"
            needs.append(
                (
                    math.inf if n is None else n,
                    f"{cell} needs {many} to decide {effect:.0%} (has {have})",
                )
            )
    if needs:
        needs.sort(key=lambda item: (-item[0], item[1]))
        cells = tuple(text for _, text in needs)
        low = min(n for n, _ in needs)
        out.append(
            Advice(
                "Add repeats",
                f"Add repeats: {len(cells)} cell{'' if len(cells) == 1 else 's'} cannot decide "
                f"their gating metrics at their noise (each needs {low:.0f} or more a side): "
                f"{_listed(cells)}.",
                cells,
            )
        )
    if noisy:
        out.append(
            Advice(
                "Quiet the machine",
                f"Quiet the machine or add repeats: wall time varies by more than "
                f"{NOISE_CV_LIMIT:.0%} (coefficient of variation) across repeats in "
                f"{_listed(noisy)}.",
                tuple(noisy),
            )
        )
    return out


def report_warnings(
    results: Mapping[str, Any],
    scenarios: Sequence[ScenarioData],
    *,
    history: Sequence[Mapping[str, Any]] | None,
    comparison: Mapping[str, Any] | None,
    extra: Iterable[str] = (),
) -> list[str]:
    """:func:`report_advice` as lines (the page's embedded JSON keeps these)."""
    return [
        a.text
        for a in report_advice(
            results, scenarios, history=history, comparison=comparison, extra=extra
        )
    ]
