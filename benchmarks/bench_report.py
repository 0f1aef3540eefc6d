"""How long ``render_report`` takes for a nightly run with 100 nights of history (issue 7:
under 5 s, issue 17), and how big the page is (under 5 MB).

The input is synthetic but shaped like a nightly run (tests/factories/nights.py: five claim
scenarios, sync / naive-async / async, 9 repeats, per-upload records, profiled trials) and
its comparison comes from the real :func:`harness.compare.compare_run` against history
records written by the real :mod:`harness.history`. Exit 1 when a budget is exceeded.

    .venv/bin/python benchmarks/bench_report.py [--nights 100] [--repeats 9] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.compare import compare_run
from harness.history import history_root, load_history
from harness.report import render_report
from harness.report.write import load_report_history
from tests.factories.nights import make_history, make_results

BUDGET_S = 5.0
BUDGET_BYTES = 5 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    results = make_results(repeats=args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        reports = Path(tmp)
        # history files laid out as harness.history writes them, loaded as `report` does
        root = history_root(reports)
        for record in make_history(nights=args.nights):
            folder = root / str(record["scenario_hash"])
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{record['run_id']}.json").write_text(json.dumps(record))
        started = time.perf_counter()
        history, _ = load_report_history(reports, results)
        load_s = time.perf_counter() - started
        with warnings.catch_warnings():
            # scipy warns about constant samples (zero integrity errors); not our concern here
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            comparison = compare_run(results, history=load_history(root).entries).to_dict()
            compare_s = time.perf_counter() - started

    times, cpu = [], []
    page = ""
    for _ in range(args.rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        page = render_report(results, comparison=comparison, history=history)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    size = len(page.encode("utf-8"))
    worst = max(times)
    print(
        f"render_report: {len(results['scenarios'])} scenarios, {args.repeats} repeats, "
        f"{len({h['run_id'] for h in history})} nights of history, "
        f"{len(comparison['checks'])} checks"
    )
    print(
        f"  render: min {min(times):.2f} s, median {statistics.median(times):.2f} s, "
        f"max {worst:.2f} s over {args.rounds} rounds (budget {BUDGET_S:.0f} s); "
        f"CPU median {statistics.median(cpu):.2f} s (wall minus CPU is the machine's load)"
    )
    print(f"  page: {size / 1024 / 1024:.2f} MiB (budget {BUDGET_BYTES / 1024 / 1024:.0f} MiB)")
    print(f"  (not in the budget: history load {load_s:.2f} s, compare {compare_s:.2f} s)")
    ok = worst < BUDGET_S and size < BUDGET_BYTES
    print("OK" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
