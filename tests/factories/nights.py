"""Synthetic but realistic inputs for the report: results.json documents (schema 1),
comparison dicts (``RunComparison.to_dict()`` shape) and 100 nights of history.

Deterministic for a given seed. The numbers follow a simple model of the three variants
(sync: one connection per upload, whole file in memory; naive-async: blocks its loop, so
concurrency buys nothing; async: pooled, streamed, concurrent), so plots and tables look
like a real night and the investigation's claims come out mostly met.
"""

from __future__ import annotations

import hashlib
import math
import random
import statistics
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FINGERPRINT",
    "ScenarioSpec",
    "default_specs",
    "make_comparison",
    "make_history",
    "make_results",
]

MIB = 1024 * 1024
FINGERPRINT = "0123456789abcdef"
VARIANTS = ("sync", "naive-async", "async")


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    claim: str | None
    file_size: int
    files: int
    concurrency: tuple[int, ...]
    faults: dict[str, float] = field(default_factory=dict)  # fault name -> rate
    server_latency_s: float = 0.0


def default_specs() -> list[ScenarioSpec]:
    """The nightly suite's shape: one scenario per claim of the investigation."""
    return [
        ScenarioSpec("memory-50mib", "memory_50mb", 50 * MIB, 1, (1,)),
        ScenarioSpec("throughput-10-files", "throughput_10_files", 5 * MIB, 10, (1, 4, 8)),
        ScenarioSpec(
            "latency-per-upload",
            "latency_per_upload",
            1 * MIB,
            20,
            (4,),
            {"latency": 1.0},
            server_latency_s=0.2,
        ),
        ScenarioSpec("timeouts-under-stall", "timeout_rate", 1 * MIB, 20, (4,), {"stall": 0.06}),
        ScenarioSpec("connection-reuse", "connection_overhead", 256 * 1024, 20, (4,)),
    ]


# per variant: connection setup per upload (s), bandwidth (B/s), loop lag p99 (s or None)
_MODEL: dict[str, tuple[float, float, float | None]] = {
    "sync": (0.12, 40 * MIB, None),
    "naive-async": (0.10, 42 * MIB, 0.35),
    "async": (0.0, 60 * MIB, 0.003),
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _trial(
    spec: ScenarioSpec,
    variant: str,
    concurrency: int,
    repeat: int,
    rng: random.Random,
    *,
    profiled: bool = False,
    slowdown: float = 1.0,
) -> dict[str, Any]:
    setup, bandwidth, lag = _MODEL[variant]
    # sync and naive-async gain nothing from concurrency: one upload at a time in effect
    slots = concurrency if variant == "async" else 1
    free_at = [0.0] * slots
    records = []
    faults: dict[str, int] = {}
    timeouts = retries = 0
    for i in range(spec.files):
        slot = min(range(slots), key=free_at.__getitem__)
        start = free_at[slot] + rng.uniform(0.0005, 0.002)
        duration = (setup + spec.server_latency_s + spec.file_size / bandwidth) * slowdown
        duration *= rng.lognormvariate(0.0, 0.08)
        outcome, attempts, status = "ok", 1, 200
        for fault, rate in spec.faults.items():
            if rng.random() < rate:
                faults[fault] = faults.get(fault, 0) + 1
                if fault == "stall":
                    if variant == "async":  # size-aware timeout, then a retry that succeeds
                        attempts, retries = 2, retries + 1
                        duration += 0.3
                    else:
                        outcome, status, timeouts = "timeout", 0, timeouts + 1
                        duration = 2.0
        end = start + duration
        free_at[slot] = end
        records.append(
            {
                "name": f"f{i:04d}-{spec.file_size // 1024}KiB.bin",
                "size": spec.file_size,
                "start": round(start, 6),
                "end": round(end, 6),
                "attempts": attempts,
                "outcome": outcome,
                "status": status,
                "error": None if outcome == "ok" else "read timeout",
            }
        )
    ok = [r for r in records if r["outcome"] == "ok"]
    lat = [r["end"] - r["start"] for r in ok] or [0.0]
    wall = max(r["end"] for r in records)
    sent = spec.file_size * len(ok)
    heap = None
    profile = None
    if profiled:
        heap = int(spec.file_size * (1.04 if variant != "async" else 0.0) + 4.5 * MIB)
        heap += rng.randrange(0, 64 * 1024)
        steps = 120
        profile = {
            "heap_peak_bytes": heap,
            "flamegraph": f"profiles/{spec.name}-{variant}-c{concurrency}.html",
            "memory_over_time": [
                [
                    round(wall * k / steps, 4),
                    int(20 * MIB + heap * math.sin(math.pi * k / steps) ** 2),
                ]
                for k in range(steps + 1)
            ],
            "top_allocations": [],
        }
    connections = spec.files * attempts if variant != "async" else min(concurrency, spec.files)
    return {
        "key": f"{spec.name}|kimi|{variant}|c={concurrency}|r={repeat}",
        "provider": "kimi",
        "variant": variant,
        "concurrency": concurrency,
        "repeat": repeat,
        "warmup": False,
        "profiled": profiled,
        "status": "ok",
        "error": None,
        "started_at": "2026-11-28T10:30:00Z",
        "duration_s": round(wall + 0.3, 3),
        "metrics": {
            "wall_s": wall,
            "throughput_bytes_per_s": sent / wall,
            "files_per_s": len(ok) / wall,
            "latency_p50_s": _percentile(lat, 0.5),
            "latency_p90_s": _percentile(lat, 0.9),
            "latency_p99_s": _percentile(lat, 0.99),
            "latency_max_s": max(lat),
            "success_rate": len(ok) / spec.files,
            "timeout_rate": timeouts / spec.files,
            "error_rate": (spec.files - len(ok)) / spec.files,
            "retries": retries,
            "integrity_errors": 0,
            "connections_opened": connections,
            "loop_lag_p99_s": None if lag is None else lag * rng.uniform(0.9, 1.1),
            "loop_lag_max_s": None if lag is None else lag * rng.uniform(1.5, 2.5),
            "loop_blocked_fraction": None if lag is None else min(1.0, lag * 2),
            "rss_peak_bytes": int(60 * MIB + (spec.file_size if variant != "async" else MIB)),
            "cpu_user_s": wall * 0.3,
            "cpu_sys_s": wall * 0.1,
            "heap_peak_bytes": heap,
        },
        "records": records,
        "mock": {
            "faults_applied": faults,
            "requests": spec.files + retries,
            "by_status": {"200": len(ok) + 0, **({"0": timeouts} if timeouts else {})},
        },
        "profile": profile,
    }


def make_results(
    *,
    seed: int = 7,
    specs: list[ScenarioSpec] | None = None,
    repeats: int = 5,
    run_id: str = "20261128T103000Z-ab12cd",
    started_at: str = "2026-11-28T10:30:00Z",
    fingerprint: str = FINGERPRINT,
    profiled: bool = True,
    records: bool = True,
    slowdown: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A whole results.json document for the given scenarios (default: the nightly five)."""
    rng = random.Random(seed)
    scenarios = []
    for spec in specs if specs is not None else default_specs():
        trials = []
        # interleaved like the planner: every variant once per repeat round
        for repeat in range(repeats):
            for concurrency in spec.concurrency:
                for variant in VARIANTS:
                    factor = (slowdown or {}).get(f"{spec.name}/{variant}", 1.0)
                    trials.append(_trial(spec, variant, concurrency, repeat, rng, slowdown=factor))
        if profiled:
            for variant in VARIANTS:
                trials.append(
                    _trial(spec, variant, spec.concurrency[-1], 0, rng, profiled=True, slowdown=1.5)
                )
        if not records:
            for trial in trials:
                trial["records"] = []
        definition: dict[str, Any] = {
            "name": spec.name,
            "description": f"{spec.files} file(s) of {spec.file_size // 1024} KiB",
            "files": {"count": spec.files, "size_bytes": spec.file_size},
            "concurrency": list(spec.concurrency),
            "variants": list(VARIANTS),
            "repeats": repeats,
            "faults": [{"kind": k, "rate": r} for k, r in spec.faults.items()],
        }
        if spec.claim:
            definition["claim"] = spec.claim
        scenarios.append(
            {
                "name": spec.name,
                "hash": hashlib.sha256(spec.name.encode()).hexdigest()[:16],
                "definition": definition,
                "baseline": "sync",
                "trials": trials,
            }
        )
    return {
        "schema_version": 1,
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": started_at.replace("10:30", "10:52"),
        "complete": True,
        "shard": None,
        "environment": {
            "python": "3.11.7",
            "implementation": "CPython",
            "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
            "packages": {
                "aiohttp": "3.14.5",
                "httpx": "0.28.1",
                "aiofiles": "24.1.0",
                "memray": "1.20.0",
            },
            "cpu_model": "Synthetic CPU @ 2.0GHz",
            "cpu_count": 2,
            "memory_bytes": 8 * 1024 * MIB,
            "git_commit": "abc1234def5678",
            "git_dirty": False,
            "hostname_hash": "5e2f0a1b2c3d",
            "uvloop": False,
            "fingerprint": fingerprint,
        },
        "scenarios": scenarios,
    }


def _median(trials: list[dict[str, Any]], variant: str, conc: int, metric: str) -> list[float]:
    return [
        t["metrics"][metric]
        for t in trials
        if t["variant"] == variant
        and t["concurrency"] == conc
        and not t["profiled"]
        and t["metrics"][metric] is not None
    ]


def make_comparison(
    results: dict[str, Any], *, history_regression: str | None = "throughput-10-files"
) -> dict[str, Any]:
    """Variant checks of every candidate against sync, one history check per scenario
    (a regression in ``history_regression``) and a memory threshold per scenario."""
    checks = []
    lower_is_better = {"wall_s": True, "latency_p50_s": True, "throughput_bytes_per_s": False}
    for scenario in results["scenarios"]:
        trials = scenario["trials"]
        concs = sorted({t["concurrency"] for t in trials})
        for conc in concs:
            for variant in VARIANTS[1:]:
                for metric, lower in lower_is_better.items():
                    base = _median(trials, "sync", conc, metric)
                    cand = _median(trials, variant, conc, metric)
                    if not base or not cand:
                        continue
                    ratio = statistics.median(cand) / statistics.median(base)
                    better = ratio < 0.95 if lower else ratio > 1.05
                    worse = ratio > 1.05 if lower else ratio < 0.95
                    checks.append(
                        {
                            "scenario": scenario["name"],
                            "provider": "kimi",
                            "variant": variant,
                            "concurrency": conc,
                            "metric": metric,
                            "kind": "variant",
                            "baseline": "sync",
                            "verdict": "improved"
                            if better
                            else "regressed"
                            if worse
                            else "unchanged",
                            "ratio": ratio,
                            "ci_low": ratio * 0.97,
                            "ci_high": ratio * 1.03,
                            "p_value": 0.0079 if (better or worse) else 0.42,
                            "n_baseline": len(base),
                            "n_candidate": len(cand),
                            "reason": "ratio of medians, Mann-Whitney U, min effect 5%",
                            "median_baseline": statistics.median(base),
                            "median_candidate": statistics.median(cand),
                            "gating": False,
                        }
                    )
        regressed = scenario["name"] == history_regression
        checks.append(
            {
                "scenario": scenario["name"],
                "provider": "kimi",
                "variant": "async",
                "concurrency": concs[-1],
                "metric": "throughput_bytes_per_s",
                "kind": "history",
                "baseline": "last 5 nights",
                "verdict": "regressed" if regressed else "unchanged",
                "ratio": 0.82 if regressed else 1.01,
                "ci_low": 0.78 if regressed else 0.97,
                "ci_high": 0.86 if regressed else 1.04,
                "p_value": 0.0043 if regressed else 0.6,
                "n_baseline": 25,
                "n_candidate": 5,
                "reason": "18% slower than the last 5 nights" if regressed else "within noise",
                "gating": True,
            }
        )
        checks.append(
            {
                "scenario": scenario["name"],
                "provider": "kimi",
                "variant": "async",
                "concurrency": concs[-1],
                "metric": "heap_peak_bytes",
                "kind": "threshold",
                "baseline": "<= 16 MiB",
                "verdict": "pass",
                "ratio": None,
                "ci_low": None,
                "ci_high": None,
                "p_value": None,
                "n_baseline": None,
                "n_candidate": 1,
                "reason": "heap_peak_bytes <= 16 MiB",
                "gating": True,
            }
        )
    counts = {
        v: sum(1 for c in checks if c["verdict"] == v)
        for v in ("regressed", "improved", "unchanged", "inconclusive", "pass", "fail")
    }
    exit_code = 1 if counts["regressed"] or counts["fail"] else 0
    return {
        "run_id": results["run_id"],
        "against": "history",
        "notes": ["synthetic comparison"],
        "checks": checks,
        "summary": counts,
        "exit_code": exit_code,
    }


def make_history(
    *,
    nights: int = 100,
    seed: int = 11,
    specs: list[ScenarioSpec] | None = None,
    fingerprint: str = FINGERPRINT,
    other_fingerprint_nights: int = 0,
) -> list[dict[str, Any]]:
    """History records (``harness.history`` v1 shape) of ``nights`` earlier runs, oldest
    first; the async variant gets 20% slower from night 80 on (a step to be seen)."""
    from harness.history import summarize_run

    history: list[dict[str, Any]] = []
    for night in range(nights):
        day = f"2026-{8 + night // 30:02d}-{1 + night % 28:02d}"
        slow = 1.2 if night >= 80 else 1.0
        results = make_results(
            seed=seed + night,
            specs=specs,
            repeats=3,
            run_id=f"night{night:03d}",
            started_at=f"{day}T02:{night % 60:02d}:00Z",
            fingerprint="fedcba9876543210" if night < other_fingerprint_nights else fingerprint,
            profiled=False,
            records=False,
            slowdown={f"{s.name}/async": slow for s in specs or default_specs()},
        )
        history.extend(summarize_run(results))
    return history
