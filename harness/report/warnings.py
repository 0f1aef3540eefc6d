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

from markupsafe import Markup

from harness.analysis import stats
from harness.compare import Policy
from harness.metrics import DEFAULT_GATING_METRICS, METRICS
from harness.report.tables import Row, data_table
from harness.report.trends import entry_fingerprint
from harness.report.view import Group, ScenarioData

__all__ = [
    "MIN_REPEATS_FOR_SIGNIFICANCE",
    "NOISE_CV_LIMIT",
    "Advice",
    "Need",
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
_SHOWN = 4  # cells named in one line before "and N more" (every one: in its table)


@dataclass(frozen=True)
class Advice:
    """One thing to do, and why: ``action`` is the imperative (``Add repeats``), ``text``
    the whole line, ``cells`` the cells it is about and ``table`` the same as a table,
    one row per cell (shown when folded open)."""

    action: str
    text: str
    cells: tuple[str, ...] = ()
    table: Markup | None = None  # every cell, a row each (escaped by data_table)


def _action(line: str) -> str:
    """The action a line starts with, before its colon; "Note" when it has none."""
    head, colon, _ = line.partition(":")
    return head if colon and 0 < len(head) <= 40 else "Note"


def _row(scenario: str, group: Group, cells: Mapping[str, str]) -> Row:
    """A row of an advice's table: the cell it is about, then ``cells``."""
    return Row(
        {
            "scenario": scenario,
            "provider": group.provider,
            "variant": group.variant,
            "c": str(group.concurrency),
            **cells,
        },
        scenario=scenario,
        provider=group.provider,
        variant=group.variant,
    )


def _table(rows: Sequence[Row], columns: Sequence[str]) -> Markup:
    return Markup(data_table(rows, ["scenario", "provider", "variant", "c", *columns]))  # noqa: S704 - data_table escapes every cell


def _listed(items: Sequence[str]) -> str:
    more = len(items) - _SHOWN
    return ", ".join(items[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class Need:
    """The repeats a side a cell needs to decide its most demanding gating metric at that
    metric's minimum effect; ``n`` None: more than any practical number (100)."""

    n: int | None
    metric: str
    effect: float

    @property
    def sort_key(self) -> float:
        return math.inf if self.n is None else self.n


def repeats_needed(group: Group) -> Need | None:
    """Repeats a side with which this cell can decide every gating metric at its minimum
    effect (:func:`~harness.analysis.stats.repeats_to_decide` from the cell's noise): the
    most demanding metric's; None when the cell has no gating metric."""
    worst: Need | None = None
    for metric in DEFAULT_GATING_METRICS:
        if not group.values(metric):
            continue
        effect = METRICS[metric].min_effect
        need = Need(stats.repeats_to_decide(group.cv(metric), effect), metric, effect)
        if worst is None or need.sort_key > worst.sort_key:
            worst = need
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
    # the caller's lines say their action before a colon ("Compare on one machine: ...")
    out = [Advice(_action(str(w)), str(w)) for w in extra]
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
    noisy: list[tuple[float, str, Row]] = []
    needs: list[tuple[float, str, Row]] = []
    for scenario in scenarios:
        for group in scenario.groups:
            cell = f"{scenario.name} / {group.qualified_label}"

            cv = group.cv("wall_s")
            if cv is not None and cv > NOISE_CV_LIMIT:
                noisy.append(
                    (
                        cv,
                        f"{cell} ({cv * 100:.0f}%)",
                        _row(scenario.name, group, {"wall time CV": f"{cv * 100:.0f}%"}),
                    )
                )
            need = repeats_needed(group)
            have = len(group.trials)
            if need is None or (need.n is not None and need.n <= have):
                continue
            many = f"{need.n}" if need.n is not None else "more than 100"
            title = METRICS[need.metric].title
            needs.append(
                (
                    need.sort_key,
                    f"{cell} needs {many} to decide {need.effect:.0%} (has {have})",
                    _row(
                        scenario.name,
                        group,
                        {
                            "repeats": str(have),
                            "needed a side": many,
                            "to decide": f"{title} ±{need.effect:.0%}",
                        },
                    ),
                )
            )
    if needs:
        needs.sort(key=lambda item: (-item[0], item[1]))
        cells = tuple(text for _, text, _ in needs)
        low = min(n for n, _, _ in needs)
        out.append(
            Advice(
                "Add repeats",
                f"Add repeats: {len(cells)} cell{'' if len(cells) == 1 else 's'} cannot decide "
                f"their gating metrics at their noise (each needs {low:.0f} or more a side): "
                f"{_listed(cells)}.",
                cells,
                _table([r for _, _, r in needs], ["repeats", "needed a side", "to decide"]),
            )
        )
    if noisy:
        noisy.sort(key=lambda item: (-item[0], item[1]))
        out.append(
            Advice(
                "Quiet the machine",
                f"Quiet the machine or add repeats: wall time varies by more than "
                f"{NOISE_CV_LIMIT:.0%} (coefficient of variation) across repeats in "
                f"{_listed([text for _, text, _ in noisy])}.",
                tuple(text for _, text, _ in noisy),
                _table([r for _, _, r in noisy], ["wall time CV"]),
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
