"""Memory analysis of profiled trials: peak against file size, and the investigation's row.

Pure functions of results data (:class:`harness.results.contract.TrialDoc`); no I/O. Only
profiled trials count: their ``metrics.heap_peak_bytes`` is memray's exact heap high-water
mark. Threshold evaluation reads these through :mod:`harness.analysis.thresholds`.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scipy import stats

from harness.results.contract import TrialDoc

__all__ = [
    "INVESTIGATION_SIZE_BYTES",
    "Fit",
    "MemoryRow",
    "fit_peak_vs_size",
    "memory_row",
    "memory_slope_by_variant",
    "peaks_by_variant_and_size",
    "trial_file_size",
]

# The seed investigation promised "90% less memory for a 50 MB file"; we read MB as MiB,
# the unit our file sets are generated in.
INVESTIGATION_SIZE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Fit:
    """Least-squares line of heap peak (bytes) against file size (bytes).

    ``slope`` is bytes of peak per byte of file: about 1 when the whole file is held in
    memory, near 0 when it is streamed. ``r_squared`` is ``nan`` when every peak is equal.
    """

    slope: float
    intercept: float
    r_squared: float
    n: int
    sizes: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "slope": self.slope,
            "intercept": self.intercept,
            "r_squared": None if math.isnan(self.r_squared) else self.r_squared,
            "n": self.n,
            "sizes": list(self.sizes),
        }


@dataclass(frozen=True)
class MemoryRow:
    """Heap peak for one file size, baseline against candidate (median over repeats)."""

    size_bytes: int
    baseline: str
    candidate: str
    baseline_peak_bytes: int
    candidate_peak_bytes: int

    @property
    def reduction_pct(self) -> float:
        """How much less the candidate needs, in percent of the baseline's peak."""
        if self.baseline_peak_bytes <= 0:
            return 0.0
        return 100.0 * (1.0 - self.candidate_peak_bytes / self.baseline_peak_bytes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "size_bytes": self.size_bytes,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "baseline_peak_bytes": self.baseline_peak_bytes,
            "candidate_peak_bytes": self.candidate_peak_bytes,
            "reduction_pct": self.reduction_pct,
        }


def trial_file_size(trial: TrialDoc) -> int | None:
    """The file size a trial uploaded: its largest file (the one that sets a buffering
    uploader's peak). Read from ``file_size_bytes`` if present, else from the records."""
    explicit = trial.get("file_size_bytes")
    if isinstance(explicit, int) and explicit > 0:
        return explicit
    sizes = [
        r["size"]
        for r in trial.get("records") or ()
        if isinstance(r, Mapping) and isinstance(r.get("size"), int)
    ]
    return max(sizes) if sizes else None


def _heap_peak(trial: TrialDoc) -> int | None:
    metrics = trial.get("metrics") or {}
    peak = metrics.get("heap_peak_bytes")
    if isinstance(peak, int | float) and not isinstance(peak, bool) and peak >= 0:
        return int(peak)
    return None


def _all_uploaded(trial: TrialDoc) -> bool:
    records = trial.get("records") or ()
    return trial.get("status", "ok") == "ok" and all(
        isinstance(r, Mapping) and r.get("outcome", "ok") == "ok" for r in records
    )


def peaks_by_variant_and_size(
    trials: Iterable[TrialDoc], *, complete_only: bool = False
) -> dict[str, dict[int, list[int]]]:
    """Heap peaks of the profiled trials, grouped by variant then file size.

    Unprofiled trials and trials without a peak or a size are skipped; with
    ``complete_only`` so are trials where any upload failed (a client rejected early, or
    one that built the whole body before a 413, says nothing about the size it failed on).
    """
    grouped: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for trial in trials:
        if not trial.get("profiled") or (complete_only and not _all_uploaded(trial)):
            continue
        peak = _heap_peak(trial)
        size = trial_file_size(trial)
        if peak is None or size is None:
            continue
        grouped[str(trial["variant"])][size].append(peak)
    return {variant: dict(by_size) for variant, by_size in grouped.items()}


def fit_peak_vs_size(points: Iterable[tuple[int, int]]) -> Fit:
    """Ordinary least squares (``scipy.stats.linregress``) of peak on size.

    Raises ``ValueError`` with fewer than two distinct sizes: no slope can be told.
    """
    pairs = sorted(points)
    xs = [float(size) for size, _ in pairs]
    ys = [float(peak) for _, peak in pairs]
    distinct = sorted({size for size, _ in pairs})
    if len(distinct) < 2:
        raise ValueError(f"need at least two distinct file sizes to fit, got {distinct}")
    if len(set(ys)) == 1:
        # linregress would report r = 0 here; a flat line explains nothing and nothing varies
        return Fit(0.0, ys[0], math.nan, len(pairs), tuple(distinct))
    result = stats.linregress(xs, ys)
    return Fit(
        slope=float(result.slope),
        intercept=float(result.intercept),
        r_squared=float(result.rvalue) ** 2,
        n=len(pairs),
        sizes=tuple(distinct),
    )


def memory_slope_by_variant(trials: Iterable[TrialDoc]) -> dict[str, Fit]:
    """Fit peak against file size for every variant whose profiled trials, with every upload
    ``ok``, cover at least two sizes. Variants with fewer sizes are left out (no slope
    exists for them)."""
    fits: dict[str, Fit] = {}
    for variant, by_size in peaks_by_variant_and_size(trials, complete_only=True).items():
        if len(by_size) < 2:
            continue
        points = [(size, peak) for size, peaks in by_size.items() for peak in peaks]
        fits[variant] = fit_peak_vs_size(points)
    return fits


def memory_row(
    trials: Iterable[TrialDoc],
    *,
    size_bytes: int = INVESTIGATION_SIZE_BYTES,
    baseline: str = "sync",
    candidate: str = "async",
) -> MemoryRow | None:
    """The investigation's memory row: median heap peak of ``baseline`` and ``candidate``
    for files of exactly ``size_bytes``; ``None`` when either side has no profiled trial
    whose uploads all succeeded."""
    peaks = peaks_by_variant_and_size(trials, complete_only=True)
    base = peaks.get(baseline, {}).get(size_bytes)
    cand = peaks.get(candidate, {}).get(size_bytes)
    if not base or not cand:
        return None
    return MemoryRow(
        size_bytes=size_bytes,
        baseline=baseline,
        candidate=candidate,
        baseline_peak_bytes=int(statistics.median(base)),
        candidate_peak_bytes=int(statistics.median(cand)),
    )
