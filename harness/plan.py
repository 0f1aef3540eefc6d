"""Scenarios -> the ordered list of trials of a run, and deterministic shards of it.

Order, for each scenario and each of its providers:

1. ``repeats`` **processes**, one after the other. In each, every cell (variant x
   concurrency, and x revision in a base-and-head run) has its own worker process, kept
   alive for the whole repeat: it first runs ``warmups`` warm-up rounds (discarded), then
   ``rounds`` measured rounds (pyperf's processes x values: the interpreter start, imports
   and first connections are paid once per process, not once per sample);
2. within each round the cells run **interleaved**, one upload set each, so base and head
   (or two variants) of one round ran seconds apart: a slow drift of the machine spreads
   over all of them instead of biasing whichever ran last, and base and head of a round
   form a pair (:mod:`harness.analysis.paired`);
3. profiled trials (memray, when ``profile``): one process per cell, never timed, in the
   scenario's order.

Within each round the cells run in a **random order**, drawn from the scenario's file
seed, its name, the provider, the round's kind, its process and its index
(:func:`round_order`): a fixed A, B, C, A, B, C... order gave an order effect (in an A/A
run the second of two identical variants showed 17% more user CPU). The draw depends on
the scenario's definition only, never on the clock or ``--seed``, so the plan is the same
for every shard and for ``--resume``; ``Trial.order`` (``order`` in ``results.json``) is
the trial's position within its round. ``order="fixed"`` keeps the definition's order
(the A/A benchmark's comparison, ``run --order fixed``).

A trial is one round of one cell: ``Trial.repeat`` is its process, ``Trial.round`` its
round within the process (warm-up rounds count from 0 as well, with ``warmup`` set).

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
    "process_trials",
    "round_order",
    "shard",
    "variant_concurrencies",
]

# --quick is for a fast look, not a verdict: two repeats still show the spread.
QUICK_REPEATS = 2

# "random": cells shuffled per round (the default); "fixed": the definition's order
Order = Literal["random", "fixed"]
_T = TypeVar("_T")
Cell = tuple[str, int, int | None, str | None]  # (variant, concurrency, size, revision)


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
    round: int = 0
    revision: str | None = None

    @property
    def measured(self) -> bool:
        """True for trials whose timings count (not warm-up, not profiled)."""
        return not self.warmup and not self.profiled

    @property
    def process(self) -> tuple[str, str, int, bool]:
        """The worker processes this trial's round runs in: the trials of one process
        group share one process per cell (:mod:`harness.runner`); a profiled trial is
        alone in its own."""
        return (self.scenario, self.provider, self.repeat, self.profiled)

    @property
    def cell(self) -> Cell:
        """(variant, concurrency, size, revision): one worker process per cell and
        process group."""
        return (self.variant, self.concurrency, self.size, self.revision)


def trial_key(
    scenario: str,
    provider: str,
    variant: str,
    concurrency: int,
    repeat: int,
    role: str,
    size: int | None = None,
    round_: int | None = None,
    revision: str | None = None,
) -> str:
    """``scenario|provider|variant|c=4|r=2`` plus ``|n=ROUND`` when the process runs
    several rounds (or for a warm-up round), ``|rev=LABEL`` in a base-and-head run, and
    ``|warmup`` or ``|profile`` for those; a sweep's trials have ``|size=BYTES`` after the
    concurrency."""
    sized = "" if size is None else f"|size={size}"
    base = f"{scenario}|{provider}|{variant}|c={concurrency}{sized}|r={repeat}"
    if round_ is not None:
        base += f"|n={round_}"
    if revision is not None:
        base += f"|rev={revision}"
    return f"{base}|{role}" if role else base


def variant_concurrencies(scenario: Scenario, variant: str) -> tuple[int, ...]:
    """The concurrency values a variant (by name) runs with: ``(1,)`` when its spec is the
    sequential ``sync``."""
    return scenario.concurrencies_of(variant)


def round_order(
    scenario: Scenario,
    provider: str,
    role: str,
    rep: int,
    cells: Sequence[_T],
    round_: int = 0,
) -> list[_T]:
    """``cells`` in the order one round runs them: shuffled by a generator seeded from the
    scenario's file seed, name, the provider, the round's role (``warmup`` or ``""`` for a
    measured round), its process and its index. A string seed is hashed with SHA-512 by
    :class:`random.Random`, so the order is the same in every process and on every machine
    (no ``PYTHONHASHSEED``)."""
    seed = f"uploadbench-order|{scenario.files.seed}|{scenario.name}|{provider}|{role}|{rep}"
    if round_:
        seed += f"|{round_}"  # round 0 keeps the draw of a one-round process
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
    revisions: Sequence[str] | None = None,
) -> list[Trial]:
    """All trials of a run in execution order.

    ``repeats_override`` replaces each scenario's ``repeats`` (processes); ``variants_filter``
    keeps only those variant names (each must belong to at least one scenario); ``quick``
    caps repeats at :data:`QUICK_REPEATS` and drops warm-ups (profiled trials stay: they are
    the only source of ``heap_peak_bytes``). File counts are not changed by the plan.
    ``order`` is ``"random"`` (each round's cells shuffled by :func:`round_order`) or
    ``"fixed"`` (the definition's order in every round). ``revisions`` (``("base",
    "head")`` in a base-and-head run) runs every cell once per revision label.
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
    labels: tuple[str | None, ...] = tuple(revisions) if revisions else (None,)
    trials: list[Trial] = []
    for s in scenarios:
        variants = [v for v in s.variants if variants_filter is None or v in variants_filter]
        sizes: tuple[int | None, ...] = s.files.sweep_sizes or (None,)
        cells: list[Cell] = [
            (v, c, size, label)
            for size in sizes
            for v in variants
            for c in variant_concurrencies(s, v)
            for label in labels
        ]
        repeats = repeats_override if repeats_override is not None else s.repeats
        warmups = s.warmups
        if quick:
            repeats, warmups = min(repeats, QUICK_REPEATS), 0
        for provider in (p.kind for p in s.providers):
            for rep in range(repeats):
                trials.extend(
                    process_trials(
                        s, provider, cells, rep, warmups, s.rounds, order, start=len(trials)
                    )
                )
            if s.profile:
                # never timed, so no order effect to remove: the definition's order
                for position, cell in enumerate(cells):
                    trials.append(
                        _trial(s, provider, cell, 0, 0, "profile", position, len(trials), False)
                    )
    return trials


def process_trials(
    s: Scenario,
    provider: str,
    cells: Sequence[Cell],
    rep: int,
    warmups: int,
    rounds: int,
    order: Order = "random",
    *,
    start: int = 0,
) -> list[Trial]:
    """The trials of one process group (repeat ``rep``): ``warmups`` warm-up rounds, then
    ``rounds`` measured rounds, each over every cell in its round's order. ``start`` is the
    run-wide index of the first. The runner also calls this to add pairs to an undecided
    base-and-head comparison."""
    out: list[Trial] = []
    keyed_rounds = rounds > 1
    for role, count in (("warmup", warmups), ("", rounds)):
        for rnd in range(count):
            shuffled = (
                list(cells) if order == "fixed" else round_order(s, provider, role, rep, cells, rnd)
            )
            for position, cell in enumerate(shuffled):
                out.append(
                    _trial(
                        s,
                        provider,
                        cell,
                        rep,
                        rnd,
                        role,
                        position,
                        start + len(out),
                        keyed_rounds or role == "warmup",
                    )
                )
    return out


def _trial(
    s: Scenario,
    provider: str,
    cell: Cell,
    rep: int,
    rnd: int,
    role: str,
    position: int,
    index: int,
    keyed_round: bool,
) -> Trial:
    variant, conc, size, revision = cell
    return Trial(
        scenario=s.name,
        scenario_hash=s.hash,
        provider=provider,
        variant=variant,
        concurrency=conc,
        repeat=rep,
        warmup=role == "warmup",
        profiled=role == "profile",
        index=index,
        key=trial_key(
            s.name,
            provider,
            variant,
            conc,
            rep,
            role,
            size,
            rnd if keyed_round else None,
            revision,
        ),
        size=size,
        order=position,
        round=rnd,
        revision=revision,
    )


def shard(trials: Sequence[Trial], k: int, n: int) -> list[Trial]:
    """The ``k``-th of ``n`` shards (1-based): every ``n``-th process group (the rounds
    that share worker processes, :attr:`Trial.process`) starting at ``k - 1``.

    Round-robin keeps each shard a mix of variants and repeats (a contiguous slice would
    give one runner all of one scenario); a process group stays whole, so its rounds
    share their processes and a base round keeps its head round. The shards are disjoint
    and their union is ``trials``. Trials keep their run-wide ``index``.
    """
    if n < 1 or not 1 <= k <= n:
        raise HarnessError(f"--shard must be K/N with 1 <= K <= N, got {k}/{n}")
    groups: dict[tuple[str, str, int, bool], int] = {}
    out = []
    for t in trials:
        # a profiled trial is a process of its own
        group = t.process if not t.profiled else (t.scenario, t.key, 0, True)
        position = groups.setdefault(group, len(groups))
        if position % n == k - 1:
            out.append(t)
    return out
