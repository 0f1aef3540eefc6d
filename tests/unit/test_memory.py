"""The size-sweep fit and the investigation's memory row, on synthetic trials."""

from __future__ import annotations

import math
from typing import Any

import pytest

from harness.analysis.memory import (
    INVESTIGATION_SIZE_BYTES,
    fit_peak_vs_size,
    memory_row,
    memory_slope_by_variant,
    peaks_by_variant_and_size,
    trial_file_size,
)

MIB = 1024 * 1024
SIZES = (16 * MIB, 50 * MIB, 128 * MIB, 256 * MIB)


def trial(variant: str, size: int, peak: int | None, *, profiled: bool = True) -> dict[str, Any]:
    metrics: dict[str, Any] = {"wall_s": None if profiled else 1.0}
    if peak is not None:
        metrics["heap_peak_bytes"] = peak
    return {
        "variant": variant,
        "concurrency": 1,
        "repeat": 0,
        "profiled": profiled,
        "metrics": metrics,
        "records": [{"size": size, "outcome": "ok"}],
    }


def sweep() -> list[dict[str, Any]]:
    """sync holds the whole file plus a copy's worth of headers; async streams 1 MiB chunks."""
    out = []
    for i, size in enumerate(SIZES):
        out.append(trial("sync", size, int(1.02 * size) + 30 * MIB + 1000 * i))
        out.append(trial("async", size, 3 * MIB + (i % 2) * 64 * 1024))
    return out


def test_fit_recovers_a_known_line() -> None:
    points = [(s, 2 * s + 7) for s in SIZES]
    fit = fit_peak_vs_size(points)
    assert fit.slope == pytest.approx(2.0)
    assert fit.intercept == pytest.approx(7.0, abs=1e-3)
    assert fit.r_squared == pytest.approx(1.0)
    assert fit.n == 4
    assert fit.sizes == SIZES


def test_fit_of_a_flat_line_has_zero_slope_and_no_r_squared() -> None:
    fit = fit_peak_vs_size([(s, 5 * MIB) for s in SIZES])
    assert fit.slope == 0.0
    assert fit.intercept == 5 * MIB
    assert math.isnan(fit.r_squared)
    assert fit.as_dict()["r_squared"] is None


def test_fit_needs_two_distinct_sizes() -> None:
    with pytest.raises(ValueError, match="two distinct file sizes"):
        fit_peak_vs_size([(MIB, 10), (MIB, 12)])


def test_slope_by_variant_tells_buffering_from_streaming() -> None:
    fits = memory_slope_by_variant(sweep())
    assert set(fits) == {"sync", "async"}
    assert fits["sync"].slope > 0.9
    assert fits["sync"].r_squared > 0.99
    assert fits["async"].slope < 0.05
    assert fits["async"].intercept == pytest.approx(3 * MIB, rel=0.05)


def test_unprofiled_trials_never_enter_the_fit() -> None:
    # an unprofiled trial with an absurd peak would wreck the async slope if it counted
    trials = [*sweep(), trial("async", 256 * MIB, 10**12, profiled=False)]
    assert memory_slope_by_variant(trials)["async"].slope < 0.05


def test_variants_with_one_size_or_no_peak_are_left_out() -> None:
    trials = [
        *sweep(),
        trial("naive-async", 16 * MIB, 20 * MIB),
        trial("naive-async", 16 * MIB, 21 * MIB),
        trial("cmd:curl", 16 * MIB, None),
        trial("cmd:curl", 50 * MIB, None),
    ]
    assert set(memory_slope_by_variant(trials)) == {"sync", "async"}
    assert peaks_by_variant_and_size(trials)["naive-async"] == {16 * MIB: [20 * MIB, 21 * MIB]}


def test_file_size_prefers_the_explicit_field_then_the_largest_record() -> None:
    t = trial("sync", 3, 1)
    t["records"] = [{"size": 3}, {"size": 9}, {"size": 4}]
    assert trial_file_size(t) == 9
    t["file_size_bytes"] = 11
    assert trial_file_size(t) == 11
    assert trial_file_size({"variant": "x", "records": []}) is None


def test_memory_row_is_the_median_at_fifty_mib() -> None:
    size = INVESTIGATION_SIZE_BYTES
    trials = [
        *sweep(),
        trial("sync", size, 100 * MIB),  # repeats: the median, not the mean, is reported
        trial("sync", size, 1000 * MIB),
    ]
    row = memory_row(trials)
    assert row is not None
    sync_peaks = sorted([int(1.02 * size) + 30 * MIB + 1000, 100 * MIB, 1000 * MIB])
    assert row.baseline_peak_bytes == sync_peaks[1]
    assert row.candidate_peak_bytes == 3 * MIB + 64 * 1024
    assert row.reduction_pct == pytest.approx(100 * (1 - row.candidate_peak_bytes / sync_peaks[1]))
    assert row.as_dict()["reduction_pct"] == row.reduction_pct


def test_memory_row_is_none_without_both_sides() -> None:
    only_sync = [t for t in sweep() if t["variant"] == "sync"]
    assert memory_row(only_sync) is None
    assert memory_row(sweep(), size_bytes=7) is None


def test_memory_thresholds_read_the_profiled_sweep_and_nothing_else() -> None:
    from harness.analysis.thresholds import threshold_outcomes

    trials = sweep()
    for t in trials:
        t.update(status="ok", warmup=False, provider="kimi")
    timed = [
        {**trial(v, SIZES[0], None, profiled=False), "status": "ok", "provider": "kimi"}
        for v in ("async", "sync")
    ]
    timed[0]["metrics"]["heap_peak_bytes"] = 1.0  # never read: timing trials hold no peak
    texts = [
        "async.memory_slope < 0.05",
        "sync.memory_slope > 0.9",
        "async.heap < 8MiB",
        "async.wall_s < 2s",
    ]
    scenario: dict[str, Any] = {
        "name": "sweep",
        "definition": {"thresholds": texts, "variants": ["sync", "async"]},
        "trials": [*trials, *timed],
    }
    outcomes = threshold_outcomes(scenario)  # type: ignore[arg-type]
    assert [o.verdict for o in outcomes] == ["pass", "pass", "pass", "pass"]
    assert outcomes[0].measured == pytest.approx(memory_slope_by_variant(trials)["async"].slope)
    assert outcomes[2].measured == 3 * MIB + 32 * 1024  # the profiled peaks' median
    assert outcomes[3].measured == 1.0  # wall time from the timing trial only


def test_failed_uploads_say_nothing_about_size() -> None:
    """A 413 after the client built the whole body, or a refusal before it read a byte,
    must not bend the slope or the 50 MiB row; it still counts as a peak under faults."""
    rejected = trial("async", 256 * MIB, 900 * MIB)
    rejected["records"][0]["outcome"] = "http_error"
    broken = trial("sync", INVESTIGATION_SIZE_BYTES, 1)
    broken["status"] = "harness_error"
    trials = [*sweep(), rejected, broken]
    assert memory_slope_by_variant(trials)["async"].slope < 0.05
    row = memory_row(trials)
    assert row is not None
    assert row.baseline_peak_bytes > 50 * MIB
    assert 900 * MIB in peaks_by_variant_and_size(trials)["async"][256 * MIB]
    assert (
        900 * MIB not in peaks_by_variant_and_size(trials, complete_only=True)["async"][256 * MIB]
    )
