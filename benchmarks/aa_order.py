"""Is there an order effect within a repeat? An A/A run of two identical variants, with the
cells of each repeat in the scenario's fixed order (a, b, a, b, ...: the old plan, kept
reachable as ``uploadbench run --order fixed``) and in the seeded random order
of each repeat (the default since issue 14).

The two variants are the reference uploader under two names: ``a = "async"`` and
``b = "async[pooling=on]"`` (pooling is on by default, so the code and settings are the
same; a scenario refuses two names for one identical spec string, hence the explicit
switch). For each order mode it prints, over the measured rounds, the geometric mean of the
per-round ratios b/a (a and b of the same process and round, so they share the machine's
load of that moment) with its standard error, for ``cpu_user_s`` and
``throughput_bytes_per_s``, and the same ratio taken
as second/first by where the trials ran (``order`` in results.json): under the fixed order
b/a *is* second/first; under the random order b/a should be near 1 whatever second/first
shows. The last two columns split the random mode's b/a by which variant ran first (nan
where no repeat had that order): a position effect shows as the two moving apart.

    python benchmarks/aa_order.py [--repeats 4] [--rounds-per-process 5] [--runs 3]
                                  [--reports DIR]

The scenario runs ``repeats`` worker processes per variant, each with a warm-up round and
``rounds-per-process`` measured rounds; a and b of the same process and round are a pair.
Each run of the script's ``--runs`` runs the fixed and the random mode once each,
alternating which goes first, so a drift of the shared machine spreads over both. The
default (3 runs of 4 processes x 5 rounds per mode, 16 x 1 MiB at c=4 on Supabase) takes
about 2 minutes on the 2-core development machine. Timings there are noisy: the figures
are what this box gave, not a property of the code. No exit-code target: it measures.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCENARIO = """\
name = "aa-order"
description = "A/A: the reference uploader under two names, to see an order effect"
variants = ["a", "b"]
baseline = "a"
concurrency = 4
repeats = {repeats}
warmups = 1
rounds = {rounds}
deadline = "60s"
profile = false

[named_variants]
a = "async"
b = "async[pooling=on]"

[files]
count = 16
sizes = ["1MiB"]
content = "random"
seed = {seed}

[[providers]]
kind = "supabase"
"""

METRICS = ("cpu_user_s", "throughput_bytes_per_s")
UPLOADBENCH = [sys.executable, "-m", "harness"]


def run_once(scenario: Path, reports: Path, order: str) -> list[dict[str, Any]]:
    """One ``uploadbench run --against none --json`` in ``order`` mode; its trials."""
    done = subprocess.run(
        [
            *UPLOADBENCH,
            "run",
            str(scenario),
            "--reports",
            str(reports),
            "--against",
            "none",
            "--json",
            "--no-history",
            "--no-report",
            "--order",
            order,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 3):
        sys.exit(f"uploadbench run exited {done.returncode}: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    doc = json.loads(Path(summary["results"]).read_text())
    trials: list[dict[str, Any]] = doc["scenarios"][0]["trials"]
    return trials


def pairs(trials: Sequence[dict[str, Any]]) -> list[dict[str, dict[str, Any]]]:
    """Per measured round of each process: {"a", "b", "first", "second"} -> trial."""
    by_repeat: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for t in trials:
        if t["status"] == "ok" and not t["warmup"] and not t["profiled"]:
            by_repeat.setdefault((t["repeat"], t.get("round", 0)), []).append(t)
    out = []
    for group in by_repeat.values():
        if len(group) != 2:
            continue
        named = {t["variant"]: t for t in group}
        ran = sorted(group, key=lambda t: t.get("order", t["index"]))
        out.append({**named, "first": ran[0], "second": ran[1]})
    return out


def median_ratio(rows: Sequence[dict[str, dict[str, Any]]], top: str, bottom: str, m: str) -> float:
    """The geometric mean of the pairs' ratios, exp(mean log-ratio), as the paired verdict
    takes it. Not the median: ``cpu_user_s`` comes in clock ticks (10 ms at CLK_TCK 100),
    a round uses a few of them, so its ratios take a few discrete values and their median
    jumps between them (1.0 or 1.024, say) instead of estimating anything."""
    logs = [
        math.log(r[top]["metrics"][m] / r[bottom]["metrics"][m])
        for r in rows
        if r[top]["metrics"].get(m) and r[bottom]["metrics"].get(m)
    ]
    return math.exp(statistics.fmean(logs)) if logs else float("nan")


def ratio_se(rows: Sequence[dict[str, dict[str, Any]]], m: str) -> float:
    """The standard error of mean log(b/a), as a share: how far from 1 noise alone moves
    the ratio."""
    logs = [
        math.log(r["b"]["metrics"][m] / r["a"]["metrics"][m])
        for r in rows
        if r["b"]["metrics"].get(m) and r["a"]["metrics"].get(m)
    ]
    return statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4, help="worker processes per variant")
    parser.add_argument(
        "--rounds-per-process", type=int, default=5, help="measured rounds per process"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per order mode")
    parser.add_argument("--seed", type=int, default=14, help="file seed of the first round")
    parser.add_argument("--reports", type=Path, help="keep the runs here (default: a temp dir)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="aa-order-") as tmp:
        reports = args.reports or Path(tmp) / "reports"
        scenario = Path(tmp) / "aa-order.toml"
        rows: dict[str, list[dict[str, dict[str, Any]]]] = {"fixed": [], "random": []}
        started = time.monotonic()
        for round_ in range(args.runs):
            # a new file seed per run: another shuffle (the order is drawn from it)
            scenario.write_text(
                SCENARIO.format(
                    repeats=args.repeats, rounds=args.rounds_per_process, seed=args.seed + round_
                )
            )
            modes = ("fixed", "random") if round_ % 2 == 0 else ("random", "fixed")
            for mode in modes:
                trials = run_once(scenario, reports, mode)
                rows[mode].extend(pairs(trials))
                print(f"run {round_ + 1}, {mode}: {len(trials)} trials", file=sys.stderr)
        elapsed = time.monotonic() - started

    print(
        f"A/A order effect: a = async, b = async[pooling=on]; 16 x 1 MiB, c=4, supabase; "
        f"{args.runs} run(s) x {args.repeats} processes x {args.rounds_per_process} rounds per "
        f"mode; {elapsed:.0f} s"
    )
    print(
        f"{'order':<8}{'pairs':>6}  {'metric':<24}{'b/a':>8}{'± se':>8}{'second/first':>14}"
        f"{'b/a, b 1st':>12}{'b/a, b 2nd':>12}"
    )
    for mode in ("fixed", "random"):
        b_first = [r for r in rows[mode] if r["first"] is r["b"]]
        b_second = [r for r in rows[mode] if r["second"] is r["b"]]
        for m in METRICS:
            print(
                f"{mode:<8}{len(rows[mode]):>6}  {m:<24}"
                f"{median_ratio(rows[mode], 'b', 'a', m):>8.3f}"
                f"{ratio_se(rows[mode], m):>8.3f}"
                f"{median_ratio(rows[mode], 'second', 'first', m):>14.3f}"
                f"{median_ratio(b_first, 'b', 'a', m):>12.3f}"
                f"{median_ratio(b_second, 'b', 'a', m):>12.3f}"
            )
        print(f"{'':<8}{'':>6}  b ran second in {len(b_second)} of {len(rows[mode])} pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
