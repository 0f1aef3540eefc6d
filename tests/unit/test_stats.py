"""harness.analysis.stats on synthetic data with fixed seeds (nothing here measures time)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from harness.analysis import stats


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _noisy(rng: np.random.Generator, n: int, centre: float, cv: float = 0.05) -> list[float]:
    # log-normal keeps values positive like real durations and throughputs
    return list(centre * np.exp(cv * rng.standard_normal(n)))


def test_every_public_function_names_its_method() -> None:
    for name in stats.__all__:
        obj = getattr(stats, name)
        if inspect.isfunction(obj):
            assert obj.__doc__, f"{name} has no docstring"
    assert "Hyndman" in (stats.percentile.__doc__ or "")
    assert "bootstrap" in (stats.bootstrap_ratio_ci.__doc__ or "")
    assert "Mann-Whitney" in (stats.mann_whitney_u.__doc__ or "")
    assert "normal approximation" in (stats.repeats_needed_normal.__doc__ or "")
    assert "simulation" in (stats.detection_rate.__doc__ or "")


def test_percentile_is_linear_interpolation() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert stats.percentile(values, 50) == 2.5
    assert stats.percentile(values, 0) == 1.0
    assert stats.percentile(values, 100) == 4.0
    assert stats.percentiles(values, (25, 75)) == {25.0: 1.75, 75.0: 3.25}
    with pytest.raises(ValueError, match=r"0\.\.100"):
        stats.percentile(values, 101)
    with pytest.raises(ValueError, match="no samples"):
        stats.median([])


def test_median_ci_contains_the_median() -> None:
    values = _noisy(_rng(1), 15, 10.0)
    ci = stats.bootstrap_median_ci(values, rng=_rng(2))
    assert ci.low <= stats.median(values) <= ci.high
    assert ci.confidence == 0.95
    assert "percentile bootstrap" in ci.method


def test_ratio_ci_is_seeded_and_reproducible() -> None:
    base, cand = _noisy(_rng(3), 9, 1.0), _noisy(_rng(4), 9, 1.2)
    first = stats.bootstrap_ratio_ci(base, cand, rng=_rng(7))
    second = stats.bootstrap_ratio_ci(base, cand, rng=_rng(7))
    assert first == second
    assert first is not None
    assert first.contains(stats.ratio_of_medians(base, cand) or 0)


def test_ratio_undefined_for_zero_baseline() -> None:
    assert stats.ratio_of_medians([0.0, 0.0, 1.0], [1.0, 2.0, 3.0]) is None
    assert stats.relative_effect([2.0, 2.0], [3.0, 3.0]) == pytest.approx(0.5)
    assert stats.bootstrap_ratio_ci([0.0, 0.0, 1.0], [1.0, 1.0, 1.0], rng=_rng()) is None


def test_mann_whitney_finds_a_shift_and_not_identity() -> None:
    rng = _rng(5)
    base = _noisy(rng, 10, 1.0)
    assert stats.mann_whitney_u(base, [x * 1.3 for x in base]).p_value < 0.01
    assert stats.mann_whitney_u(base, list(base)).p_value > 0.5
    assert stats.mann_whitney_u([1.0] * 4, [1.0] * 4).p_value == 1.0


def test_min_p_value_table() -> None:
    # the exact two-sided U test's floor (reference notes, section 5)
    assert stats.min_p_value(3, 3) == pytest.approx(0.1)
    assert stats.min_p_value(4, 4) == pytest.approx(0.0286, abs=1e-4)
    assert stats.min_p_value(6, 6) == pytest.approx(0.0022, abs=1e-4)


def test_noise_estimates() -> None:
    values = [10.0, 10.0, 10.0, 10.0, 20.0]
    n = stats.noise(values)
    assert n.n == 5
    assert n.median == 10.0
    assert n.robust_cv == 0.0  # the outlier does not move MAD
    assert n.cv is not None
    assert n.cv > 0.3
    assert stats.coefficient_of_variation([5.0]) is None
    assert stats.robust_cv([0.0, 0.0, 1.0]) is None


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_known_shift_is_found(higher_is_better: bool) -> None:
    rng = _rng(11)
    base = _noisy(rng, 9, 100.0, cv=0.03)
    slower = _noisy(rng, 9, 125.0, cv=0.03)
    v = stats.verdict(base, slower, higher_is_better=higher_is_better, rng=_rng(12))
    assert v.verdict == ("improved" if higher_is_better else "regressed")
    assert v.ratio == pytest.approx(1.25, rel=0.05)
    assert v.ci_low is not None
    assert v.ci_low > 1.05
    assert v.p_value is not None
    assert v.p_value < 0.05
    assert "Mann-Whitney" in v.reason
    assert "above" in v.reason


def test_no_shift_between_identical_samples() -> None:
    base = _noisy(_rng(13), 9, 50.0, cv=0.01)
    v = stats.verdict(base, list(base), higher_is_better=True, rng=_rng(14))
    assert v.verdict == "unchanged"
    assert v.ratio == 1.0
    assert "inside ±5%" in v.reason


def test_same_distribution_is_never_a_change() -> None:
    flagged = 0
    for seed in range(40):
        rng = _rng(100 + seed)
        a, b = _noisy(rng, 7, 1.0, cv=0.05), _noisy(rng, 7, 1.0, cv=0.05)
        v = stats.verdict(a, b, higher_is_better=False, rng=rng, n_resamples=1000)
        flagged += v.verdict in ("regressed", "improved")
    assert flagged <= 2  # <= 5% false alarms


@pytest.mark.parametrize("n", [1, 2])
def test_too_few_repeats_is_inconclusive_even_for_huge_shifts(n: int) -> None:
    v = stats.verdict([1.0] * n, [10.0] * n, higher_is_better=False, rng=_rng())
    assert v.verdict == "inconclusive"
    assert "too few samples" in v.reason
    same = stats.verdict([1.0] * n, [1.0] * n, higher_is_better=False, rng=_rng())
    assert same.verdict == "inconclusive"


def test_three_vs_three_cannot_be_significant() -> None:
    v = stats.verdict([1.0, 1.01, 0.99], [2.0, 2.02, 1.98], higher_is_better=False, rng=_rng())
    assert v.verdict == "inconclusive"
    assert "can never reach p < 0.05" in v.reason


def test_ci_straddling_the_boundary_is_inconclusive() -> None:
    rng = _rng(21)
    base = _noisy(rng, 6, 1.0, cv=0.15)
    cand = _noisy(rng, 6, 1.05, cv=0.15)
    v = stats.verdict(base, cand, higher_is_better=False, rng=rng)
    assert v.verdict == "inconclusive"
    assert "straddles" in v.reason


def test_small_significant_change_inside_min_effect_is_unchanged() -> None:
    rng = _rng(22)
    base = _noisy(rng, 12, 1.0, cv=0.002)
    cand = _noisy(rng, 12, 1.01, cv=0.002)
    v = stats.verdict(base, cand, higher_is_better=False, rng=rng, min_effect=0.05)
    assert v.p_value is not None
    assert v.p_value < 0.05
    assert v.verdict == "unchanged"


def test_zero_baseline_uses_the_u_test() -> None:
    zeros = [0.0] * 6
    assert stats.verdict(zeros, zeros, higher_is_better=False, rng=_rng()).verdict == "unchanged"
    errors = [0.2, 0.3, 0.25, 0.2, 0.3, 0.22]
    v = stats.verdict(zeros, errors, higher_is_better=False, rng=_rng())
    assert v.verdict == "regressed"
    assert v.ratio is None
    assert "no ratio" in v.reason
    blip = [0.0, 0.0, 0.0, 0.0, 0.0, 0.1]
    assert stats.verdict(zeros, blip, higher_is_better=False, rng=_rng()).verdict == "inconclusive"


def test_ci_coverage_is_roughly_right() -> None:
    # 12 vs 12 log-normal repeats, true ratio of medians 1.1: the 95% percentile-bootstrap
    # interval should cover it in roughly 95% of simulated experiments (it is known to
    # under-cover a little with few samples, hence the wide band).
    rng = _rng(31)
    trials, covered = 150, 0
    for _ in range(trials):
        base = _noisy(rng, 12, 1.0, cv=0.1)
        cand = _noisy(rng, 12, 1.1, cv=0.1)
        ci = stats.bootstrap_ratio_ci(base, cand, rng=rng, n_resamples=1000)
        assert ci is not None
        covered += ci.contains(1.1)
    assert 0.85 <= covered / trials <= 0.995


def test_repeats_needed() -> None:
    assert stats.repeats_needed_normal(0.0) == 4  # exact U test needs 4 vs 4 for p < 0.05
    low, high = stats.repeats_needed_normal(0.05), stats.repeats_needed_normal(0.2)
    assert low < high
    # 2 * (1.96 + 0.84)^2 * (0.2 / 0.1)^2 / (3 / pi) = 65.7
    assert high == 66
    quiet = _noisy(_rng(41), 30, 1.0, cv=0.02)
    noisy = _noisy(_rng(42), 30, 1.0, cv=0.15)
    n_quiet = stats.repeats_needed_simulated(quiet, rng=_rng(43), simulations=200)
    n_noisy = stats.repeats_needed_simulated(noisy, rng=_rng(44), simulations=200)
    assert n_quiet is not None
    assert n_quiet <= 6
    assert n_noisy is None or n_noisy > n_quiet
    rate = stats.detection_rate(quiet, 8, effect=0.2, rng=_rng(45), simulations=200)
    assert rate > 0.9


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="finite"):
        stats.median([1.0, float("nan")])
    with pytest.raises(ValueError, match="min_samples"):
        stats.verdict([1.0], [1.0], higher_is_better=True, rng=_rng(), min_samples=1)


def test_run_to_run_floor_is_a_prediction_interval() -> None:
    medians = [1.0, 1.1, 0.9, 1.05, 0.95]
    logs = np.log(medians)
    # t(0.975, 4 dof) = 2.776; sqrt(1 + 1/5)
    expected = np.expm1(2.776 * np.std(logs, ddof=1) * np.sqrt(1.2))
    assert stats.run_to_run_floor(medians) == pytest.approx(expected, rel=1e-3)
    assert stats.run_to_run_floor([2.0, 2.0, 2.0]) == 0.0
    assert stats.run_to_run_floor([1.0]) is None
    assert stats.run_to_run_floor([0.0, 1.0]) is None


def test_ratio_ci_with_some_zero_baselines_is_undefined_not_a_warning() -> None:
    # resamples with three zeros have a baseline median of 0: no ratio
    assert (
        stats.bootstrap_ratio_ci([1.0, 0.0, 0.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0, 5.0], rng=_rng())
        is None
    )
    v = stats.verdict(
        [1.0, 0.0, 0.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0, 5.0], higher_is_better=False, rng=_rng()
    )
    assert v.verdict == "inconclusive"
    assert "undefined" in v.reason
