"""Synthetic results documents (schema 1) for the statistics, comparison, history and
export tests: real shapes, made-up numbers, no files or sockets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.results import METRIC_NAMES, SCHEMA_VERSION

# Typical per-repeat values of a healthy trial (units as in the results contract).
TYPICAL: dict[str, float] = {
    "wall_s": 2.0,
    "throughput_bytes_per_s": 50e6,
    "files_per_s": 5.0,
    "latency_p50_s": 0.4,
    "latency_p90_s": 0.6,
    "latency_p99_s": 0.8,
    "latency_max_s": 0.9,
    "success_rate": 1.0,
    "timeout_rate": 0.0,
    "error_rate": 0.0,
    "retries": 0.0,
    "integrity_errors": 0.0,
    "connections_opened": 10.0,
    "rss_peak_bytes": 80e6,
    "cpu_user_s": 0.5,
    "cpu_sys_s": 0.2,
}
# Metrics whose value moves with timing noise (the rest are exact counts or rates).
NOISY = (
    "wall_s",
    "throughput_bytes_per_s",
    "files_per_s",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
    "latency_max_s",
    "rss_peak_bytes",
    "cpu_user_s",
    "cpu_sys_s",
)
SLOWER_IS_WORSE = {  # how a slowdown by factor f changes each noisy metric
    "wall_s": 1,
    "throughput_bytes_per_s": -1,
    "files_per_s": -1,
    "latency_p50_s": 1,
    "latency_p90_s": 1,
    "latency_p99_s": 1,
    "latency_max_s": 1,
}


def trial_metrics(
    rng: np.random.Generator, *, slowdown: float = 1.0, cv: float = 0.03
) -> dict[str, float | None]:
    """One trial's metrics: TYPICAL with log-normal noise, slowed down by ``slowdown``."""
    metrics: dict[str, float | None] = dict.fromkeys(METRIC_NAMES)
    for name, value in TYPICAL.items():
        if name in NOISY:
            value = value * float(np.exp(cv * rng.standard_normal()))
        metrics[name] = value * slowdown ** SLOWER_IS_WORSE.get(name, 0)
    return metrics


def make_trial(
    provider: str,
    variant: str,
    concurrency: int,
    repeat: int,
    metrics: Mapping[str, float | None],
    *,
    profiled: bool = False,
    status: str = "ok",
    warmup: bool = False,
) -> dict[str, Any]:
    key = f"s|{provider}|{variant}|c={concurrency}|r={repeat}"
    return {
        "key": key + ("|profiled" if profiled else "") + ("|warmup" if warmup else ""),
        "provider": provider,
        "variant": variant,
        "concurrency": concurrency,
        "repeat": repeat,
        "warmup": warmup,
        "profiled": profiled,
        "status": status,
        "error": None if status == "ok" else "worker killed at its deadline",
        "metrics": dict(metrics),
        "records": [],
    }


def make_scenario(
    name: str,
    *,
    seed: int,
    variants: Sequence[str] = ("sync", "async"),
    providers: Sequence[str] = ("kimi",),
    concurrency: Sequence[int] = (4,),
    repeats: int = 5,
    slowdown: Mapping[str, float] | None = None,
    thresholds: Sequence[str] = (),
    scenario_hash: str | None = None,
    cv: float = 0.03,
    profiled_heap: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """A scenario with interleaved repeats; ``slowdown`` maps a variant to a factor."""
    rng = np.random.default_rng(seed)
    trials = []
    for provider in providers:
        for r in range(repeats):
            for variant in variants:
                for c in concurrency:
                    factor = (slowdown or {}).get(variant, 1.0)
                    metrics = trial_metrics(rng, slowdown=factor, cv=cv)
                    trials.append(make_trial(provider, variant, c, r, metrics))
        for variant, heap in (profiled_heap or {}).items():
            for c in concurrency:
                metrics = dict.fromkeys(METRIC_NAMES)
                metrics["heap_peak_bytes"] = heap
                metrics["wall_s"] = 1000.0  # absurd: a profiled timing must never be used
                trial = make_trial(provider, variant, c, 0, metrics, profiled=True)
                trial["file_size_bytes"] = 5 * 1024 * 1024
                trials.append(trial)
    return {
        "name": name,
        "hash": scenario_hash or f"hash-{name}",
        "definition": {"name": name, "variants": list(variants), "thresholds": list(thresholds)},
        "baseline": variants[0],
        "trials": trials,
    }


def make_results(
    run_id: str,
    scenarios: Sequence[Mapping[str, Any]],
    *,
    started_at: str | None = None,
    fingerprint: str = "fp-A",
    complete: bool = True,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "started_at": started_at or f"2026-11-{run_id[-2:]}T01:00:00Z",
        "finished_at": None,
        "complete": complete,
        "shard": None,
        "environment": {"fingerprint": fingerprint, "git_commit": "abc", "python": "3.11.7"},
        "scenarios": [dict(s) for s in scenarios],
    }
