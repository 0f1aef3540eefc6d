"""The ablation ranking (harness.analysis.ablation) and its table: pure, on synthetic trials."""

from __future__ import annotations

from typing import Any

from harness.analysis.ablation import ALL_OFF, ablation_rows
from harness.report.tables import ablation_table

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


def _scenario(trials: list[Any], specs: dict[str, str] | None = None) -> Any:
    definition = {"variant_specs": specs} if specs is not None else {}
    return {"name": "ablation", "baseline": "async", "definition": definition, "trials": trials}


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
    rows = ablation_rows(_scenario(trials))
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
    html = ablation_table(rows)
    assert html is not None
    assert "6.67x" in html  # concurrency's gain: 100 / 15


def test_a_scenario_without_the_all_on_reference_is_no_ablation() -> None:
    trials = [_trial("sync", 5), _trial("async[pooling=off]", 90)]
    assert ablation_rows(_scenario(trials)) == []
    assert ablation_table([]) is None


def test_named_variants_are_known_by_their_specs_and_shown_by_their_names() -> None:
    # The scenario names its variants (pool-off = "async[pooling=off]"): trials carry the
    # names, the definition maps them to specs, and only the specs say which fix is off.
    specs = {"reference": "async", "pool-off": "async[pooling=off]", "legacy": "sync"}
    trials = [
        _trial(name, value * (1 + repeat / 100))
        for repeat in range(3)
        for name, value in (("reference", 100.0), ("pool-off", 50.0), ("legacy", 5.0))
    ]
    (row,) = ablation_rows(_scenario(trials, specs))
    assert (row.fix, row.variant, row.reference, row.rank) == (
        "pooling",
        "pool-off",
        "reference",
        1,
    )
    html = ablation_table([row])
    assert html is not None
    assert "pool-off" in html
    assert "async[pooling=off]" not in html
