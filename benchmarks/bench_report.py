"""How long ``render_report`` takes for a nightly run with 100 nights of history (issue 7:
under 5 s, issue 17), and how big the page is (under 5 MB).

The input is synthetic but shaped like a nightly run (tests/factories/nights.py: five claim
scenarios, sync / naive-async / async, 9 repeats, per-upload records, profiled trials) and
its comparison comes from the real :func:`harness.compare.compare_run` against history
records written by the real :mod:`harness.history`. Exit 1 when a budget is exceeded.

    .venv/bin/python benchmarks/bench_report.py [--nights 100] [--repeats 9] [--rounds 3]
        [--providers kimi,glm,supabase]

``--providers`` measures every cell on each provider named (the shipped nightly runs three):
the trials and history groups are copied per provider, so the page has that many rows,
lines and points per cell.
"""

from __future__ import annotations

import argparse
import copy
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


def _per_provider(doc: dict, providers: list[str]) -> dict:  # type: ignore[type-arg]
    """``doc`` (a results document or a history record) with every trial or group copied
    for each provider after the first."""
    out = copy.deepcopy(doc)
    if "scenarios" in out:
        for scenario in out["scenarios"]:
            trials = scenario["trials"]
            scenario["trials"] = [
                {
                    **copy.deepcopy(t),
                    "provider": p,
                    "key": str(t["key"]).replace("|kimi|", f"|{p}|"),
                }
                for p in providers
                for t in trials
            ]
            scenario["definition"]["providers"] = [{"kind": p} for p in providers]
    else:
        out["groups"] = [
            {**copy.deepcopy(g), "provider": p} for p in providers for g in out["groups"]
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--providers", default="kimi", help="comma-separated (default kimi)")
    args = parser.parse_args(argv)
    providers = [p for p in args.providers.split(",") if p]

    results = _per_provider(make_results(repeats=args.repeats), providers)
    with tempfile.TemporaryDirectory() as tmp:
        reports = Path(tmp)
        # history files laid out as harness.history writes them, loaded as `report` does
        root = history_root(reports)
        for record in (_per_provider(r, providers) for r in make_history(nights=args.nights)):
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
        f"render_report: {len(results['scenarios'])} scenarios, {len(providers)} provider(s), "
        f"{args.repeats} repeats, "
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
