"""Small pure statistics for benchmark verdicts; each function names its method.

The unit of analysis is a *per-repeat summary* (one value per trial, e.g. that trial's
median latency), never pooled requests: machine noise lives between repeats, and requests
within one trial are not independent of each other.

Verdict rule (:func:`verdict`), in this order:

1. fewer than ``min_samples`` values on either side -> ``inconclusive`` (never pass or fail);
2. the ratio of medians (candidate / baseline) and its bootstrap 95% CI: if the CI lies
   inside ``[1 - min_effect, 1 + min_effect]`` -> ``unchanged``;
3. if the CI lies wholly beyond the min-effect boundary on one side *and* the two-sided
   Mann-Whitney U p-value is below ``alpha`` -> ``regressed`` or ``improved`` (by the
   metric's direction);
4. anything else -> ``inconclusive``: the CI straddles the boundary, or the test is not
   significant (3 vs 3 repeats can never reach p < 0.05: the smallest exact two-sided
   p-value is 0.1).

Why both a test and an effect size: on a shared 2-core CI box the noise is large and a
nightly gate that cries wolf gets switched off. Significance alone flags tiny real changes;
the CI-versus-min-effect rule keeps verdicts to changes that matter and says "inconclusive"
honestly when the data cannot tell. Percentile-bootstrap intervals are too narrow with
fewer than about 10 repeats, which is why significance is required as well.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

__all__ = [
    "PERCENTILE_METHOD",
    "Interval",
    "MannWhitney",
    "Noise",
    "SignedRank",
    "Verdict",
    "VerdictName",
    "bootstrap_difference_ci",
    "bootstrap_median_ci",
    "bootstrap_ratio_ci",
    "cluster_bootstrap_mean_ci",
    "coefficient_of_variation",
    "detection_rate",
    "mann_whitney_u",
    "median",
    "median_abs_deviation",
    "min_p_value",
    "min_wilcoxon_p",
    "noise",
    "percentile",
    "percentiles",
    "ratio_of_medians",
    "relative_effect",
    "repeats_needed_normal",
    "repeats_needed_simulated",
    "repeats_to_decide",
    "robust_cv",
    "run_to_run_floor",
    "verdict",
    "wilcoxon_signed_rank",
]

VerdictName = Literal["regressed", "improved", "unchanged", "inconclusive"]

# numpy's default, Hyndman & Fan (1996) definition 7: linear interpolation between order
# statistics, the same as R's default and the worker's latency percentiles.
PERCENTILE_METHOD: Final = "linear"

# Enough resamples for a stable 95% percentile interval (asv and scipy use 10_000; half of
# it keeps a full comparison of many metrics under a second).
_DEFAULT_RESAMPLES = 5000

Samples = Sequence[float] | npt.NDArray[np.float64]


def _array(samples: Samples) -> npt.NDArray[np.float64]:
    values = np.asarray(samples, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError("samples must be one-dimensional")
    if not np.all(np.isfinite(values)):
        raise ValueError("samples must be finite numbers")
    return values


def percentile(samples: Samples, q: float) -> float:
    """The ``q``-th percentile (0..100), Hyndman & Fan definition 7 (numpy ``linear``)."""
    values = _array(samples)
    if values.size == 0:
        raise ValueError("percentile of no samples")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    return float(np.percentile(values, q, method=PERCENTILE_METHOD))


def percentiles(samples: Samples, qs: Sequence[float] = (50.0, 90.0, 99.0)) -> dict[float, float]:
    """Several percentiles at once, same definition as :func:`percentile`."""
    return {float(q): percentile(samples, q) for q in qs}


def median(samples: Samples) -> float:
    """The sample median (mean of the two middle values for an even count)."""
    values = _array(samples)
    if values.size == 0:
        raise ValueError("median of no samples")
    return float(np.median(values))


def ratio_of_medians(baseline: Samples, candidate: Samples) -> float | None:
    """``median(candidate) / median(baseline)``; None when the baseline median is 0."""
    base = median(baseline)
    if base == 0.0:
        return None
    return median(candidate) / base


def relative_effect(baseline: Samples, candidate: Samples) -> float | None:
    """Relative change of the medians, ``ratio_of_medians - 1`` (+0.2 = 20% larger)."""
    ratio = ratio_of_medians(baseline, candidate)
    return None if ratio is None else ratio - 1.0


@dataclass(frozen=True)
class Interval:
    """A confidence interval and how it was computed."""

    low: float
    high: float
    confidence: float
    method: str

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def bootstrap_median_ci(
    samples: Samples,
    *,
    rng: np.random.Generator,
    confidence: float = 0.95,
    n_resamples: int = _DEFAULT_RESAMPLES,
) -> Interval:
    """CI of the median: percentile bootstrap (``scipy.stats.bootstrap``, ``percentile``).

    Percentile rather than BCa because BCa's jackknife fails on the tied, tiny samples
    benchmarks produce; with fewer than ~10 values treat the interval as descriptive.
    """
    values = _array(samples)
    if values.size == 0:
        raise ValueError("confidence interval of no samples")
    result = sps.bootstrap(
        (values,),
        np.median,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=rng,
    )
    ci = result.confidence_interval
    return Interval(float(ci.low), float(ci.high), confidence, "percentile bootstrap of the median")


def _ratio_statistic(
    candidate: npt.NDArray[np.float64], baseline: npt.NDArray[np.float64], axis: int = -1
) -> npt.NDArray[np.float64]:
    # A resample whose baseline median is 0 has no ratio; nan makes the interval undefined
    # instead of silently infinite.
    with np.errstate(divide="ignore", invalid="ignore"):
        base = np.median(baseline, axis=axis)
        ratio = np.median(candidate, axis=axis) / base
    result: npt.NDArray[np.float64] = np.where(base == 0.0, np.nan, ratio)
    return result


def bootstrap_ratio_ci(
    baseline: Samples,
    candidate: Samples,
    *,
    rng: np.random.Generator,
    confidence: float = 0.95,
    n_resamples: int = _DEFAULT_RESAMPLES,
) -> Interval | None:
    """CI of ``median(candidate) / median(baseline)``: two-sample percentile bootstrap.

    Each side is resampled independently (``scipy.stats.bootstrap``, ``paired=False``).
    Returns None when the ratio is undefined in some resamples (a baseline median of 0).
    """
    base = _array(baseline)
    cand = _array(candidate)
    if base.size == 0 or cand.size == 0:
        raise ValueError("confidence interval of no samples")
    if np.median(base) == 0.0:
        return None
    with warnings.catch_warnings():
        # Resamples whose baseline median is 0 give nan; scipy then warns (about BCa, even
        # for the percentile method). The nan interval is handled by _percentile_bootstrap.
        warnings.simplefilter("ignore", sps.DegenerateDataWarning)
        return _percentile_bootstrap(
            (cand, base), _ratio_statistic, "percentile bootstrap of the ratio of medians",
            rng=rng, confidence=confidence, n_resamples=n_resamples,
        )  # fmt: skip


def _percentile_bootstrap(
    samples: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    statistic: Any,
    method: str,
    *,
    rng: np.random.Generator,
    confidence: float,
    n_resamples: int,
) -> Interval | None:
    """The two-sample percentile bootstrap both CIs of medians use (each side resampled
    independently, ``scipy.stats.bootstrap``); None when a bound is not finite."""
    result = sps.bootstrap(
        samples,
        statistic,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=rng,
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return Interval(low, high, confidence, method)


def _difference_statistic(
    baseline: npt.NDArray[np.float64], candidate: npt.NDArray[np.float64], axis: int = -1
) -> npt.NDArray[np.float64]:
    result: npt.NDArray[np.float64] = np.median(candidate, axis=axis) - np.median(
        baseline, axis=axis
    )
    return result


def bootstrap_difference_ci(
    baseline: Samples,
    candidate: Samples,
    *,
    rng: np.random.Generator,
    confidence: float = 0.95,
    n_resamples: int = _DEFAULT_RESAMPLES,
    min_samples: int = 3,
) -> Interval | None:
    """CI of ``median(candidate) - median(baseline)``: two-sample percentile bootstrap,
    each side resampled independently, as :func:`bootstrap_ratio_ci` for a ratio. None with
    fewer than ``min_samples`` values on a side or a non-finite value; with no spread on
    either side, the difference itself (every resample agrees)."""
    base = np.asarray(baseline, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if min(base.size, cand.size) < max(1, min_samples):
        return None
    if not (np.all(np.isfinite(base)) and np.all(np.isfinite(cand))):
        return None
    method = "percentile bootstrap of the difference of medians"
    if np.ptp(base) == 0.0 and np.ptp(cand) == 0.0:
        value = float(np.median(cand) - np.median(base))
        return Interval(value, value, confidence, method)
    return _percentile_bootstrap(
        (base, cand), _difference_statistic, method,
        rng=rng, confidence=confidence, n_resamples=n_resamples,
    )  # fmt: skip


@dataclass(frozen=True)
class MannWhitney:
    """Result of the two-sided Mann-Whitney U test."""

    u: float
    p_value: float
    method: str


def mann_whitney_u(baseline: Samples, candidate: Samples) -> MannWhitney:
    """Two-sided Mann-Whitney U test (``scipy.stats.mannwhitneyu``, ``method="auto"``).

    scipy uses the exact distribution for small samples without ties and the normal
    approximation (tie- and continuity-corrected) otherwise. Identical constant samples
    give p = 1.
    """
    base = _array(baseline)
    cand = _array(candidate)
    if base.size == 0 or cand.size == 0:
        raise ValueError("Mann-Whitney U of no samples")
    if np.all(base == base[0]) and np.all(cand == base[0]):
        return MannWhitney(base.size * cand.size / 2.0, 1.0, "all values equal")
    result = sps.mannwhitneyu(cand, base, alternative="two-sided", method="auto")
    p = float(result.pvalue)
    return MannWhitney(float(result.statistic), 1.0 if math.isnan(p) else p, "Mann-Whitney U")


def min_p_value(n_baseline: int, n_candidate: int) -> float:
    """Smallest two-sided p the exact Mann-Whitney U test can give: ``2 / C(n+m, n)``.

    3 vs 3 gives 0.1 (never significant at 0.05), 4 vs 4 gives 0.029, 6 vs 6 gives 0.0022.
    """
    if n_baseline < 1 or n_candidate < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n_baseline + n_candidate, n_baseline))


def coefficient_of_variation(samples: Samples) -> float | None:
    """Sample standard deviation (ddof=1) over the mean; None below 2 values or mean 0."""
    values = _array(samples)
    if values.size < 2:
        return None
    mean = float(np.mean(values))
    if mean == 0.0:
        return None
    return float(np.std(values, ddof=1)) / abs(mean)


def median_abs_deviation(samples: Samples) -> float:
    """MAD scaled to the normal standard deviation (``scipy.stats.median_abs_deviation``,
    ``scale="normal"``, i.e. x 1.4826)."""
    values = _array(samples)
    if values.size == 0:
        raise ValueError("MAD of no samples")
    return float(sps.median_abs_deviation(values, scale="normal"))


def robust_cv(samples: Samples) -> float | None:
    """Robust coefficient of variation: normal-scaled MAD over the median (outlier-proof)."""
    values = _array(samples)
    if values.size < 2:
        return None
    mid = float(np.median(values))
    if mid == 0.0:
        return None
    return median_abs_deviation(values) / abs(mid)


@dataclass(frozen=True)
class Noise:
    """How noisy a metric is across repeats."""

    n: int
    median: float
    cv: float | None
    robust_cv: float | None
    mad: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def noise(samples: Samples) -> Noise:
    """Noise estimate of per-repeat values: CV (std/mean) and robust CV (MAD/median)."""
    values = _array(samples)
    if values.size == 0:
        raise ValueError("noise of no samples")
    return Noise(
        n=int(values.size),
        median=float(np.median(values)),
        cv=coefficient_of_variation(values),
        robust_cv=robust_cv(values),
        mad=median_abs_deviation(values),
    )


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing a candidate's samples with a baseline's."""

    verdict: VerdictName
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_baseline: int
    n_candidate: int
    median_baseline: float | None
    median_candidate: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%" if abs(x * 100 - round(x * 100)) < 1e-9 else f"{x * 100:.1f}%"


def verdict(
    baseline: Samples,
    candidate: Samples,
    *,
    higher_is_better: bool,
    rng: np.random.Generator,
    min_effect: float = 0.05,
    alpha: float = 0.05,
    min_samples: int = 3,
    confidence: float = 0.95,
    n_resamples: int = _DEFAULT_RESAMPLES,
) -> Verdict:
    """Regressed, improved, unchanged or inconclusive; the reason names the deciding rule.

    Method: ratio of medians with a percentile-bootstrap CI, two-sided Mann-Whitney U, and
    a minimum relative effect (see the module docstring for the rule order). When the
    baseline median is 0 the ratio is undefined and only the U test (plus the direction of
    the medians) can decide a change; two constant, equal samples are ``unchanged``.
    """
    if min_samples < 2:
        raise ValueError("min_samples must be at least 2")
    if not 0.0 <= min_effect < 1.0:
        raise ValueError("min_effect must be within [0, 1)")
    base = _array(baseline)
    cand = _array(candidate)
    nb, nc = int(base.size), int(cand.size)
    med_b = float(np.median(base)) if nb else None
    med_c = float(np.median(cand)) if nc else None

    def make(
        name: VerdictName,
        reason: str,
        p: float | None = None,
        ratio: float | None = None,
        ci: Interval | None = None,
    ) -> Verdict:
        low = None if ci is None else ci.low
        high = None if ci is None else ci.high
        return Verdict(name, ratio, low, high, p, nb, nc, med_b, med_c, reason)

    if med_b is None or med_c is None or nb < min_samples or nc < min_samples:
        return make(
            "inconclusive",
            f"too few samples: {nb} baseline vs {nc} candidate (need >= {min_samples} each)",
        )
    p = mann_whitney_u(base, cand).p_value
    significant = p < alpha
    p_text = f"Mann-Whitney p={p:.3g}"

    def direction(worse: bool) -> VerdictName:
        return "regressed" if worse else "improved"

    if med_b == 0.0:
        if np.all(base == 0.0) and np.all(cand == 0.0):
            return make("unchanged", "both sides are 0 in every sample", p)
        if significant and med_c != med_b:
            worse = (med_c < med_b) if higher_is_better else (med_c > med_b)
            return make(
                direction(worse),
                f"baseline median is 0 (no ratio); {p_text} < {alpha} "
                f"and the candidate median is {med_c:.4g}",
                p,
            )
        return make(
            "inconclusive",
            f"baseline median is 0 (no ratio) and {p_text} shows no shift of the median",
            p,
        )

    ratio = med_c / med_b
    ci = bootstrap_ratio_ci(base, cand, rng=rng, confidence=confidence, n_resamples=n_resamples)
    if ci is None:
        return make(
            "inconclusive",
            "ratio CI undefined: the baseline median is 0 in some resamples",
            p,
            ratio,
        )
    ci_text = f"{confidence:.0%} CI of the ratio [{ci.low:.3f}, {ci.high:.3f}]"
    if 1.0 - min_effect <= ci.low and ci.high <= 1.0 + min_effect:
        return make("unchanged", f"{ci_text} lies inside ±{_pct(min_effect)}", p, ratio, ci)
    above = ci.low > 1.0 + min_effect
    below = ci.high < 1.0 - min_effect
    if above or below:
        side = f"above +{_pct(min_effect)}" if above else f"below -{_pct(min_effect)}"
        if significant:
            worse = below if higher_is_better else above
            return make(
                direction(worse), f"{ci_text} lies {side} and {p_text} < {alpha}", p, ratio, ci
            )
        floor = min_p_value(nb, nc)
        hint = (
            f"; {nb} vs {nc} samples can never reach p < {alpha} (smallest p {floor:.3g})"
            if floor >= alpha
            else ""
        )
        return make(
            "inconclusive", f"{ci_text} lies {side} but {p_text} >= {alpha}{hint}", p, ratio, ci
        )
    return make(
        "inconclusive",
        f"{ci_text} straddles the ±{_pct(min_effect)} boundary ({p_text})",
        p,
        ratio,
        ci,
    )


def run_to_run_floor(run_medians: Samples, *, confidence: float = 0.95) -> float | None:
    """How far a new run's median may stray from earlier runs' by run-to-run noise alone.

    Method: a two-sided ``confidence`` prediction interval for one new observation from k
    earlier ones (Student's t, k-1 degrees of freedom) on the log of the per-run medians:
    ``exp(t * s * sqrt(1 + 1/k)) - 1``. Repeats within one run share that run's machine
    state, so their spread understates this noise. None with fewer than 2 runs or a
    non-positive median (no log).
    """
    values = _array(run_medians)
    if values.size < 2 or np.any(values <= 0.0):
        return None
    logs = np.log(values)
    k = int(values.size)
    t = float(sps.t.ppf(0.5 + confidence / 2.0, k - 1))
    spread = float(np.std(logs, ddof=1))
    return math.expm1(t * spread * math.sqrt(1.0 + 1.0 / k))


def repeats_needed_normal(
    cv: float, effect: float = 0.10, *, alpha: float = 0.05, power: float = 0.80
) -> int:
    """Repeats per side to detect a relative shift ``effect`` given noise ``cv``.

    Method: normal approximation for a two-sided two-sample test,
    ``n = 2 (z_{1-alpha/2} + z_{power})^2 (cv / effect)^2``, divided by the Mann-Whitney U
    test's asymptotic relative efficiency under normality (3/pi), and never below the
    smallest n whose exact U test can reach ``alpha`` at all.
    """
    if cv < 0 or effect <= 0:
        raise ValueError("cv must be >= 0 and effect > 0")
    z = float(sps.norm.ppf(1.0 - alpha / 2.0) + sps.norm.ppf(power))
    n = math.ceil(2.0 * z * z * (cv / effect) ** 2 / (3.0 / math.pi))
    floor = 2
    while min_p_value(floor, floor) >= alpha:
        floor += 1
    return max(n, floor)


def repeats_to_decide(
    cv: float | None,
    min_effect: float,
    ratio: float | None = None,
    *,
    alpha: float = 0.05,
    power: float = 0.80,
    max_n: int = 100,
) -> int | None:
    """Repeats per side with which :func:`verdict` can decide a check that is inconclusive:
    its CI must fit inside the ``min_effect`` boundary (no change) or clear it on one side.

    Method: :func:`repeats_needed_normal` for the margin the CI must shrink to: the minimum
    effect itself (to tell "unchanged" from a change of that size), or, when the observed
    ``ratio`` lies beyond twice the boundary, the wider margin between it and the boundary
    (``|log ratio| - log(1 + min_effect)``: a large change needs fewer repeats). The
    observed ratio of a few noisy repeats is not trusted nearer the boundary than that, so
    the answer is a lower bound. Unknown noise (``cv`` None, fewer than 2 repeats) counts
    as none: then the answer is the smallest n whose exact Mann-Whitney U test can reach
    ``alpha``. None when more than ``max_n`` would be needed.
    """
    if min_effect <= 0:
        raise ValueError("min_effect must be > 0")
    boundary = math.log1p(min_effect)
    margin = boundary
    if ratio is not None and ratio > 0 and math.isfinite(ratio):
        margin = max(boundary, abs(math.log(ratio)) - boundary)
    n = repeats_needed_normal(
        0.0 if cv is None else cv, math.expm1(margin), alpha=alpha, power=power
    )
    return n if n <= max_n else None


def detection_rate(
    samples: Samples,
    n: int,
    *,
    effect: float,
    rng: np.random.Generator,
    alpha: float = 0.05,
    min_effect: float = 0.05,
    simulations: int = 400,
) -> float:
    """Share of simulated n-vs-n comparisons that flag a shift of ``effect``.

    Method: bootstrap simulation from the observed A/A samples: each side draws n values
    with replacement; the candidate's are multiplied by ``1 + effect``. A comparison counts
    as detected when the two-sided Mann-Whitney U p < ``alpha`` and the ratio of medians
    is beyond ``min_effect`` (the verdict's rule with the point estimate standing in for
    the CI, so it is slightly optimistic).
    """
    values = _array(samples)
    if values.size < 2 or n < 2:
        raise ValueError("need at least 2 observed samples and n >= 2")
    a = rng.choice(values, size=(simulations, n), replace=True)
    b = rng.choice(values, size=(simulations, n), replace=True) * (1.0 + effect)
    # ties between resampled values are common; the asymptotic method handles them in bulk
    p = sps.mannwhitneyu(b, a, alternative="two-sided", method="asymptotic", axis=1).pvalue
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.median(b, axis=1) / np.median(a, axis=1)
    big = np.abs(ratio - 1.0) > min_effect
    hit = np.nan_to_num(p, nan=1.0) < alpha
    return float(np.mean(hit & big))


def repeats_needed_simulated(
    samples: Samples,
    *,
    effect: float = 0.10,
    rng: np.random.Generator,
    alpha: float = 0.05,
    power: float = 0.80,
    min_effect: float = 0.05,
    max_n: int = 50,
    simulations: int = 400,
) -> int | None:
    """Smallest n (per side) whose :func:`detection_rate` reaches ``power``; None if > max_n."""
    for n in range(3, max_n + 1):
        if min_p_value(n, n) >= alpha:
            continue
        rate = detection_rate(
            samples,
            n,
            effect=effect,
            rng=rng,
            alpha=alpha,
            min_effect=min_effect,
            simulations=simulations,
        )
        if rate >= power:
            return n
    return None


# Paired designs (harness.analysis.paired: base and head trials of one process and round).


@dataclass(frozen=True)
class SignedRank:
    """Result of the two-sided Wilcoxon signed-rank test of paired differences against 0."""

    statistic: float
    p_value: float
    n_nonzero: int
    method: str


def wilcoxon_signed_rank(differences: Samples) -> SignedRank:
    """Two-sided Wilcoxon signed-rank test of paired differences against 0
    (``scipy.stats.wilcoxon``, ``zero_method="zsplit"``: zero differences split their ranks
    between both sides; ``method="auto"``: exact for up to 50 differences without zeros,
    the normal approximation otherwise). Every difference 0 gives p = 1."""
    values = _array(differences)
    if values.size == 0:
        raise ValueError("Wilcoxon signed-rank test of no differences")
    nonzero = int(np.count_nonzero(values))
    if nonzero == 0:
        return SignedRank(0.0, 1.0, 0, "all differences 0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        result = sps.wilcoxon(values, zero_method="zsplit", alternative="two-sided")
    p = float(result.pvalue)
    return SignedRank(
        float(result.statistic), 1.0 if math.isnan(p) else min(1.0, p), nonzero, "Wilcoxon"
    )


def min_wilcoxon_p(n: int) -> float:
    """Smallest two-sided p the exact Wilcoxon signed-rank test can give with ``n``
    nonzero differences: ``2 / 2^n`` (every difference on one side). 5 pairs give 0.0625
    (never below 0.05), 6 give 0.031, 9 give 0.0039."""
    if n < 1:
        return 1.0
    return min(1.0, 2.0 / 2.0**n)


def cluster_bootstrap_mean_ci(
    groups: Sequence[Samples],
    *,
    rng: np.random.Generator,
    confidence: float = 0.95,
    n_resamples: int = _DEFAULT_RESAMPLES,
) -> Interval:
    """CI of the mean of all values in ``groups`` (clusters, e.g. one per worker process):
    two-stage cluster bootstrap with a percentile interval.

    Method: each resample draws as many groups as there are, with replacement, then within
    each drawn group as many values as it holds, with replacement; the statistic is the
    mean of all drawn values. With one group this is the plain bootstrap of the mean.
    Resampling whole groups keeps what the values of one process share (its machine state)
    in the interval instead of counting its values as independent. Percentiles by
    :data:`PERCENTILE_METHOD`; with fewer than ~10 values treat the interval as
    descriptive (percentile intervals are too narrow then).
    """
    arrays = [_array(g) for g in groups]
    arrays = [a for a in arrays if a.size]
    if not arrays:
        raise ValueError("confidence interval of no samples")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be within (0, 1)")
    k = len(arrays)
    counts = np.array([a.size for a in arrays], dtype=np.int64)
    width = int(counts.max())
    padded = np.zeros((k, width), dtype=np.float64)
    for i, a in enumerate(arrays):
        padded[i, : a.size] = a
    chosen = rng.integers(0, k, size=(n_resamples, k))  # groups drawn per resample
    sizes = counts[chosen]  # (resamples, k)
    within = np.floor(rng.random((n_resamples, k, width)) * sizes[..., None]).astype(np.int64)
    drawn = padded[chosen[..., None], within]  # (resamples, k, width)
    used = np.arange(width)[None, None, :] < sizes[..., None]
    means = np.where(used, drawn, 0.0).sum(axis=(1, 2)) / sizes.sum(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail], method=PERCENTILE_METHOD)
    return Interval(
        float(low),
        float(high),
        confidence,
        "two-stage cluster bootstrap of the mean (groups, then values within each group)",
    )
