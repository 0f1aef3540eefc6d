"""Change points over history: where a metric's nightly series moved to a new level.

Nights compared with the last few nights see a step only once it is large; a change-point
detector looks at the whole recent series and says *where* it moved, by how much and how
sure it is. One series is one (scenario, provider, variant, concurrency, metric) over runs,
oldest first, one value per run (:func:`series_from_history`: the median of the run's
per-repeat values).

**Method: E-Divisive means** (Matteson & James, "A Nonparametric Approach for Multiple
Change Point Analysis of Multivariate Data", JASA 109(505), 2014; as MongoDB runs it on its
performance history: Daly et al., "The Use of Change Point Detection to Identify Software
Performance Regressions in a Continuous Integration System", ICPE 2020, and the
``signal-processing-algorithms`` package), followed by the merge step of Hunter / Apache
Otava (Fleming et al., "Hunter: Using Change Point Detection to Hunt for Performance
Regressions", ICPE 2023) with a minimum effect, and a confirmation delay.

**Rule** (:func:`detect`), in this order:

1. values that are missing (None, NaN, +-inf) are dropped; indices stay those of the input
   series. Only the last ``window`` (:data:`WINDOW`, 100: Netflix looks for change points
   over the last 100 runs) remaining values are analysed; with fewer than
   ``2 * min_segment`` there is nothing to find;
2. candidate: in each segment between change points already found, the split tau that
   maximises the energy statistic q(tau) = m k / (m + k) * (2 mean|x - y| - mean|x - x'| -
   mean|y - y'|) (exponent 1; left part m values, right part k values, right end fixed at
   the segment's end, as ``signal-processing-algorithms`` computes it), both parts at least
   ``min_segment`` (:data:`MIN_SEGMENT`, 3) values; the best candidate over all segments;
3. its significance by a permutation test: the values are shuffled within each segment and
   the largest q over all segments recomputed, ``permutations`` (:data:`PERMUTATIONS`,
   100) times; p = (1 + #{permuted max >= q}) / (1 + permutations). p <= ``alpha``
   (:data:`ALPHA`, 0.01; the test stops as soon as p cannot reach alpha any more, Besag &
   Clifford 1991) -> a change point, back to step 2; otherwise stop;
4. merge (Hunter's merge step with a minimum magnitude): each change point's ``before``
   and ``after`` are the medians of the segments between it and its neighbours; while the
   smallest relative change ``|after / before - 1|`` is below ``min_effect``, that change
   point is dropped and its neighbours recomputed;
5. confirmation: a change point is ``confirmed`` once at least ``confirm``
   (:data:`CONFIRM`, 5) values exist from its index on (the nights after it agree); before
   that it is reported, unconfirmed, with ``points_after`` saying how far it is.

**The defaults** are MongoDB's (p 0.01, 100 permutations; Daly et al. 2020), the last
100 runs, 3 values a side and 5 to confirm. On synthetic nights (``benchmarks/changepoints.py``:
12% lognormal noise, the detector re-run every night as a nightly job would, every confirmed
change point it ever reports counted) they give 0.2 false change points per 100 nights of
pure noise (the goal: at most 1), and see a 20% step after a median 7 nights (90%: 14), a
10% step in 74% of series within 40 nights (median 13 nights), a 5% step rarely (24%
within 40 nights): at 12% noise one value a night is slow, same-run A/B is the fast path.
The goal is per series: a suite of K series sees about K times as many. alpha 0.001 with
1000 permutations cuts false change points to 0.03 per 100 nights at the cost of a few
nights' delay (10%: 57% within 40 nights). The permutations are drawn from a Generator
seeded with ``seed``, so a series always gives the same answer.

**Why our own code** rather than a package: ``apache-otava`` 0.8.0 pins numpy 2.2
and scipy < 1.17 (we run numpy 2.4, scipy 1.17) and brings BigQuery, Postgres and Slack
clients; MongoDB's ``signal-processing-algorithms`` 2.1.6 needs numpy < 2 and gevent,
returns indices only (no p-values, no levels) and draws from numpy's global random state;
``ruptures`` (light, BSD) segments by a penalised cost with no significance test. This is
the published method on numpy alone, seeded, with the p-values and levels we report.

Direction (:func:`classify`) comes from :data:`harness.metrics.HIGHER_IS_BETTER` and the
minimum step that counts from :data:`harness.metrics.MIN_EFFECT`.

Pure: no I/O, no clock, no global random state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Final, Literal, NamedTuple, TypedDict, Unpack

import numpy as np
import numpy.typing as npt

from harness.metrics import HIGHER_IS_BETTER, MIN_EFFECT, resolve_metric

if TYPE_CHECKING:
    from harness.history import HistoryEntry

__all__ = [
    "ALPHA",
    "CONFIRM",
    "MIN_SEGMENT",
    "PERMUTATIONS",
    "WINDOW",
    "ChangePoint",
    "Direction",
    "LocatedChangePoint",
    "MetricChangePoint",
    "Options",
    "Point",
    "SeriesKey",
    "classify",
    "detect",
    "locate",
    "metric_change_points",
    "series_from_history",
]

# Step 1: the most recent values analysed (Netflix: change points over the last 100 runs).
WINDOW: Final = 100
# Step 2: the fewest values on either side of a change point.
MIN_SEGMENT: Final = 3
# Step 3: significance level and permutations of the permutation test.
ALPHA: Final = 0.01
PERMUTATIONS: Final = 100
# Step 5: values from the change point on (itself included) before it counts.
CONFIRM: Final = 5
# Permutations are drawn in batches, so a hopeless candidate stops after the first ones.
_BATCH: Final = 25

Direction = Literal["regression", "improvement"]
# (scenario, provider, variant, concurrency, metric)
SeriesKey = tuple[str, str, str, int, str]
_Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ChangePoint:
    """One change of level in a series (see the module docstring for the rule)."""

    index: int  # first value of the new level, 0-based into the input series
    before: float  # median of the segment before it (back to the previous change point)
    after: float  # median of the segment from it (up to the next change point)
    change: float  # after / before - 1 (+0.1 = 10% higher); +-inf when before is 0
    p_value: float  # the permutation test's p when it was found (step 3)
    points_after: int  # values from ``index`` to the end: the nights that confirm it
    confirmed: bool  # points_after >= confirm


class Point(NamedTuple):
    """One run's value of one series; ``value`` None when the run did not measure it."""

    run_id: str
    commit: str | None
    value: float | None


@dataclass(frozen=True)
class LocatedChangePoint:
    """A change point with the runs on either side: the last run of the old level and the
    first run of the new one (runs without a value in between are skipped)."""

    change_point: ChangePoint
    last_before: Point
    first_after: Point

    def describe(self) -> str:
        """``between run X (commit a) and run Y (commit b)``."""
        return f"between {_run_text(self.last_before)} and {_run_text(self.first_after)}"


@dataclass(frozen=True)
class MetricChangePoint:
    """A change point of one metric that matters: a regression or an improvement by the
    metric's direction, at least the metric's minimum effect."""

    metric: str
    direction: Direction
    located: LocatedChangePoint

    @property
    def change_point(self) -> ChangePoint:
        return self.located.change_point


def _run_text(point: Point) -> str:
    commit = "unknown commit" if point.commit is None else f"commit {point.commit[:12]}"
    return f"run {point.run_id} ({commit})"


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _relative_change(before: float, after: float) -> float:
    if before == 0.0:
        return 0.0 if after == 0.0 else math.copysign(math.inf, after)
    return (after - before) / abs(before)


def _energy(distances: _Array, min_segment: int) -> _Array:
    """q(tau) for every split of each segment in a batch: ``distances`` is (B, n, n), the
    result (B, n + 1), -inf where either side would hold fewer than ``min_segment``."""
    n = distances.shape[-1]
    upper = np.triu(distances, 1)
    # within(left of tau) = sum over i < j < tau; within(right) = sum over tau <= i < j
    zeros = np.zeros((*distances.shape[:-2], 1))
    within_left = np.concatenate([zeros, np.cumsum(upper.sum(axis=-2), axis=-1)], axis=-1)
    right_rows = np.cumsum(upper.sum(axis=-1)[..., ::-1], axis=-1)[..., ::-1]
    within_right = np.concatenate([right_rows, zeros], axis=-1)
    between = within_left[..., -1:] - within_left - within_right
    q = np.full(within_left.shape, -np.inf)
    tau = np.arange(min_segment, n - min_segment + 1)
    if tau.size:
        m = tau.astype(np.float64)
        k = n - m
        e = (
            2.0 * between[..., tau] / (m * k)
            - within_left[..., tau] / (m * (m - 1) / 2)
            - within_right[..., tau] / (k * (k - 1) / 2)
        )
        q[..., tau] = m * k / n * e
    return q


def _segments(bounds: Sequence[int], min_segment: int) -> list[tuple[int, int]]:
    return [(a, b) for a, b in pairwise(bounds) if b - a >= 2 * min_segment]


def _permutation_p(
    distances: _Array,
    segments: Sequence[tuple[int, int]],
    observed: float,
    *,
    alpha: float,
    permutations: int,
    min_segment: int,
    rng: np.random.Generator,
) -> float | None:
    """Step 3: the permutation p of ``observed``, or None once it cannot reach ``alpha``."""
    limit = alpha * (permutations + 1) - 1.0  # p <= alpha <=> exceedances <= limit
    exceed = 0
    done = 0
    while done < permutations:
        batch = min(_BATCH, permutations - done)
        largest = np.full(batch, -np.inf)
        for a, b in segments:
            order = np.argsort(rng.random((batch, b - a)), axis=1) + a
            shuffled = distances[order[:, :, None], order[:, None, :]]
            largest = np.maximum(largest, _energy(shuffled, min_segment).max(axis=1))
        # a hair of tolerance: a permutation equal to the observed split ties with it
        exceed += int(np.count_nonzero(largest >= observed - 1e-12 * abs(observed)))
        done += batch
        if exceed > limit:
            return None
    return (1 + exceed) / (1 + permutations)


def _divide(
    values: _Array, *, alpha: float, permutations: int, min_segment: int, seed: int
) -> dict[int, float]:
    """Steps 2-3: E-Divisive's change points (positions in ``values``) and their p."""
    rng = np.random.default_rng(seed)
    distances = np.abs(values[:, None] - values[None, :])
    found: dict[int, float] = {}
    best_of: dict[tuple[int, int], tuple[float, int]] = {}
    while True:
        bounds = [0, *sorted(found), values.size]
        segments = _segments(bounds, min_segment)
        if not segments:
            return found
        for a, b in segments:
            if (a, b) not in best_of:
                q = _energy(distances[None, a:b, a:b], min_segment)[0]
                tau = int(np.argmax(q))
                best_of[(a, b)] = (float(q[tau]), a + tau)
        observed, index = max(best_of[s] for s in segments)
        if not observed > 0.0:  # a constant segment: nothing to split
            return found
        p = _permutation_p(
            distances,
            segments,
            observed,
            alpha=alpha,
            permutations=permutations,
            min_segment=min_segment,
            rng=rng,
        )
        if p is None:
            return found
        found[index] = p


def _levels(values: _Array, cuts: Sequence[int]) -> list[tuple[float, float]]:
    """(before, after) medians around each cut, segments bounded by the neighbouring cuts."""
    bounds = [0, *cuts, values.size]
    medians = [float(np.median(values[a:b])) for a, b in pairwise(bounds)]
    return list(pairwise(medians))


def _merge(values: _Array, cuts: list[int], min_effect: float) -> list[int]:
    """Step 4: drop the weakest change point while it is below ``min_effect``."""
    while cuts:
        changes = [abs(_relative_change(b, a)) for b, a in _levels(values, cuts)]
        weakest = min(range(len(cuts)), key=lambda i: changes[i])
        if changes[weakest] >= min_effect:
            break
        del cuts[weakest]
    return cuts


class Options(TypedDict, total=False):
    """The detector's settings besides the minimum effect, as :func:`locate` and
    :func:`metric_change_points` pass them on to :func:`detect` (whose signature holds the
    defaults: :data:`WINDOW`, :data:`ALPHA`, :data:`MIN_SEGMENT`, :data:`CONFIRM`,
    :data:`PERMUTATIONS`, seed 0)."""

    window: int
    alpha: float
    min_segment: int
    confirm: int
    permutations: int
    seed: int


def detect(
    values: Sequence[float | None] | npt.NDArray[np.float64],
    *,
    min_effect: float,
    window: int = WINDOW,
    alpha: float = ALPHA,
    min_segment: int = MIN_SEGMENT,
    confirm: int = CONFIRM,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> list[ChangePoint]:
    """Change points of one series, oldest value first, by E-Divisive means (permutation
    test) and Hunter's merge step with a minimum effect; the rule is the module docstring's.

    ``min_effect`` is relative (0.05: a step must move the median by 5%). Returns confirmed
    and unconfirmed change points in index order; ``confirmed`` says which count.
    """
    if min_effect < 0.0 or not math.isfinite(min_effect):
        raise ValueError(f"min_effect must be a finite number >= 0, got {min_effect}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    if min_segment < 2:
        raise ValueError(f"min_segment must be >= 2, got {min_segment}")
    if window < 2 * min_segment:
        raise ValueError(f"window must be >= 2 * min_segment ({2 * min_segment}), got {window}")
    if permutations < 1 or confirm < 1:
        raise ValueError("permutations and confirm must be >= 1")
    if alpha * (permutations + 1) < 1.0:
        raise ValueError(
            f"{permutations} permutations cannot give p <= {alpha}: the smallest p is "
            f"1/{permutations + 1}"
        )
    kept = [(i, x) for i, v in enumerate(values) if (x := _finite(v)) is not None][-window:]
    if len(kept) < 2 * min_segment:
        return []
    positions = [i for i, _ in kept]
    series = np.array([x for _, x in kept], dtype=np.float64)
    found = _divide(
        series, alpha=alpha, permutations=permutations, min_segment=min_segment, seed=seed
    )
    cuts = _merge(series, sorted(found), min_effect)
    return [
        ChangePoint(
            index=positions[cut],
            before=before,
            after=after,
            change=_relative_change(before, after),
            p_value=found[cut],
            points_after=series.size - cut,
            confirmed=series.size - cut >= confirm,
        )
        for cut, (before, after) in zip(cuts, _levels(series, cuts), strict=True)
    ]


def locate(
    points: Sequence[Point | tuple[str, str | None, float | None]],
    *,
    min_effect: float,
    **options: Unpack[Options],
) -> list[LocatedChangePoint]:
    """:func:`detect` over runs given as ``(run_id, commit, value)``, oldest first; each
    change point comes with the last run before it and the first run of the new level
    (runs without a value are skipped on both sides)."""
    runs = [Point(*p) for p in points]
    found = detect([p.value for p in runs], min_effect=min_effect, **options)
    measured = [i for i, p in enumerate(runs) if _finite(p.value) is not None]
    located = []
    for cp in found:
        previous = max(i for i in measured if i < cp.index)
        located.append(LocatedChangePoint(cp, runs[previous], runs[cp.index]))
    return located


def classify(change_point: ChangePoint, metric: str) -> Direction | None:
    """``regression`` or ``improvement`` by the metric's direction
    (:data:`harness.metrics.HIGHER_IS_BETTER`); None for a step smaller than the metric's
    minimum effect (:data:`harness.metrics.MIN_EFFECT`; a metric whose minimum effect is
    0, integrity errors, counts any step) or no step at all."""
    name = resolve_metric(metric)
    change = change_point.change
    if math.isnan(change) or change == 0.0 or abs(change) < MIN_EFFECT[name]:
        return None
    worse = change < 0.0 if name in HIGHER_IS_BETTER else change > 0.0
    return "regression" if worse else "improvement"


def metric_change_points(
    points: Sequence[Point | tuple[str, str | None, float | None]],
    metric: str,
    **options: Unpack[Options],
) -> list[MetricChangePoint]:
    """The change points of one metric's series that matter: :func:`locate` with the
    metric's minimum effect, each classified by :func:`classify` (confirmed or not: read
    ``change_point.confirmed``)."""
    name = resolve_metric(metric)
    located = locate(points, min_effect=MIN_EFFECT[name], **options)
    out = []
    for item in located:
        direction = classify(item.change_point, name)
        if direction is not None:
            out.append(MetricChangePoint(name, direction, item))
    return out


def series_from_history(
    entries: Iterable[HistoryEntry], metrics: Iterable[str] | None = None
) -> dict[SeriesKey, list[Point]]:
    """One series per (scenario, provider, variant, concurrency, metric) from history
    entries, in the entries' order (:func:`harness.history.load_history` gives them oldest
    first): one point per run whose cell has the metric, its value the median of the run's
    per-repeat values (None when none of them is a finite number: a gap, skipped by
    :func:`detect`).

    Pass comparable entries only (one scenario definition and environment fingerprint,
    as :func:`harness.history.select_comparable` chooses them): a new machine is a change
    point too, and not one of the code.
    """
    wanted = None if metrics is None else {resolve_metric(m) for m in metrics}
    series: dict[SeriesKey, list[Point]] = {}
    for entry in entries:
        groups: Mapping[tuple[str, str, int], Mapping[str, tuple[float, ...]]] = entry.groups
        for (provider, variant, concurrency), samples in sorted(groups.items()):
            for metric, values in samples.items():
                if wanted is not None and metric not in wanted:
                    continue
                finite = [v for v in values if math.isfinite(v)]
                value = float(np.median(finite)) if finite else None
                key = (entry.scenario, provider, variant, concurrency, metric)
                series.setdefault(key, []).append(Point(entry.run_id, entry.git_commit, value))
    return series
