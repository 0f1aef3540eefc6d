"""The micro-benchmarks section: pytest-benchmark's JSON of this run against the previous one.

``nox -s bench`` runs ``pytest benchmarks/micro --benchmark-json=RUN_DIR/micro-benchmarks.json``
after the scenarios. :func:`micro_rows` is pure: each benchmark's median time per round,
compared with the previous run's by the scenarios' own rule (:func:`harness.analysis.stats.verdict`:
ratio of medians with a bootstrap CI, Mann-Whitney U, a minimum effect) on the raw round
times both files carry. :func:`find_micro_results` is the only part that reads files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.analysis.stats import verdict
from harness.report.format import fmt_count, fmt_kind, fmt_ratio, is_number
from harness.report.tables import html_table

__all__ = ["MICRO_FILE", "MicroRow", "find_micro_results", "micro_rows", "micro_table"]

MICRO_FILE = "micro-benchmarks.json"
# Round times of one micro-benchmark vary less than whole trials do, but the machine is
# shared: a change under 10 % is not called a change.
_MIN_EFFECT = 0.10
_SEED = 8  # the bootstrap's seed: the same two files always give the same verdict


@dataclass(frozen=True)
class MicroRow:
    """One benchmark: its median seconds per round now and in the previous run."""

    name: str
    median_s: float | None
    rounds: int
    previous_median_s: float | None
    ratio: float | None  # now / previous: above 1 is slower
    verdict: str  # regressed, improved, unchanged, inconclusive, or "no previous run"
    reason: str


def _benchmarks(doc: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for bench in (doc or {}).get("benchmarks") or ():
        if isinstance(bench, Mapping) and isinstance(bench.get("name"), str):
            out[bench["name"]] = bench.get("stats") or {}
    return out


def _data(stats: Mapping[str, Any]) -> list[float]:
    return [float(x) for x in stats.get("data") or () if is_number(x) and math.isfinite(x)]


def micro_rows(
    current: Mapping[str, Any], previous: Mapping[str, Any] | None = None
) -> list[MicroRow]:
    """One row per benchmark of ``current`` (pytest-benchmark JSON documents), by name."""
    before = _benchmarks(previous)
    rows = []
    for name, stats in sorted(_benchmarks(current).items()):
        median = float(stats["median"]) if is_number(stats.get("median")) else None
        rounds = int(stats["rounds"]) if is_number(stats.get("rounds")) else 0
        old = before.get(name)
        old_median = (
            float(old["median"]) if old is not None and is_number(old.get("median")) else None
        )
        if old is None:
            rows.append(MicroRow(name, median, rounds, None, None, "no previous run", ""))
            continue
        result = verdict(
            _data(old),
            _data(stats),
            higher_is_better=False,
            rng=np.random.default_rng(_SEED),
            min_effect=_MIN_EFFECT,
        )
        rows.append(
            MicroRow(name, median, rounds, old_median, result.ratio, result.verdict, result.reason)
        )
    return rows


def micro_table(rows: Sequence[MicroRow]) -> str | None:
    """The rows as HTML (pandas escapes every cell), or None without rows."""
    if not rows:
        return None
    table = [
        {
            "benchmark": r.name,
            "median per round": fmt_kind("time", r.median_s),
            "rounds": fmt_count(r.rounds),
            "previous run": fmt_kind("time", r.previous_median_s),
            "now / previous": fmt_ratio(r.ratio),
            "verdict": r.verdict,
            "why": r.reason,
        }
        for r in rows
    ]
    return html_table(table, list(table[0]))


def _read(path: Path) -> Mapping[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a missing or torn file is "not measured", never an error of the report
    return doc if isinstance(doc, Mapping) else None


def find_micro_results(
    run_dir: Path,
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """This run's micro-benchmarks and those of the newest earlier run beside it that has
    them (run ids sort by start time), each None when absent."""
    current = _read(run_dir / MICRO_FILE)
    if current is None:
        return None, None
    me = run_dir.resolve()
    earlier = sorted(
        (
            p
            for p in run_dir.parent.iterdir()
            if p.is_dir() and not p.is_symlink() and p.resolve() != me and p.name < run_dir.name
        ),
        reverse=True,
    )
    for candidate in earlier:
        previous = _read(candidate / MICRO_FILE)
        if previous is not None:
            return current, previous
    return current, None
