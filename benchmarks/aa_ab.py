"""Can the verdicts be trusted? The two experiments of issue 6, on real runs.

A/A: run the same code N times (default: the smoke suite, 5 runs -> 10 run-vs-run
comparisons) and count the checks that say regressed or improved; target <= 5%.

A/B: a small latency-bound scenario run with the mock's ``latency`` fault at L ms (A) and at
L x (1 + s) ms (B), interleaved A B A B ...; each (A_i, B_i) pair is compared run-vs-run
and counts as detected when a gating check of the slowed variant says regressed. Target:
>= 9 of 10 pairs for s = 20%; the rate for s = 10% is reported too. The slowdown lives in
the scenario here, so B's scenario hash is set to A's before comparing (in real use the
code changes, not the scenario) -- that is the only doctoring, and it is printed.

    python benchmarks/aa_ab.py aa [--runs 5] [--repeats 5] [--scenario scenarios/smoke.toml]
    python benchmarks/aa_ab.py ab [--pairs 10] [--repeats 5] [--slowdown 0.2 --slowdown 0.1]

Runs go to a temporary reports folder (``--out`` to keep them). Timings on a loaded shared
machine are noisy: the figures are what this box gave, not a property of the code.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness.commands.calibrate import calibrate, render
from harness.commands.run import default_cache_dir
from harness.compare import DEFAULT_GATING_METRICS, Policy, compare_run
from harness.runner import run_scenarios
from harness.scenario import Scenario, load_scenarios

AB_SCENARIO = """\
name = "ab-latency"
description = "A/B experiment: sequential uploads dominated by provider latency"
variants = ["async"]
baseline = "async"
concurrency = 2
repeats = {repeats}
warmups = 1
deadline = "60s"
profile = false

[files]
count = 6
sizes = ["64KiB"]
content = "random"
seed = 6

[[providers]]
kind = "kimi"

[[faults]]
type = "latency"
ms = "{ms}ms"
target = {{ method = "POST", route = "/files" }}
"""


def aa(args: argparse.Namespace, out: Path) -> None:
    scenarios = load_scenarios([Path(args.scenario)])
    docs = []
    started = time.monotonic()
    for index in range(args.runs):
        docs.append(_run_with_repeats(scenarios, out, index, args.repeats))
        print(f"A/A run {index + 1}/{args.runs}: {docs[-1]['run_id']}", flush=True)
    calibration = calibrate(docs, rng=np.random.default_rng(0), simulations=200)
    print("\n".join(render(calibration, DEFAULT_GATING_METRICS)))
    print(f"A/A wall time: {time.monotonic() - started:.0f} s")


def _run_with_repeats(
    scenarios: Sequence[Scenario], out: Path, seed: int, repeats: int | None
) -> dict[str, Any]:
    outcome = run_scenarios(
        scenarios,
        out_dir=out,
        repeats=repeats,
        seed=seed,
        clock=lambda: datetime.now(UTC),
        rng=random.Random(seed),
        cache_dir=default_cache_dir(),
    )
    if outcome.harness_errors:
        print(f"  warning: {outcome.harness_errors} harness errors in {outcome.run_id}")
    return outcome.document


def _ab_scenario(tmp: Path, ms: float, repeats: int) -> list[Scenario]:
    path = tmp / f"ab-{ms:g}.toml"
    path.write_text(AB_SCENARIO.format(ms=f"{ms:g}", repeats=repeats), encoding="utf-8")
    return load_scenarios([path])


def ab(args: argparse.Namespace, out: Path) -> None:
    policy = Policy()
    started = time.monotonic()
    base = _ab_scenario(out, args.latency_ms, args.repeats)
    for slowdown in args.slowdown or [0.2, 0.1]:
        slow = _ab_scenario(out, args.latency_ms * (1 + slowdown), args.repeats)
        detected, false_improved, rows = 0, 0, []
        for pair in range(args.pairs):
            a = _run_with_repeats(base, out, 2 * pair, None)
            b = _run_with_repeats(slow, out, 2 * pair + 1, None)
            b["scenarios"][0]["hash"] = a["scenarios"][0]["hash"]  # see the module docstring
            result = compare_run(b, baseline_run=a, policy=policy, variant_checks=False)
            gating = [c for c in result.checks if c.gating]
            hit = any(c.verdict == "regressed" for c in gating)
            detected += hit
            false_improved += any(c.verdict == "improved" for c in gating)
            wall = next(
                (c for c in result.checks if c.metric == "wall_s" and c.kind == "history"), None
            )
            ratio = f"{wall.ratio:.3f}" if wall and wall.ratio else "n/a"
            rows.append(
                f"  pair {pair + 1}: wall ratio {ratio}, detected={hit}: "
                + "; ".join(f"{c.metric} {c.verdict}" for c in gating)
            )
            print(rows[-1], flush=True)
        print(
            f"A/B latency {args.latency_ms:g} ms -> {args.latency_ms * (1 + slowdown):g} ms "
            f"(+{slowdown:.0%}), {args.repeats} repeats per run: detected in {detected} of "
            f"{args.pairs} pairs; 'improved' (wrong way) in {false_improved}"
        )
    print(f"A/B wall time: {time.monotonic() - started:.0f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="experiment", required=True)
    p_aa = sub.add_parser("aa", help="A/A false alarms")
    p_aa.add_argument("--runs", type=int, default=5)
    p_aa.add_argument("--repeats", type=int, default=5)
    p_aa.add_argument("--scenario", default="scenarios/smoke.toml")
    p_ab = sub.add_parser("ab", help="A/B detection of a seeded slowdown")
    p_ab.add_argument("--pairs", type=int, default=10)
    p_ab.add_argument("--repeats", type=int, default=5)
    p_ab.add_argument("--latency-ms", type=float, default=100.0)
    p_ab.add_argument("--slowdown", type=float, action="append")
    for p in (p_aa, p_ab):
        p.add_argument("--out", type=Path, help="keep the runs here (default: a temp folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="uploadbench-aa-ab-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        (aa if args.experiment == "aa" else ab)(args, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
