"""Evaluate parsed thresholds (:mod:`harness.thresholds` holds the grammar) on the median
over measured repeats of each metric."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.thresholds import Threshold, format_metric

__all__ = ["ThresholdResult", "evaluate_thresholds"]


@dataclass(frozen=True)
class ThresholdResult:
    """``passed`` is None when there is no data to decide (no repeats, or a zero baseline)."""

    threshold: str
    passed: bool | None
    measured: float | None
    detail: str


def _median_of(rows: Sequence[Mapping[str, float]], metric: str) -> tuple[float | None, int]:
    values = [
        float(row[metric])
        for row in rows
        if isinstance(row.get(metric), int | float) and math.isfinite(float(row[metric]))
    ]
    if not values:
        return None, 0
    return statistics.median(values), len(values)


def _evaluate_one(
    threshold: Threshold, per_variant: Mapping[str, Sequence[Mapping[str, float]]]
) -> ThresholdResult:
    metric = threshold.metric
    median, n = _median_of(per_variant.get(threshold.variant, ()), metric)
    if median is None:
        return ThresholdResult(
            threshold.text, None, None, f"no {metric} data for {threshold.variant!r}"
        )
    if threshold.baseline is None:
        limit = format_metric(metric, threshold.value)
        passed = threshold.holds(median)
        detail = (
            f"median of {n}: {format_metric(metric, median)} "
            f"({'meets' if passed else 'fails'} {threshold.op} {limit})"
        )
        return ThresholdResult(threshold.text, passed, median, detail)
    base, n_base = _median_of(per_variant.get(threshold.baseline, ()), metric)
    if base is None:
        return ThresholdResult(
            threshold.text, None, None, f"no {metric} data for {threshold.baseline!r}"
        )
    if base == 0:
        return ThresholdResult(
            threshold.text, None, None, f"median {metric} of {threshold.baseline!r} is 0"
        )
    ratio = median / base
    passed = threshold.holds(ratio)
    detail = (
        f"medians {format_metric(metric, median)} / {format_metric(metric, base)} "
        f"(n={n}/{n_base}) = {ratio:.3g}x "
        f"({'meets' if passed else 'fails'} {threshold.op} {threshold.value:g}x)"
    )
    return ThresholdResult(threshold.text, passed, ratio, detail)


def evaluate_thresholds(
    thresholds: Sequence[Threshold],
    per_variant: Mapping[str, Sequence[Mapping[str, float]]],
) -> list[ThresholdResult]:
    """Evaluate each threshold on the median over repeats of its metric.

    ``per_variant`` maps a variant spec to its measured trials' metric dicts (never warm-up or
    profiled trials); a missing or non-finite metric in a dict is skipped.
    """
    return [_evaluate_one(threshold, per_variant) for threshold in thresholds]
