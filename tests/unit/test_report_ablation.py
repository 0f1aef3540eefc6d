"""The report's ablation ranking: pure, on synthetic trials."""

from __future__ import annotations

from typing import Any

from harness.report.ablation import ALL_OFF, ablation_rows, ablation_table
from harness.report.data import scenarios_of

ALL_OFF_SPEC = (
    "async[async_file_io=off,streaming=off,offload_blocking=off,concurrency=off,pooling=off]"
)


def _trial(variant: str, throughput: float, *, profiled: bool = False, **metrics: float) -> Any:
    return {
        "variant": variant,
        "provider": "supabase",
        "concurrency": 8,
        "status": "ok",
        "profiled": profiled,
        "metrics": {"throughput_bytes_per_s": throughput, **metrics},
    }


def _run(trials: list[Any]) -> Any:
    return {"scenarios": [{"name": "ablation", "baseline": "async", "trials": trials}]}


def test_fixes_ranked_by_throughput_lost_and_all_off_last() -> None:
    trials = []
    for repeat in range(3):
        jitter = 1 + repeat / 100
        trials += [
            _trial("async", 100 * jitter, latency_p50_s=0.2, loop_lag_p99_s=0.004),
            _trial("async[pooling=off]", 90 * jitter, latency_p50_s=0.21),
            _trial("async[concurrency=off]", 15 * jitter, latency_p50_s=0.18),
            _trial("async[offload_blocking=off]", 40 * jitter, loop_lag_p99_s=0.3),
            _trial(ALL_OFF_SPEC, 10 * jitter),
            _trial("sync", 5 * jitter),  # not a switch of the reference: ignored
        ]
    trials += [
        _trial("async", 0, profiled=True, heap_peak_bytes=8 << 20),
        _trial("async[pooling=off]", 0, profiled=True, heap_peak_bytes=9 << 20),
    ]
    (scenario,) = scenarios_of(_run(trials))
    rows = ablation_rows(scenario)
    assert [(r.rank, r.fix) for r in rows] == [
        (1, "concurrency"),
        (2, "offload_blocking"),
        (3, "pooling"),
        (None, ALL_OFF),
    ]
    assert rows[0].throughput_ratio is not None
    assert abs(rows[0].throughput_ratio - 0.15) < 1e-9
    assert rows[1].loop_lag_p99_off == 0.3
    assert rows[2].heap_peak_on == 8 << 20
    assert rows[2].heap_peak_off == 9 << 20
    html = ablation_table(scenario)
    assert html is not None
    assert "6.67x" in html  # concurrency's gain: 100 / 15


def test_a_scenario_without_the_all_on_reference_is_no_ablation() -> None:
    trials = [_trial("sync", 5), _trial("async[pooling=off]", 90)]
    (scenario,) = scenarios_of(_run(trials))
    assert ablation_rows(scenario) == []
    assert ablation_table(scenario) is None
