"""Size sweeps (``[files] sweep = true``): validation, the plan's size axis, the files a
trial uploads, and the shipped memory-sweep scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError, ScenarioError
from harness.plan import plan_trials, shard
from harness.runner import trial_files
from harness.scenario import load_scenario, scenario_from_dict
from uploader import LocalFile

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def sweep(**files: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"count": 3, "sizes": ["1KiB", "4KiB", "2KiB"], "sweep": True}
    spec.update(files)
    return {
        "name": "sw",
        "files": spec,
        "variants": ["sync", "async"],
        "concurrency": [1, 4],
        "repeats": 2,
        "warmups": 0,
    }


def test_sweep_is_in_the_definition_only_when_on() -> None:
    on = scenario_from_dict(sweep())
    assert on.files.sweep
    assert on.files.sweep_sizes == (1024, 2048, 4096)
    assert on.definition["files"]["sweep"] is True
    off_data = sweep()
    del off_data["files"]["sweep"]
    off = scenario_from_dict(off_data)
    # scenarios written before the key existed keep their hash (and their history)
    assert "sweep" not in off.definition["files"]
    assert off.files.sweep_sizes == ()
    explicit = sweep(sweep=False)
    assert scenario_from_dict(explicit).hash == off.hash != on.hash


@pytest.mark.parametrize(
    ("files", "field", "problem"),
    [
        ({"sweep": "yes"}, "files.sweep", "must be true or false"),
        ({"count": 2}, "files.count", "at least the number of sizes (3)"),
        ({"sizes": ["1KiB", "1024"]}, "files.sweep", "at least two distinct sizes"),
        (
            {"sizes": {"distribution": "uniform", "min": "1KiB", "max": "2KiB"}},
            "files.sweep",
            "a list of sizes",
        ),
    ],
)
def test_sweep_errors(files: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(sweep(**files), source="x.toml")
    assert info.value.field == field
    assert problem in str(info.value)


def test_the_plan_has_one_trial_per_size_and_cell() -> None:
    s = scenario_from_dict({**sweep(), "warmups": 1})
    trials = plan_trials([s])
    measured = [t for t in trials if t.measured]
    # sync at c=1, async at c=1 and c=4: 3 cells x 3 sizes x 2 repeats
    assert len(measured) == 18
    assert len([t for t in trials if t.warmup]) == 18  # one warm-up round per process
    profiled = [t for t in trials if t.profiled]
    assert {(t.variant, t.concurrency, t.size) for t in profiled} == {
        (v, c, size)
        for size in (1024, 2048, 4096)
        for v, c in (("sync", 1), ("async", 1), ("async", 4))
    }
    keys = [t.key for t in trials]
    assert len(set(keys)) == len(keys)
    assert "sw|supabase|async|c=4|size=2048|r=1" in keys
    assert "sw|supabase|sync|c=1|size=4096|r=0|profile" in keys
    # each repeat runs every (size, variant, concurrency) cell once, in a shuffled order
    cells = {
        (size, v, c)
        for size in (1024, 2048, 4096)
        for v, c in (("sync", 1), ("async", 1), ("async", 4))
    }
    for repeat in (0, 1):
        ran = [(t.size, t.variant, t.concurrency) for t in measured if t.repeat == repeat]
        assert sorted(ran, key=str) == sorted(cells, key=str)
    # shards keep the size with the trial
    assert {t.key for t in shard(trials, 1, 2)} | {t.key for t in shard(trials, 2, 2)} == set(keys)


def test_trials_outside_a_sweep_have_no_size() -> None:
    data = sweep()
    del data["files"]["sweep"]
    trials = plan_trials([scenario_from_dict(data)])
    assert {t.size for t in trials} == {None}
    assert all("size=" not in t.key for t in trials)


def test_a_sweep_trial_uploads_only_the_files_of_its_size(tmp_path: Path) -> None:
    files = [
        LocalFile(path=tmp_path / f"f{i}", size=size, content_hash=str(i))
        for i, size in enumerate((1024, 4096, 2048, 1024))
    ]
    s = scenario_from_dict({**sweep(count=4), "concurrency": 1})
    by_size = {t.size: t for t in plan_trials([s]) if t.variant == "async" and t.measured}
    assert [f.size for f in trial_files(files, by_size[1024])] == [1024, 1024]
    assert [f.path.name for f in trial_files(files, by_size[4096])] == ["f1"]
    plain = plan_trials([scenario_from_dict({**sweep(), "files": {"count": 1, "sizes": [1]}})])
    assert trial_files(files, plain[0]) == tuple(files)
    with pytest.raises(HarnessError, match="no file of 1024 B"):
        trial_files(files[1:3], by_size[1024])


def test_the_shipped_memory_sweep_fits_a_slope_over_four_sizes() -> None:
    s = load_scenario(ROOT / "scenarios" / "memory-sweep.toml")
    assert s.files.sweep_sizes == (8 * MiB, 50 * MiB, 128 * MiB, 256 * MiB)
    assert [p.kind for p in s.providers] == ["supabase"]
    assert s.profile
    assert {t.canonical for t in s.thresholds} >= {
        "async.memory_slope < 0.05",
        "sync.memory_slope > 0.9",
    }
    profiled = [t for t in plan_trials([s]) if t.profiled]
    assert len(profiled) == 8  # 2 variants x 4 sizes


def test_claim_is_validated_and_part_of_the_hash() -> None:
    data = sweep()
    plain = scenario_from_dict(data)
    assert plain.claim is None
    assert "claim" not in plain.definition  # unclaimed scenarios keep their old hashes
    claimed = scenario_from_dict({**data, "claim": "memory_50mb"})
    assert claimed.claim == "memory_50mb"
    assert claimed.definition["claim"] == "memory_50mb"
    assert claimed.hash != plain.hash
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({**data, "claim": "memory"}, source="x.toml")
    assert info.value.field == "claim"
    assert "must be one of memory_50mb, throughput_10_files" in str(info.value)


def test_each_nightly_scenario_names_the_claim_it_measures() -> None:
    claims = {
        s.name: s.claim
        for s in (load_scenario(p) for p in sorted((ROOT / "scenarios" / "nightly").glob("*.toml")))
    }
    assert claims == {
        "connection-overhead": "connection_overhead",
        "latency-per-upload": "latency_per_upload",
        "memory-50mib": "memory_50mb",
        "throughput-10-files-latency": "throughput_10_files",
        "timeouts-under-faults": "timeout_rate",
    }
