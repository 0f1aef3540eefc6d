"""The report's micro-benchmark section: rows, verdicts against the previous run, finder."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from harness.report.micro import MICRO_FILE, find_micro_results, micro_rows, micro_table


def _doc(**medians: float) -> dict[str, Any]:
    rng = random.Random(1)
    benchmarks = []
    for name, median in medians.items():
        data = [median * rng.uniform(0.98, 1.02) for _ in range(30)]
        stats = {"median": sorted(data)[15], "rounds": len(data), "data": data}
        benchmarks.append({"name": name, "stats": stats})
    return {"benchmarks": benchmarks}


def test_rows_compare_each_benchmark_with_the_previous_run() -> None:
    previous = _doc(test_build=1e-5, test_hash=2e-4)
    current = _doc(test_build=1e-5, test_hash=4e-4, test_new=1e-3)
    rows = {r.name: r for r in micro_rows(current, previous)}
    assert rows["test_build"].verdict == "unchanged"
    assert rows["test_hash"].verdict == "regressed"  # twice as slow
    assert rows["test_hash"].ratio is not None
    assert 1.8 < rows["test_hash"].ratio < 2.2
    assert rows["test_new"].verdict == "no previous run"
    html = micro_table(list(rows.values()))
    assert html is not None
    assert "test_hash" in html


def test_names_are_escaped() -> None:
    html = micro_table(micro_rows(_doc(**{"<b>x</b>": 1e-3})))
    assert html is not None
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;" in html


def test_finder_takes_the_newest_earlier_run_that_has_the_file(tmp_path: Path) -> None:
    old, mid, now = (tmp_path / n for n in ("20261126T0000Z", "20261127T0000Z", "20261128T0000Z"))
    for run in (old, mid, now):
        run.mkdir()
    (old / MICRO_FILE).write_text(json.dumps(_doc(test_a=1.0)))
    (now / MICRO_FILE).write_text(json.dumps(_doc(test_a=2.0)))
    current, previous = find_micro_results(now)
    assert current is not None
    assert previous is not None
    assert previous["benchmarks"][0]["stats"]["median"] < 1.1  # the 26th: the 27th has none
    assert find_micro_results(mid) == (None, None)
