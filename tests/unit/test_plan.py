"""Trial order (processes, each with its warm-up rounds then its measured rounds, cells
interleaved and shuffled per round, profiled last), base-and-head cells, and deterministic
shards that keep a process group whole."""

from __future__ import annotations

from typing import Any

import pytest

from harness import plan as plan_module
from harness.errors import HarnessError
from harness.plan import Trial, plan_trials, shard
from harness.scenario import Scenario, scenario_from_dict


def make(name: str = "s", **overrides: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": name,
        "files": {"count": 1, "sizes": ["1KiB"]},
        "variants": ["sync", "async"],
        "concurrency": [1, 4],
        "repeats": 2,
        "warmups": 1,
    }
    data.update(overrides)
    return scenario_from_dict(data)


def cells(trials: list[Trial]) -> list[tuple[str, int, int, str]]:
    role = lambda t: "warmup" if t.warmup else "profile" if t.profiled else "measured"  # noqa: E731
    return [(t.variant, t.concurrency, t.repeat, role(t)) for t in trials]


def test_order_warmups_interleaved_repeats_then_profiled() -> None:
    trials = plan_trials([make()], order="fixed")
    # each process (repeat) warms up in its own workers, then measures
    assert cells(trials) == [
        ("sync", 1, 0, "warmup"),
        ("async", 1, 0, "warmup"),
        ("async", 4, 0, "warmup"),
        ("sync", 1, 0, "measured"),
        ("async", 1, 0, "measured"),
        ("async", 4, 0, "measured"),
        ("sync", 1, 1, "warmup"),
        ("async", 1, 1, "warmup"),
        ("async", 4, 1, "warmup"),
        ("sync", 1, 1, "measured"),
        ("async", 1, 1, "measured"),
        ("async", 4, 1, "measured"),
        ("sync", 1, 0, "profile"),
        ("async", 1, 0, "profile"),
        ("async", 4, 0, "profile"),
    ]
    assert [t.index for t in trials] == list(range(len(trials)))
    assert {t.scenario for t in trials} == {"s"}
    assert {t.provider for t in trials} == {"supabase"}
    assert [t.measured for t in trials].count(True) == 6
    assert [t.order for t in trials] == [0, 1, 2] * 5


def test_rounds_run_in_the_process_of_their_repeat_interleaved() -> None:
    trials = plan_trials([make(rounds=3, warmups=1, profile=False)], order="fixed")
    first = [t for t in trials if t.repeat == 0]
    assert [(t.round, t.warmup) for t in first] == [(0, True)] * 3 + [
        (r, False) for r in (0, 1, 2) for _ in range(3)
    ]
    assert {t.process for t in first} == {("s", "supabase", 0, False)}
    assert "s|supabase|async|c=4|r=1|n=2" in {t.key for t in trials}
    assert "s|supabase|async|c=4|r=1|n=0|warmup" in {t.key for t in trials}
    assert len({t.key for t in trials}) == len(trials)


def test_base_and_head_cells_run_in_every_round() -> None:
    s = make(rounds=2, warmups=0, profile=True)
    trials = plan_trials([s], revisions=["base", "head"])
    measured = [t for t in trials if t.measured]
    assert len(measured) == 2 * 2 * 3 * 2  # repeats x rounds x cells x revisions
    for rep in (0, 1):
        for rnd in (0, 1):
            this_round = [t for t in measured if (t.repeat, t.round) == (rep, rnd)]
            assert sorted((t.variant, t.concurrency, t.revision) for t in this_round) == sorted(
                (v, c, r)
                for v, c in (("sync", 1), ("async", 1), ("async", 4))
                for r in ("base", "head")
            )
    assert {t.revision for t in trials if t.profiled} == {"base", "head"}
    assert "s|supabase|async|c=4|r=1|n=1|rev=base" in {t.key for t in trials}
    assert len({t.key for t in trials}) == len(trials)
    # the order within a round is shuffled: base does not always run before head
    orders = {
        tuple(t.revision for t in measured if (t.repeat, t.round) == key)
        for key in ((0, 0), (0, 1), (1, 0), (1, 1))
    }
    assert len(orders) > 1


def rounds(trials: list[Trial]) -> dict[tuple[str, str, int, str, int], list[Trial]]:
    """Trials by (scenario, provider, repeat, role, round), in run order."""
    out: dict[tuple[str, str, int, str, int], list[Trial]] = {}
    for t in trials:
        role = "warmup" if t.warmup else "profile" if t.profiled else ""
        out.setdefault((t.scenario, t.provider, t.repeat, role, t.round), []).append(t)
    return out


def test_random_order_shuffles_each_round_and_records_the_position() -> None:
    s = make(variants=["sync", "naive-async", "async"], repeats=8, warmups=2)
    fixed = plan_trials([s], order="fixed")
    shuffled = plan_trials([s])
    # the same trials, the same rounds in the same sequence (interleaving kept)
    assert sorted(t.key for t in shuffled) == sorted(t.key for t in fixed)
    assert [(t.repeat, t.warmup, t.profiled) for t in shuffled] == [
        (t.repeat, t.warmup, t.profiled) for t in fixed
    ]
    assert [t.index for t in shuffled] == list(range(len(shuffled)))
    by_round = rounds(shuffled)
    for trials in by_round.values():
        assert [t.order for t in trials] == list(range(len(trials)))

    # measured repeats and warm-up rounds are shuffled, not all alike
    def cell_orders(role: str) -> set[tuple[str, ...]]:
        return {
            tuple(t.key.split("|r=")[0] for t in ts)
            for (_, _, _, r, _), ts in by_round.items()
            if r == role
        }

    assert len(cell_orders("")) > 1
    assert len(cell_orders("warmup")) > 1
    # profiled trials keep the definition's order
    assert [t.key for t in shuffled if t.profiled] == [t.key for t in fixed if t.profiled]


def test_random_order_is_deterministic_for_a_scenario_and_follows_its_seed() -> None:
    s = make(variants=["sync", "naive-async", "async"], concurrency=[1, 2, 4], repeats=6)
    first = plan_trials([s])
    assert first == plan_trials([s])  # shards and --resume rely on it
    reseeded = make(
        variants=["sync", "naive-async", "async"],
        concurrency=[1, 2, 4],
        repeats=6,
        files={"count": 1, "sizes": ["1KiB"], "seed": 7},
    )
    other_seed = plan_trials([reseeded])
    assert [t.key for t in other_seed] != [t.key for t in first]
    assert sorted(t.key for t in other_seed) == sorted(t.key for t in first)


def test_unknown_order_is_refused() -> None:
    with pytest.raises(HarnessError, match="order must be"):
        plan_trials([make()], order="abba")  # type: ignore[arg-type]


def test_keys_are_unique_and_stable() -> None:
    trials = plan_trials([make(), make("t", providers=[{"kind": "kimi"}, {"kind": "glm"}])])
    keys = [t.key for t in trials]
    assert len(set(keys)) == len(keys)
    assert keys[0].endswith("|r=0|n=0|warmup")
    assert "s|supabase|sync|c=1|r=1|n=0|warmup" in keys
    assert "s|supabase|async|c=4|r=1" in keys
    assert "s|supabase|async|c=4|r=0|profile" in keys
    assert keys == [
        t.key
        for t in plan_trials([make(), make("t", providers=[{"kind": "kimi"}, {"kind": "glm"}])])
    ]
    assert all(t.scenario_hash == make().hash for t in trials if t.scenario == "s")
    # providers run one after the other, each with its own warm-ups
    t_providers = [t.provider for t in trials if t.scenario == "t"]
    assert t_providers == sorted(t_providers, key=["kimi", "glm"].index)


def test_no_profile_quick_repeats_and_filter() -> None:
    s = make(profile=False, repeats=5, warmups=2, variants=["sync", "naive-async", "async"])
    assert not any(t.profiled for t in plan_trials([s]))
    assert len(plan_trials([s])) == 5 * (2 + 1) * (1 + 2 + 2)
    quick = plan_trials([s], quick=True)
    assert not any(t.warmup for t in quick)
    assert max(t.repeat for t in quick) == 1
    assert len(plan_trials([s], repeats_override=1)) == (2 + 1) * 5
    assert len(plan_trials([s], repeats_override=1, revisions=["base", "head"])) == 30
    only = plan_trials([s], variants_filter=["async"])
    assert {t.variant for t in only} == {"async"}
    with pytest.raises(HarnessError, match="--variant 'turbo' is in no scenario"):
        plan_trials([s], variants_filter=["turbo"])
    with pytest.raises(HarnessError, match="--repeats"):
        plan_trials([s], repeats_override=0)


def test_duplicate_scenario_names_are_refused() -> None:
    with pytest.raises(HarnessError, match="repeated: s"):
        plan_trials([make(), make(repeats=3)])


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_shards_are_disjoint_cover_everything_and_are_deterministic(n: int) -> None:
    trials = plan_trials([make(), make("t", concurrency=[1, 2, 8], repeats=3)])
    shards = [shard(trials, k, n) for k in range(1, n + 1)]
    keys = [t.key for part in shards for t in part]
    assert len(keys) == len(set(keys)) == len(trials)
    assert sorted(t.index for part in shards for t in part) == [t.index for t in trials]
    assert shards == [shard(trials, k, n) for k in range(1, n + 1)]
    # each shard keeps run order and whole process groups (their rounds share workers)
    for part in shards:
        assert [t.index for t in part] == sorted(t.index for t in part)
    owner = {t.process: k for k, part in enumerate(shards) for t in part if not t.profiled}
    for k, part in enumerate(shards):
        assert all(owner[t.process] == k for t in part if not t.profiled)


@pytest.mark.parametrize(("k", "n"), [(0, 2), (3, 2), (1, 0)])
def test_bad_shard(k: int, n: int) -> None:
    with pytest.raises(HarnessError, match="K/N"):
        shard([], k, n)


def test_public_names() -> None:
    assert set(plan_module.__all__) == {
        "QUICK_REPEATS",
        "process_trials",
        "Order",
        "Trial",
        "plan_trials",
        "round_order",
        "shard",
        "variant_concurrencies",
    }
