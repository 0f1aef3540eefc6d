"""Scenarios -> the ordered list of trials of a run, and deterministic shards of it.

Order, for each scenario and each of its providers:

1. warm-ups (discarded): ``warmups`` rounds of every (variant x concurrency);
2. measured repeats, **interleaved**: repeat ``r`` runs every (variant x concurrency) before
   repeat ``r + 1`` starts, so a slow drift of the machine (another job, thermal throttling)
   spreads over all variants instead of biasing whichever ran last;
3. profiled trials (memray, when ``profile``): one per (variant x concurrency), never timed.

A size sweep (``[files] sweep = true``) adds a size axis: every cell above runs once per
distinct file size, uploading only the files of that size (``Trial.size``), so the profiled
trials give one heap peak per size for the ``memory_slope`` fit.

The ``sync`` spec is sequential by definition, so it runs once per repeat with concurrency 1
instead of once per concurrency value, whatever name the scenario gives it. Trials carry the
variant's **name** (what results, thresholds and reports show); the worker looks up the spec
with :meth:`Scenario.spec_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.scenario import Scenario

__all__ = ["QUICK_REPEATS", "Trial", "plan_trials", "shard", "variant_concurrencies"]

# --quick is for a fast look, not a verdict: two repeats still show the spread.
QUICK_REPEATS = 2


@dataclass(frozen=True)
class Trial:
    """One worker process's job. ``repeat`` is 0-based (the warm-up round for warm-ups);
    ``index`` is the position in the whole run (kept in shards); ``key`` is a stable id
    used to resume and merge runs. ``size`` is the file size of a sweep's trial (only the
    files of that size are uploaded), ``None`` outside a sweep."""

    scenario: str
    scenario_hash: str
    provider: str
    variant: str
    concurrency: int
    repeat: int
    warmup: bool
    profiled: bool
    index: int
    key: str
    size: int | None = None

    @property
    def measured(self) -> bool:
        """True for trials whose timings count (not warm-up, not profiled)."""
        return not self.warmup and not self.profiled


def trial_key(
    scenario: str,
    provider: str,
    variant: str,
    concurrency: int,
    repeat: int,
    role: str,
    size: int | None = None,
) -> str:
    """``scenario|provider|variant|c=4|r=2`` plus ``|warmup`` or ``|profile`` for those;
    a sweep's trials have ``|size=BYTES`` after the concurrency."""
    sized = "" if size is None else f"|size={size}"
    base = f"{scenario}|{provider}|{variant}|c={concurrency}{sized}|r={repeat}"
    return f"{base}|{role}" if role else base


def variant_concurrencies(scenario: Scenario, variant: str) -> tuple[int, ...]:
    """The concurrency values a variant (by name) runs with: ``(1,)`` when its spec is the
    sequential ``sync``."""
    return scenario.concurrencies_of(variant)


def plan_trials(
    scenarios: Sequence[Scenario],
    repeats_override: int | None = None,
    variants_filter: Sequence[str] | None = None,
    quick: bool = False,
) -> list[Trial]:
    """All trials of a run in execution order.

    ``repeats_override`` replaces each scenario's ``repeats``; ``variants_filter`` keeps only
    those variant names (each must belong to at least one scenario); ``quick`` caps repeats at
    :data:`QUICK_REPEATS` and drops warm-ups (profiled trials stay: they are the only source
    of ``heap_peak_bytes``). File counts are not changed by the plan.
    """
    if repeats_override is not None and repeats_override < 1:
        raise HarnessError(f"--repeats must be >= 1, got {repeats_override}")
    if variants_filter is not None:
        known = {v for s in scenarios for v in s.variants}
        for wanted in variants_filter:
            if wanted not in known:
                shown = ", ".join(sorted(known))
                raise HarnessError(f"--variant {wanted!r} is in no scenario; they have: {shown}")
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        # trial keys start with the scenario name; two scenarios of one name would collide
        twice = sorted({n for n in names if names.count(n) > 1})
        raise HarnessError(f"scenario names must be unique in a run; repeated: {', '.join(twice)}")
    trials: list[Trial] = []

    def add(
        s: Scenario, provider: str, cell: tuple[str, int, int | None], rep: int, role: str
    ) -> None:
        variant, conc, size = cell
        trials.append(
            Trial(
                scenario=s.name,
                scenario_hash=s.hash,
                provider=provider,
                variant=variant,
                concurrency=conc,
                repeat=rep,
                warmup=role == "warmup",
                profiled=role == "profile",
                index=len(trials),
                key=trial_key(s.name, provider, variant, conc, rep, role, size),
                size=size,
            )
        )

    for s in scenarios:
        variants = [v for v in s.variants if variants_filter is None or v in variants_filter]
        sizes: tuple[int | None, ...] = s.files.sweep_sizes or (None,)
        cells = [
            (v, c, size) for size in sizes for v in variants for c in variant_concurrencies(s, v)
        ]
        repeats = repeats_override if repeats_override is not None else s.repeats
        warmups = s.warmups
        if quick:
            repeats, warmups = min(repeats, QUICK_REPEATS), 0
        for provider in (p.kind for p in s.providers):
            for rep in range(warmups):
                for cell in cells:
                    add(s, provider, cell, rep, "warmup")
            for rep in range(repeats):
                for cell in cells:
                    add(s, provider, cell, rep, "")
            if s.profile:
                for cell in cells:
                    add(s, provider, cell, 0, "profile")
    return trials


def shard(trials: Sequence[Trial], k: int, n: int) -> list[Trial]:
    """The ``k``-th of ``n`` shards (1-based): every ``n``-th trial starting at ``k - 1``.

    Round-robin keeps each shard a mix of variants and repeats (a contiguous slice would
    give one runner all of one scenario); the shards are disjoint and their union is
    ``trials``. Trials keep their run-wide ``index``.
    """
    if n < 1 or not 1 <= k <= n:
        raise HarnessError(f"--shard must be K/N with 1 <= K <= N, got {k}/{n}")
    return [t for position, t in enumerate(trials) if position % n == k - 1]
