"""Paired head-against-base verdicts: one run measures both revisions, pair by pair.

``uploadbench run S --base REV --head REV`` runs every cell (provider, variant,
concurrency, and the file size in a size sweep) for both revisions in the same run. Each
worker process (a *repeat*) runs several measured *rounds*; in each round every cell of
every revision runs once, in a random order, so base round r and head round r of a cell in
process p ran close in time, on the same machine state: they form a **pair**. Comparing
within pairs cancels the drift between processes and rounds that an unpaired comparison
of two runs has to treat as noise.

A pair is a base trial and a head trial (``trial["revision"]["label"]``) with equal
scenario, provider, variant, concurrency, file size (absent: None), ``repeat`` and
``round``, both ``ok``, not warm-ups and not profiled (:func:`_paired_trial`). A trial
without a ``round`` is its process's only round (round 0, as the contract reads older
documents); a trial without a revision label pairs with nothing; a second trial with the
same key and label is ignored (the first counts).

**The scale.** A metric of kind ``fraction`` (success, timeout, error rates, loop blocked)
and a metric whose minimum effect is 0 (integrity errors: any change is one) is compared
on the *difference* scale: per pair ``head - base``, the effect their mean (``delta``).
Every other metric on the *ratio* scale: per pair ``log(head / base)``, the effect
``exp(mean)`` (the ratio, head/base; +5% reads 1.05). The log needs positive values: a
pair of two equal values is no change (0 retries against 0), any other pair with a value
<= 0 is dropped from a ratio-scale check, and the reason says how many were (a pair with a
value missing is dropped from either scale, and counted too).

**Verdict rule** (:func:`paired_checks`), per (scenario, cell, metric), in this order:

1. fewer than :data:`MIN_PAIRS` (6) usable pairs -> ``inconclusive`` ("6 pairs needed,
   have 3"): the smallest exact two-sided Wilcoxon p with n pairs is 2/2^n, so 5 pairs can
   never reach 0.05 and 6 reach 0.031;
2. the CI of the mean per-pair effect (log-ratio, or difference): a two-stage cluster
   bootstrap (:func:`harness.analysis.stats.cluster_bootstrap_mean_ci`: resample the
   processes with replacement, then the pairs within each chosen process with
   replacement; one process: the plain bootstrap over its pairs), percentile interval at
   level ``1 - alpha``, from a seeded numpy Generator per check (reproducible, and
   independent of which other checks ran);
3. if the CI (as ratio - 1, or as a difference) lies inside ``[-min_effect, +min_effect]``
   (the metric table's minimum effect) -> ``unchanged``;
4. if the CI lies wholly on one side of no change (excludes ratio 1 / difference 0) *and*
   the two-sided Wilcoxon signed-rank p (:func:`harness.analysis.stats.wilcoxon_signed_rank`
   on the log-ratios / differences, ``zero_method="zsplit"``; all differences 0 give p = 1)
   is below ``alpha`` -> ``regressed`` or ``improved`` by the metric's direction
   (:data:`harness.metrics.HIGHER_IS_BETTER`). Such a CI is not wholly inside the band (step
   3 came first), so the change may be one that matters;
5. anything else -> ``inconclusive``: the CI straddles no change, or the test is not
   significant.

**alpha.** By default ``0.05 / K`` (Bonferroni), K the number of gating checks
(:data:`harness.metrics.DEFAULT_GATING_METRICS`) computed in the same call, at least 1: a
run with K gating checks keeps its run-level false-alarm rate near 5%. An explicit
``alpha`` overrides. The CI's level follows alpha (``1 - alpha``), so CI and test agree.

While a gating check is inconclusive (:func:`pairs_to_add`) the runner may add pairs, up to
its ``--max-pairs``. :func:`paired_noise` and :func:`pairs_needed` size a run from an A/A
run (base and head of identical code).

Pure: no I/O; trials are read with ``.get`` (``round`` and ``revision`` are optional fields).
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal, cast

import numpy as np
from scipy import stats as sps

from harness.analysis import stats
from harness.analysis.stats import VerdictName
from harness.metrics import (
    DEFAULT_GATING_METRICS,
    HIGHER_IS_BETTER,
    METRIC_TABLE,
    METRICS,
    Metric,
    format_value,
    resolve_metric,
)
from harness.results.contract import ResultsDoc

__all__ = [
    "BASE",
    "FAMILY_ALPHA",
    "HEAD",
    "MIN_PAIRS",
    "PAIRED_METRICS",
    "PairedCheck",
    "PairedNoise",
    "Scale",
    "has_revisions",
    "paired_checks",
    "paired_noise",
    "pairs_needed",
    "pairs_to_add",
    "revisions_of",
    "scale_of",
]

BASE: Final = "base"
HEAD: Final = "head"
# Step 1: the smallest exact two-sided Wilcoxon p with n pairs is 2/2^n (6 pairs: 0.031).
MIN_PAIRS: Final = 6
# The run-level false-alarm rate the default alpha keeps (Bonferroni over gating checks).
FAMILY_ALPHA: Final = 0.05
# Every per-trial timing metric of the metric table (not profiled, not derived).
PAIRED_METRICS: Final[tuple[str, ...]] = tuple(m.name for m in METRIC_TABLE if m.source == "trial")
_DEFAULT_RESAMPLES: Final = 5000

Scale = Literal["ratio", "difference"]
# (provider, variant, concurrency, file size or None)
CellKey = tuple[str, str, int, int | None]
_Pair = tuple[int, Mapping[str, Any], Mapping[str, Any]]  # (repeat, base metrics, head metrics)


def _cell_label(
    scenario: str, provider: str, variant: str, concurrency: int, size: int | None
) -> str:
    parts = [scenario, provider, variant, f"c={concurrency}"]
    if size is not None:
        parts.append(format_value("bytes", size))
    return " / ".join(p for p in parts if p)


@dataclass(frozen=True)
class PairedCheck:
    """One paired verdict: head against base for one cell and metric (see the module
    docstring for the rule). On the ratio scale ``ratio``, ``ci_low`` and ``ci_high`` are
    ratios head/base (``delta`` is None); on the difference scale ``delta``, ``ci_low`` and
    ``ci_high`` are differences head - base (``ratio`` is None)."""

    scenario: str
    provider: str
    variant: str
    concurrency: int
    size: int | None
    metric: str
    gating: bool
    higher_is_better: bool
    scale: Scale
    n_pairs: int
    n_processes: int
    n_dropped: int
    base_median: float | None
    head_median: float | None
    ratio: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    min_effect: float
    alpha: float
    verdict: VerdictName
    reason: str

    @property
    def effect(self) -> float | None:
        """The change on its own scale: ``ratio - 1`` (+0.05 = 5% larger) or ``delta``."""
        if self.scale == "ratio":
            return None if self.ratio is None else self.ratio - 1.0
        return self.delta

    @property
    def effect_ci(self) -> tuple[float, float] | None:
        """The CI as ``(ratio - 1)`` bounds or as difference bounds; None without one."""
        if self.ci_low is None or self.ci_high is None:
            return None
        if self.scale == "ratio":
            return self.ci_low - 1.0, self.ci_high - 1.0
        return self.ci_low, self.ci_high

    @property
    def cell(self) -> str:
        """``scenario / provider / variant / c=N`` (``/ 5 MiB`` in a size sweep)."""
        return _cell_label(self.scenario, self.provider, self.variant, self.concurrency, self.size)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable (plain types, None for what is not there)."""
        return asdict(self)


@dataclass(frozen=True)
class PairedNoise:
    """How much the per-pair effect of one cell and metric scatters (an A/A run: base and
    head of identical code): the standard deviation of the pairs' log-ratios (or
    differences), which :func:`pairs_needed` turns into a number of pairs."""

    scenario: str
    provider: str
    variant: str
    concurrency: int
    size: int | None
    metric: str
    scale: Scale
    n_pairs: int
    n_processes: int
    mean: float
    sd: float

    @property
    def cell(self) -> str:
        return _cell_label(self.scenario, self.provider, self.variant, self.concurrency, self.size)

    def pairs_to_detect(self, effect: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
        """:func:`pairs_needed` for this noise."""
        return pairs_needed(self.sd, effect, alpha=alpha, power=power, scale=self.scale)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _paired_trial(trial: Mapping[str, Any]) -> bool:
    """A trial that may enter a pair: ``ok``, not a warm-up, not profiled (the contract's
    timing rule, written out here because base trials may leave the history's selection)."""
    return trial.get("status") == "ok" and not trial.get("warmup") and not trial.get("profiled")


def _label(trial: Mapping[str, Any]) -> str | None:
    revision = trial.get("revision")
    if not isinstance(revision, Mapping):
        return None
    label = revision.get("label")
    return label if label in (BASE, HEAD) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _trials(doc: ResultsDoc) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for scenario in doc.get("scenarios") or ():
        for trial in scenario.get("trials") or ():
            yield str(scenario.get("name") or ""), cast(Mapping[str, Any], trial)


def has_revisions(doc: ResultsDoc) -> bool:
    """Whether any trial of ``doc`` carries a base or head revision."""
    return any(_label(trial) is not None for _, trial in _trials(doc))


def revisions_of(doc: ResultsDoc) -> dict[str, dict[str, Any]]:
    """Label (``base``, ``head``) -> the revision document (label, ref, commit, dirty), as
    the first trial of each label carries it; empty for a run without revisions."""
    found: dict[str, dict[str, Any]] = {}
    for _, trial in _trials(doc):
        label = _label(trial)
        if label is not None and label not in found:
            found[label] = dict(cast(Mapping[str, Any], trial["revision"]))
    return {label: found[label] for label in (BASE, HEAD) if label in found}


def _cell_key(trial: Mapping[str, Any]) -> CellKey:
    return (
        str(trial.get("provider") or ""),
        str(trial.get("variant") or ""),
        int(trial.get("concurrency") or 0),
        _int(trial.get("file_size_bytes")),
    )


def _pairs_by_cell(doc: ResultsDoc) -> dict[tuple[str, CellKey], list[_Pair]]:
    """Every cell that ran with a revision (a cell whose every trial failed included, with
    no pairs), its pairs in (repeat, round) order."""
    sides: dict[tuple[str, CellKey], dict[str, dict[tuple[int, int], Mapping[str, Any]]]] = {}
    for scenario, trial in _trials(doc):
        label = _label(trial)
        if label is None or trial.get("warmup") or trial.get("profiled"):
            continue
        by_label = sides.setdefault((scenario, _cell_key(trial)), {BASE: {}, HEAD: {}})
        # the contract: a trial without a round is its process's only round
        repeat, round_ = _int(trial.get("repeat")), _int(trial.get("round", 0))
        if not _paired_trial(trial) or repeat is None or round_ is None:
            continue
        metrics = trial.get("metrics")
        by_label[label].setdefault(
            (repeat, round_), metrics if isinstance(metrics, Mapping) else {}
        )
    return {
        key: [
            (at[0], by_label[BASE][at], by_label[HEAD][at])
            for at in sorted(by_label[BASE])
            if at in by_label[HEAD]
        ]
        for key, by_label in sides.items()
    }


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def scale_of(metric: Metric) -> Scale:
    """``difference`` for fractions and for a minimum effect of 0, else ``ratio``."""
    return "difference" if metric.kind == "fraction" or metric.min_effect == 0.0 else "ratio"


@dataclass
class _Prepared:
    """A check's data before alpha is known: per-pair effects by process."""

    scenario: str
    key: CellKey
    metric: Metric
    scale: Scale
    effects: list[tuple[int, float]] = field(default_factory=list)  # (repeat, effect)
    base: list[float] = field(default_factory=list)
    head: list[float] = field(default_factory=list)
    missing: int = 0
    not_positive: int = 0


def _prepare(
    scenario: str, key: CellKey, pairs: Sequence[_Pair], metric: Metric
) -> _Prepared | None:
    """The metric's usable pairs; None when the metric does not apply to the cell (every
    pair lacks it on both sides; a cell without pairs keeps its gating metrics only)."""
    gating = metric.name in DEFAULT_GATING_METRICS
    if not pairs and not gating:
        return None
    values = [
        (repeat, _finite(b.get(metric.name)), _finite(h.get(metric.name))) for repeat, b, h in pairs
    ]
    if pairs and all(b is None and h is None for _, b, h in values):
        return None
    prepared = _Prepared(scenario, key, metric, scale_of(metric))
    for repeat, b, h in values:
        if b is None or h is None:
            prepared.missing += 1
        elif prepared.scale == "ratio" and b != h and (b <= 0.0 or h <= 0.0):
            prepared.not_positive += 1
        else:
            # equal values are no change on either scale (0 retries against 0 retries)
            ratio_scale = prepared.scale == "ratio"
            effect = 0.0 if b == h else math.log(h / b) if ratio_scale else h - b
            prepared.effects.append((repeat, effect))
            prepared.base.append(b)
            prepared.head.append(h)
    return prepared


def _signed_pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


def _effect_text(scale: Scale, metric: Metric, x: float) -> str:
    if scale == "ratio":
        return _signed_pct(x)
    if metric.kind == "fraction":
        return f"{x * 100:+.2f} pp"
    return f"{x:+.3g}"


def _band(scale: Scale, metric: Metric) -> str:
    m = metric.min_effect
    if scale == "ratio":
        return f"±{m * 100:.3g}%"
    if metric.kind == "fraction":
        return f"±{m * 100:.3g} pp"
    return f"±{m:.3g}"


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def _decide(prep: _Prepared, *, alpha: float, resamples: int, seed: int) -> PairedCheck:
    metric, scale = prep.metric, prep.scale
    provider, variant, concurrency, size = prep.key
    n = len(prep.effects)
    processes = sorted({repeat for repeat, _ in prep.effects})
    dropped = prep.missing + prep.not_positive
    notes = []
    if prep.missing:
        notes.append(f"{prep.missing} without a value")
    if prep.not_positive:
        notes.append(f"{prep.not_positive} with a value <= 0 (no log-ratio)")
    dropped_text = f"; {dropped} pair(s) dropped: {', '.join(notes)}" if dropped else ""
    higher = metric.name in HIGHER_IS_BETTER

    def make(
        verdict: VerdictName,
        reason: str,
        *,
        mean: float | None = None,
        ci: tuple[float, float] | None = None,
        p: float | None = None,
    ) -> PairedCheck:
        ratio = delta = low = high = None
        if mean is not None:
            if scale == "ratio":
                ratio = math.exp(mean)
            else:
                delta = mean
        if ci is not None:
            low, high = (math.exp(ci[0]), math.exp(ci[1])) if scale == "ratio" else ci
        return PairedCheck(
            scenario=prep.scenario,
            provider=provider,
            variant=variant,
            concurrency=concurrency,
            size=size,
            metric=metric.name,
            gating=metric.name in DEFAULT_GATING_METRICS,
            higher_is_better=higher,
            scale=scale,
            n_pairs=n,
            n_processes=len(processes),
            n_dropped=dropped,
            base_median=float(np.median(prep.base)) if prep.base else None,
            head_median=float(np.median(prep.head)) if prep.head else None,
            ratio=ratio,
            delta=delta,
            ci_low=low,
            ci_high=high,
            p_value=p,
            min_effect=metric.min_effect,
            alpha=alpha,
            verdict=verdict,
            reason=reason + dropped_text + ".",
        )

    # 1. enough pairs
    if n < MIN_PAIRS:
        return make("inconclusive", f"{MIN_PAIRS} pairs needed, have {n}")
    effects = np.array([e for _, e in prep.effects], dtype=np.float64)
    mean = float(np.mean(effects))
    # 2. the CI: processes, then pairs within each
    groups = [
        np.array([e for r, e in prep.effects if r == repeat], dtype=np.float64)
        for repeat in processes
    ]
    rng_key = f"{prep.scenario}|{provider}|{variant}|{concurrency}|{size}|{metric.name}"
    interval = stats.cluster_bootstrap_mean_ci(
        groups, rng=_rng(seed, rng_key), confidence=1.0 - alpha, n_resamples=resamples
    )
    ci = (interval.low, interval.high)
    test = stats.wilcoxon_signed_rank(effects)
    p = test.p_value
    as_effect = (math.expm1(ci[0]), math.expm1(ci[1])) if scale == "ratio" else ci
    what = "head/base" if scale == "ratio" else "head - base"
    estimate = math.expm1(mean) if scale == "ratio" else mean
    ci_text = (
        f"{what} {_effect_text(scale, metric, estimate)} "
        f"[{_effect_text(scale, metric, as_effect[0])}, "
        f"{_effect_text(scale, metric, as_effect[1])}] "
        f"({(1.0 - alpha) * 100:.4g}% CI, {n} pairs in {len(processes)} process(es))"
    )
    p_text = f"Wilcoxon p={p:.2g}"
    m = metric.min_effect
    # 3. inside the band
    if -m <= as_effect[0] and as_effect[1] <= m:
        return make(
            "unchanged",
            f"{ci_text} lies inside {_band(scale, metric)} ({p_text})",
            mean=mean,
            ci=ci,
            p=p,
        )
    # 4. wholly on one side of no change, and significant
    up, down = ci[0] > 0.0, ci[1] < 0.0
    if (up or down) and p < alpha:
        worse = down if higher else up
        return make(
            "regressed" if worse else "improved",
            f"{ci_text} excludes no change and {p_text} < {alpha:.3g}",
            mean=mean,
            ci=ci,
            p=p,
        )
    # 5. everything else
    if up or down:
        floor = stats.min_wilcoxon_p(test.n_nonzero)
        hint = (
            f" ({test.n_nonzero} nonzero pairs can never reach it: smallest p {floor:.2g})"
            if floor >= alpha
            else ""
        )
        reason = f"{ci_text} excludes no change but {p_text} >= {alpha:.3g}{hint}"
    else:
        reason = f"{ci_text} straddles no change ({p_text})"
    return make("inconclusive", reason, mean=mean, ci=ci, p=p)


def _metrics(metrics: Sequence[str] | None) -> list[Metric]:
    if metrics is None:
        return [METRICS[name] for name in PAIRED_METRICS]
    chosen = {resolve_metric(name) for name in metrics}
    for name in chosen:
        if METRICS[name].source != "trial":
            raise ValueError(f"{name} is not measured in every timed trial: it has no pairs")
    return [METRICS[name] for name in PAIRED_METRICS if name in chosen]


def _prepared(doc: ResultsDoc, metrics: Sequence[str] | None) -> list[_Prepared]:
    chosen = _metrics(metrics)
    out = []
    for (scenario, key), pairs in _pairs_by_cell(doc).items():
        for metric in chosen:
            prep = _prepare(scenario, key, pairs, metric)
            if prep is not None:
                out.append(prep)
    return out


def paired_checks(
    doc: ResultsDoc,
    *,
    metrics: Sequence[str] | None = None,
    alpha: float | None = None,
    resamples: int = _DEFAULT_RESAMPLES,
    seed: int = 0,
    min_effects: Mapping[str, float] | None = None,
) -> list[PairedCheck]:
    """Head against base, one check per (scenario, cell, metric) that has data, in the
    order cells first ran and metrics are in the table; see the module docstring for the
    rule. ``metrics`` (names or aliases, per-trial metrics only): default every one;
    ``alpha``: default ``FAMILY_ALPHA / K``, K the gating checks computed here;
    ``min_effects`` (metric name -> minimum effect) replaces the metric table's (``bisect
    --min-effect``). Empty for a run without revisions."""
    if alpha is not None and not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be within (0, 1)")
    if resamples < 100:
        raise ValueError("resamples must be at least 100")
    prepared = _prepared(doc, metrics)
    if min_effects:
        prepared = [
            dataclasses.replace(
                p, metric=dataclasses.replace(p.metric, min_effect=min_effects[p.metric.name])
            )
            if p.metric.name in min_effects
            else p
            for p in prepared
        ]
    gating = sum(p.metric.name in DEFAULT_GATING_METRICS for p in prepared)
    used = alpha if alpha is not None else FAMILY_ALPHA / max(1, gating)
    return [_decide(p, alpha=used, resamples=resamples, seed=seed) for p in prepared]


def pairs_to_add(checks: Iterable[PairedCheck]) -> bool:
    """Whether more pairs could decide something: a gating check is inconclusive."""
    return any(c.gating and c.verdict == "inconclusive" for c in checks)


def paired_noise(doc: ResultsDoc) -> list[PairedNoise]:
    """Per cell and gating metric with at least 2 usable pairs: the mean and standard
    deviation (ddof=1) of the pairs' log-ratios (differences on the difference scale).
    Read from an A/A run (base and head of identical code), the sd is the per-pair noise
    that :func:`pairs_needed` needs."""
    rows = []
    for prep in _prepared(doc, DEFAULT_GATING_METRICS):
        if len(prep.effects) < 2:
            continue
        effects = np.array([e for _, e in prep.effects], dtype=np.float64)
        provider, variant, concurrency, size = prep.key
        rows.append(
            PairedNoise(
                scenario=prep.scenario,
                provider=provider,
                variant=variant,
                concurrency=concurrency,
                size=size,
                metric=prep.metric.name,
                scale=prep.scale,
                n_pairs=len(prep.effects),
                n_processes=len({r for r, _ in prep.effects}),
                mean=float(np.mean(effects)),
                sd=float(np.std(effects, ddof=1)),
            )
        )
    return rows


def pairs_needed(
    sd: float,
    effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    *,
    scale: Scale = "ratio",
) -> int:
    """Pairs to detect a relative change ``effect`` (0.05 = 5%) with per-pair noise ``sd``.

    Method: normal approximation for a two-sided one-sample test on the mean per-pair
    effect, ``n = ((z_{1-alpha/2} + z_{power}) * sd / log(1 + effect))^2`` rounded up (on
    the difference scale ``effect`` is absolute and replaces ``log(1 + effect)``), and
    never below :data:`MIN_PAIRS` nor below the smallest n whose exact Wilcoxon test can
    reach ``alpha`` at all. It ignores the Wilcoxon test's efficiency (3/pi under
    normality) and any spread between processes, so read it as a lower bound; pass the
    Bonferroni alpha (0.05 / gating checks) to size a whole run.
    """
    if sd < 0 or effect <= 0:
        raise ValueError("sd must be >= 0 and effect > 0")
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise ValueError("alpha and power must be within (0, 1)")
    z = float(sps.norm.ppf(1.0 - alpha / 2.0) + sps.norm.ppf(power))
    shift = math.log1p(effect) if scale == "ratio" else effect
    n = math.ceil(round((z * sd / shift) ** 2, 9))
    floor = MIN_PAIRS
    while stats.min_wilcoxon_p(floor) >= alpha:
        floor += 1
    return max(n, floor)
