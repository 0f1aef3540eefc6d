"""harness.analysis.changepoints on synthetic series with fixed seeds (no files, no sockets)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from harness.analysis import changepoints
from harness.analysis.changepoints import (
    ChangePoint,
    Point,
    classify,
    detect,
    locate,
    metric_change_points,
    series_from_history,
)
from harness.history import HistoryEntry


def _noisy(seed: int, n: int, level: float = 100.0, cv: float = 0.02) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(level * np.exp(cv * rng.standard_normal(n)))


def _step(
    seed: int, before: int, after: int, change: float, cv: float = 0.02, level: float = 100.0
) -> list[float]:
    values = _noisy(seed, before + after, level, cv)
    return values[:before] + [v * (1.0 + change) for v in values[before:]]


def _cp(change: float, before: float = 100.0) -> ChangePoint:
    after = before * (1.0 + change) if math.isfinite(change) else 1.0
    return ChangePoint(10, before, after, change, 0.01, 10, True)


def test_a_clear_step_is_found_where_it_is_with_its_levels() -> None:
    found = detect(_step(1, 40, 30, 0.30), min_effect=0.05)
    assert len(found) == 1
    cp = found[0]
    assert abs(cp.index - 40) <= 1
    assert cp.before == pytest.approx(100.0, rel=0.03)
    assert cp.after == pytest.approx(130.0, rel=0.03)
    assert cp.change == pytest.approx(0.30, abs=0.03)
    assert cp.p_value <= changepoints.ALPHA
    assert cp.points_after == 70 - cp.index
    assert cp.confirmed


def test_a_step_down_has_a_negative_change() -> None:
    (cp,) = detect(_step(2, 30, 30, -0.25), min_effect=0.05)
    assert abs(cp.index - 30) <= 1
    assert cp.change == pytest.approx(-0.25, abs=0.03)


def test_no_change_point_in_a_constant_series() -> None:
    assert detect([42.0] * 80, min_effect=0.0) == []


@pytest.mark.parametrize("seed", range(5))
def test_no_change_point_in_pure_noise(seed: int) -> None:
    # 12% noise, as in the benchmark: nothing at all on these seeds
    assert not [cp for cp in detect(_noisy(100 + seed, 100, cv=0.12), min_effect=0.05)]


def test_min_effect_drops_a_significant_but_tiny_step() -> None:
    values = _step(3, 30, 30, 0.03, cv=0.002)
    assert detect(values, min_effect=0.05) == []
    (cp,) = detect(values, min_effect=0.01)
    assert cp.change == pytest.approx(0.03, abs=0.005)


def test_two_steps_are_both_found() -> None:
    values = _step(4, 30, 30, 0.30)
    values += [v / 1.3 for v in _noisy(5, 30)]  # back down to 100
    found = detect(values, min_effect=0.05)
    assert len(found) == 2
    assert abs(found[0].index - 30) <= 1
    assert abs(found[1].index - 60) <= 1
    assert found[0].change > 0.25
    assert found[1].change < -0.2
    assert found[0].after == pytest.approx(found[1].before)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_too_short_a_series_has_no_change_points(n: int) -> None:
    assert detect([1.0] * (n // 2) + [9.0] * (n - n // 2), min_effect=0.05) == []


def test_missing_values_are_skipped_and_indices_stay_the_inputs() -> None:
    values: list[float | None] = list(_step(6, 30, 30, 0.30))
    values[5] = None
    values[10] = math.nan
    values[31] = math.inf
    values.insert(30, None)  # a gap right at the step: the new level starts at 31
    (cp,) = detect(values, min_effect=0.05)
    assert cp.index == 31
    assert cp.points_after == 30 - 1  # 31..60, the inf at 32 not counted


def test_only_missing_values_give_nothing() -> None:
    assert detect([None, math.nan] * 20, min_effect=0.05) == []


def test_confirmation_waits_for_points_after_the_step() -> None:
    values = _step(7, 40, 3, 0.30)
    (cp,) = detect(values, min_effect=0.05)
    assert (cp.index, cp.points_after, cp.confirmed) == (40, 3, False)
    (cp,) = detect(values, min_effect=0.05, confirm=3)
    assert cp.confirmed
    (cp,) = detect(_step(7, 40, changepoints.CONFIRM, 0.30), min_effect=0.05)
    assert cp.confirmed


def test_only_the_window_is_analysed() -> None:
    values = _step(8, 20, 60, 0.30)
    assert len(detect(values, min_effect=0.05)) == 1
    assert detect(values, min_effect=0.05, window=50) == []


def test_same_input_same_answer() -> None:
    values = _step(9, 50, 20, 0.10, cv=0.05)
    assert detect(values, min_effect=0.05) == detect(np.array(values), min_effect=0.05)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_effect": -0.1},
        {"min_effect": 0.05, "alpha": 0.0},
        {"min_effect": 0.05, "min_segment": 1},
        {"min_effect": 0.05, "window": 5},
        {"min_effect": 0.05, "confirm": 0},
        {"min_effect": 0.05, "alpha": 0.001, "permutations": 100},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each message names its setting)
        detect([1.0] * 20, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("metric", "change", "expected"),
    [
        ("throughput_bytes_per_s", -0.20, "regression"),
        ("throughput_bytes_per_s", 0.20, "improvement"),
        ("latency_p50_s", 0.20, "regression"),
        ("latency", -0.20, "improvement"),  # an alias
        ("success_rate", -0.02, "regression"),
        ("latency_p50_s", 0.03, None),  # below the 5% minimum effect
        ("latency_p99_s", 0.08, None),  # below the 10% minimum effect
        ("latency_p50_s", 0.0, None),
        ("integrity_errors", math.inf, "regression"),  # from 0: any step counts
    ],
)
def test_classify_by_the_metrics_direction_and_min_effect(
    metric: str, change: float, expected: str | None
) -> None:
    before = 0.0 if math.isinf(change) else 100.0
    assert classify(_cp(change, before), metric) == expected


def test_classify_refuses_an_unknown_metric() -> None:
    with pytest.raises(KeyError):
        classify(_cp(0.2), "nope")


def _runs(
    values: list[float | None], no_commit: tuple[int, ...] = ()
) -> list[tuple[str, str | None, float | None]]:
    return [
        (f"run{i:03d}", None if i in no_commit else f"{i:03d}" + "c" * 37, v)
        for i, v in enumerate(values)
    ]


def test_locate_names_the_runs_on_either_side() -> None:
    values: list[float | None] = list(_step(10, 30, 20, 0.30))
    values[29] = None  # the last run before the step did not measure it
    (found,) = locate(_runs(values), min_effect=0.05)
    assert found.change_point.index == 30
    assert found.last_before == Point("run028", "028" + "c" * 37, values[28])
    assert found.first_after == Point("run030", "030" + "c" * 37, values[30])
    assert found.describe() == (
        "between run run028 (commit 028ccccccccc) and run run030 (commit 030ccccccccc)"
    )


def test_locate_says_when_the_commit_is_unknown() -> None:
    (found,) = locate(_runs(list(_step(11, 28, 20, 0.30)), no_commit=(28,)), min_effect=0.05)
    assert found.change_point.index == 28
    assert found.describe().endswith("and run run028 (unknown commit)")


def test_metric_change_points_classify_and_use_the_metrics_min_effect() -> None:
    runs = _runs(list(_step(12, 30, 20, 0.30)))
    (latency,) = metric_change_points(runs, "latency_p50_s")
    assert (latency.metric, latency.direction) == ("latency_p50_s", "regression")
    (throughput,) = metric_change_points(runs, "throughput")
    assert throughput.metric == "throughput_bytes_per_s"
    assert throughput.direction == "improvement"
    assert throughput.change_point.index == 30
    # an 8% step is a change of latency p50 (5%) but not of latency p99 (10%)
    small = _runs(list(_step(13, 30, 20, 0.08, cv=0.005)))
    assert [m.direction for m in metric_change_points(small, "latency_p50_s")] == ["regression"]
    assert metric_change_points(small, "latency_p99_s") == []


def _entry(
    run_id: str, groups: dict[tuple[str, str, int], dict[str, tuple[float, ...]]]
) -> HistoryEntry:
    return HistoryEntry(
        run_id=run_id,
        started_at=run_id,
        scenario="smoke",
        scenario_hash="h",
        fingerprint="f",
        git_commit=f"c-{run_id}",
        baseline="sync",
        path=Path(f"{run_id}.json"),
        groups=groups,
    )


def test_series_from_history_one_series_per_cell_and_metric() -> None:
    entries = [
        _entry("r1", {("kimi", "async", 4): {"latency_p50_s": (1.0, 3.0, 2.0), "retries": ()}}),
        _entry("r2", {("kimi", "async", 4): {"latency_p50_s": (4.0,)}, ("glm", "sync", 1): {}}),
        _entry("r3", {("glm", "sync", 1): {"latency_p50_s": (5.0, 7.0)}}),
    ]
    series = series_from_history(entries)
    assert series[("smoke", "kimi", "async", 4, "latency_p50_s")] == [
        Point("r1", "c-r1", 2.0),
        Point("r2", "c-r2", 4.0),
    ]
    assert series[("smoke", "kimi", "async", 4, "retries")] == [Point("r1", "c-r1", None)]
    assert series[("smoke", "glm", "sync", 1, "latency_p50_s")] == [Point("r3", "c-r3", 6.0)]
    only = series_from_history(entries, metrics=["latency"])
    assert {key[-1] for key in only} == {"latency_p50_s"}
