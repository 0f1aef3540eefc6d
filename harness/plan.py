"""Scenarios -> the ordered list of trials of a run, and deterministic shards of it.

Order, for each scenario and each of its providers:

1. warm-ups (discarded): ``warmups`` rounds of every (variant x concurrency);
2. measured repeats, **interleaved**: repeat ``r`` runs every (variant x concurrency) before
   repeat ``r + 1`` starts, so a slow drift of the machine (another job, thermal throttling)
   spreads over all variants instead of biasing whichever ran last;
3. profiled trials (memray, when ``profile``): one per (variant x concurrency), never timed,
   in the scenario's order.

Within each warm-up round and each measured repeat the cells run in a **random order**,
drawn from the scenario's file seed, its name, the provider, the round's kind and its
index (:func:`round_order`): a fixed A, B, C, A, B, C... order gave an order effect (in an
A/A run the second of two identical variants showed 17% more user CPU). The draw depends on
the scenario's definition only, never on the clock or ``--seed``, so the plan is the same
for every shard and for ``--resume``; ``Trial.order`` (``order`` in ``results.json``) is
the trial's position within its round. ``order="fixed"`` keeps the definition's order
(the A/A benchmark's comparison, ``run --order fixed``).

A size sweep (``[files] sweep = true``) adds a size axis: every cell above runs once per
distinct file size, uploading only the files of that size (``Trial.size``), so the profiled
trials give one heap peak per size for the ``memory_slope`` fit.

The ``sync`` spec is sequential by definition, so it runs once per repeat with concurrency 1
instead of once per concurrency value, whatever name the scenario gives it. Trials carry the
variant's **name** (what results, thresholds and reports show); the worker looks up the spec
with :meth:`Scenario.spec_of`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from harness.errors import HarnessError
from harness.scenario import Scenario

__all__ = [
    "QUICK_REPEATS",
    "Order",
    "Trial",
    "plan_trials",
    "round_order",
    "shard",
    "variant_concurrencies",
]

# --quick is for a fast look, not a verdict: two repeats still show the spread.
QUICK_REPEATS = 2

# "random": cells shuffled per round (the default); "fixed": the definition's order
Order = Literal["random", "fixed"]
_T = TypeVar("_T")
Cell = tuple[str, int, int | None]  # (variant, concurrency, size)


@dataclass(frozen=True)
class Trial:
    """One worker process's job. ``repeat`` is 0-based (the warm-up round for warm-ups);
    ``index`` is the position in the whole run (kept in shards); ``key`` is a stable id
    used to resume and merge runs. ``size`` is the file size of a sweep's trial (only the
    files of that size are uploaded), ``None`` outside a sweep. ``order`` is the trial's
    position (0-based) within its round: its warm-up round, its repeat, or the profiled
    trials of its provider."""

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
    order: int = 0

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


def round_order(
    scenario: Scenario, provider: str, role: str, rep: int, cells: Sequence[_T]
) -> list[_T]:
    """``cells`` in the order one round runs them: shuffled by a generator seeded from the
    scenario's file seed, name, the provider, the round's role (``warmup`` or ``""`` for a
    measured repeat) and its index. A string seed is hashed with SHA-512 by
    :class:`random.Random`, so the order is the same in every process and on every machine
    (no ``PYTHONHASHSEED``)."""
    seed = f"uploadbench-order|{scenario.files.seed}|{scenario.name}|{provider}|{role}|{rep}"
    rng = random.Random(seed)
    shuffled = list(cells)
    rng.shuffle(shuffled)
    return shuffled


def plan_trials(
    scenarios: Sequence[Scenario],
    repeats_override: int | None = None,
    variants_filter: Sequence[str] | None = None,
    quick: bool = False,
    order: Order = "random",
) -> list[Trial]:
    """All trials of a run in execution order.

    ``repeats_override`` replaces each scenario's ``repeats``; ``variants_filter`` keeps only
    those variant names (each must belong to at least one scenario); ``quick`` caps repeats at
    :data:`QUICK_REPEATS` and drops warm-ups (profiled trials stay: they are the only source
    of ``heap_peak_bytes``). File counts are not changed by the plan. ``order`` is
    ``"random"`` (each round's cells shuffled by :func:`round_order`) or ``"fixed"`` (the
    definition's order in every round).
    """
    if order not in ("random", "fixed"):
        raise HarnessError(f"order must be 'random' or 'fixed', got {order!r}")
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
        s: Scenario,
        provider: str,
        cell: tuple[str, int, int | None],
        rep: int,
        role: str,
        position: int,
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
                order=position,
            )
        )

    def run_round(s: Scenario, provider: str, cells: list[Cell], rep: int, role: str) -> None:
        shuffled = cells if order == "fixed" else round_order(s, provider, role, rep, cells)
        for position, cell in enumerate(shuffled):
            add(s, provider, cell, rep, role, position)

    for s in scenarios:
        variants = [v for v in s.variants if variants_filter is None or v in variants_filter]
        sizes: tuple[int | None, ...] = s.files.sweep_sizes or (None,)
        cells: list[Cell] = [
            (v, c, size) for size in sizes for v in variants for c in variant_concurrencies(s, v)
        ]
        repeats = repeats_override if repeats_override is not None else s.repeats
        warmups = s.warmups
        if quick:
            repeats, warmups = min(repeats, QUICK_REPEATS), 0
        for provider in (p.kind for p in s.providers):
            for rep in range(warmups):
                run_round(s, provider, cells, rep, "warmup")
            for rep in range(repeats):
                run_round(s, provider, cells, rep, "")
            if s.profile:
                # never timed, so no order effect to remove: the definition's order
                for position, cell in enumerate(cells):
                    add(s, provider, cell, 0, "profile", position)
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
