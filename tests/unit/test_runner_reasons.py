"""The run's harness-error reasons: distinct, counted, one line each (no processes)."""

from __future__ import annotations

from harness.runner import error_reasons


def test_distinct_reasons_are_counted_with_their_variants_most_frequent_first() -> None:
    crash = "worker failed (exit code 2): harness.worker: error: cannot load variant 'x:y'"
    late = "worker killed at the 8 s deadline"
    lines = error_reasons({(late, "slow"): 1, (crash, "x:y"): 3, (late, "hang"): 2})
    assert lines == [
        f"3x {crash} (variant x:y)",
        f"3x {late} (variant hang, slow)",
    ]
    assert all("\n" not in line for line in lines)


def test_no_harness_errors_no_reasons() -> None:
    assert error_reasons({}) == []
