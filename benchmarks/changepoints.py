"""How soon does the change-point detector see a step in nightly history, and how often does
it see one that is not there?

    python benchmarks/changepoints.py [--series 100] [--noise-series 200] [--processes 2]
        [--alpha A] [--permutations N] [--confirm N] [--window N] [--min-segment N]

Synthetic nights, seeded (no measurement, no sockets): one value a night with 12% noise
(lognormal, coefficient of variation 0.12, around 100).

- **Steps**: for a step of 5%, 10% and 20% (the level times 1.05, 1.10, 1.20), ``--series``
  series of 60 nights before the step and 40 after. The detector
  (:func:`harness.analysis.changepoints.detect`, minimum effect 5%, the throughput and
  median latency one) is re-run every night after the step, on all nights so far, as a
  nightly job would. The step is *reported* on the first night a confirmed change point in
  its direction lies within +-10 nights of it; the delay is the number of nights at the new
  level by then (the step's own night counts as 1, so ``confirm`` is the least possible).
  Printed: the share reported within the 40 nights, the median and 90th percentile delay
  of those reported, and how far from the true night they were placed.
- **Noise**: ``--noise-series`` series of 100 nights without a step, the detector re-run
  every night from the 6th. Every confirmed change point ever reported is a false alarm;
  one reported again on a later night within +-5 nights of an earlier one in the same
  direction is the same alarm. Printed: false alarms per 100 nights (target: at most 1),
  and, for comparison, the confirmed change points of one run on all 100 nights.

Exits 1 when false alarms exceed 1 per 100 nights (the target the defaults were chosen
for), 0 otherwise. Output with the defaults on the shared 2-core development machine (load
average about 3), 2 processes, 39 s:

    E-Divisive means: alpha 0.01, 100 permutations, window 100, min segment 3, confirm 5, ...

     step series  reported delay p50 delay p90 |error| p50 within 2
       5%    100       24%        17        34           3      46%
      10%    100       74%        13        28           2      51%
      20%    100      100%         7        14           1      83%

    pure noise, 200 series of 100 nights, re-run nightly: 39 false alarms (34 series with
    any) = 0.20 per 100 nights (target <= 1) PASS
    one run on all 100 nights: 2 confirmed change points = 0.01 per 100 nights

With ``--alpha 0.001 --permutations 1000`` (twice the time): 0.03 false alarms per 100
nights; 5% 5% reported, 10% 57% (delay p50 15, p90 35), 20% 100% (10, 17).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.analysis import changepoints

NOISE_CV = 0.12
LEVEL = 100.0
BEFORE = 60
AFTER = 40
NOISE_NIGHTS = 100
STEPS = (0.05, 0.10, 0.20)
MIN_EFFECT = 0.05
FOUND_WITHIN = 10  # nights either side of the true step
SAME_ALARM_WITHIN = 5  # nights: a re-reported change point is the same alarm
TARGET_FALSE_PER_100 = 1.0


@dataclass(frozen=True)
class Settings:
    alpha: float
    permutations: int
    confirm: int
    window: int
    min_segment: int


def _nights(seed: int, n: int, step_at: int | None, step: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sigma = math.sqrt(math.log1p(NOISE_CV**2))  # lognormal with this coefficient of variation
    values = LEVEL * rng.lognormal(-(sigma**2) / 2, sigma, n)
    if step_at is not None:
        values[step_at:] *= 1.0 + step
    return values


def _detect(values: np.ndarray, s: Settings) -> list[changepoints.ChangePoint]:
    return changepoints.detect(
        values,
        min_effect=MIN_EFFECT,
        window=s.window,
        alpha=s.alpha,
        min_segment=s.min_segment,
        confirm=s.confirm,
        permutations=s.permutations,
    )


def step_case(args: tuple[int, float, Settings]) -> tuple[int | None, int | None, int]:
    """(delay in nights or None, index error or None, detector calls) for one series."""
    seed, step, s = args
    values = _nights(seed, BEFORE + AFTER, BEFORE, step)
    calls = 0
    for night in range(BEFORE + 1, BEFORE + AFTER + 1):
        calls += 1
        for cp in _detect(values[:night], s):
            if cp.confirmed and abs(cp.index - BEFORE) <= FOUND_WITHIN and cp.change > 0:
                return night - BEFORE, cp.index - BEFORE, calls
    return None, None, calls


def noise_case(args: tuple[int, Settings]) -> tuple[int, int, int]:
    """(false alarms over the nightly re-runs, confirmed change points of one final run,
    detector calls) for one series of pure noise."""
    seed, s = args
    values = _nights(seed, NOISE_NIGHTS, None, 0.0)
    alarms: list[tuple[int, bool]] = []
    calls = 0
    for night in range(2 * s.min_segment, NOISE_NIGHTS + 1):
        calls += 1
        for cp in _detect(values[:night], s):
            if not cp.confirmed:
                continue
            up = cp.change > 0
            if not any(abs(cp.index - i) <= SAME_ALARM_WITHIN and u == up for i, u in alarms):
                alarms.append((cp.index, up))
    final = sum(cp.confirmed for cp in _detect(values, s))
    return len(alarms), final, calls + 1


def _pct(values: Sequence[int], q: float) -> str:
    return f"{np.percentile(values, q, method='linear'):.0f}" if values else "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100, help="step series per step size")
    parser.add_argument("--noise-series", type=int, default=200)
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--alpha", type=float, default=changepoints.ALPHA)
    parser.add_argument("--permutations", type=int, default=changepoints.PERMUTATIONS)
    parser.add_argument("--confirm", type=int, default=changepoints.CONFIRM)
    parser.add_argument("--window", type=int, default=changepoints.WINDOW)
    parser.add_argument("--min-segment", type=int, default=changepoints.MIN_SEGMENT)
    args = parser.parse_args(argv)
    s = Settings(args.alpha, args.permutations, args.confirm, args.window, args.min_segment)
    print(
        f"E-Divisive means: alpha {s.alpha}, {s.permutations} permutations, window "
        f"{s.window}, min segment {s.min_segment}, confirm {s.confirm}, min effect "
        f"{MIN_EFFECT:.0%}; noise {NOISE_CV:.0%} (lognormal CV), {args.processes} processes"
    )
    started = time.perf_counter()
    calls = 0
    print(
        f"\n{'step':>5} {'series':>6} {'reported':>9} {'delay p50':>9} {'delay p90':>9} "
        f"{'|error| p50':>11} {'within 2':>8}"
    )
    with ProcessPoolExecutor(max_workers=args.processes) as pool:
        for k, step in enumerate(STEPS):
            tasks = [(10_000 * (k + 1) + i, step, s) for i in range(args.series)]
            results = list(pool.map(step_case, tasks, chunksize=4))
            calls += sum(r[2] for r in results)
            delays = [r[0] for r in results if r[0] is not None]
            errors = [abs(r[1]) for r in results if r[1] is not None]
            within = sum(e <= 2 for e in errors)
            print(
                f"{step:>5.0%} {len(results):>6} {len(delays) / len(results):>9.0%} "
                f"{_pct(delays, 50):>9} {_pct(delays, 90):>9} {_pct(errors, 50):>11} "
                f"{(within / len(errors) if errors else 0):>8.0%}"
            )
        noise = list(pool.map(noise_case, [(i, s) for i in range(args.noise_series)], chunksize=4))
    calls += sum(r[2] for r in noise)
    alarms = sum(r[0] for r in noise)
    final = sum(r[1] for r in noise)
    nights = args.noise_series * NOISE_NIGHTS / 100
    series_with = sum(r[0] > 0 for r in noise)
    per_100 = alarms / nights
    verdict = "PASS" if per_100 <= TARGET_FALSE_PER_100 else "FAIL"
    print(
        f"\npure noise, {args.noise_series} series of {NOISE_NIGHTS} nights, re-run nightly: "
        f"{alarms} false alarms ({series_with} series with any) = {per_100:.2f} per 100 "
        f"nights (target <= {TARGET_FALSE_PER_100:g}) {verdict}"
    )
    print(
        f"one run on all {NOISE_NIGHTS} nights: {final} confirmed change points = "
        f"{final / nights:.2f} per 100 nights"
    )
    elapsed = time.perf_counter() - started
    print(f"{calls} detector calls in {elapsed:.0f} s ({elapsed / calls * 1e3:.1f} ms wall each)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
