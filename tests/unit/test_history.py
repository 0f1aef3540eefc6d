"""harness.history: per-run files, atomic appends from two processes, corrupt files named."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from harness import history
from harness.analysis.cells import cell_samples
from harness.errors import ResultsError
from tests.factories.results import make_results, make_scenario


def _run(day: int, *, fingerprint: str = "fp-A", scenario_hash: str = "h1") -> dict:
    scenario = make_scenario(
        "upload",
        seed=day,
        repeats=3,
        scenario_hash=scenario_hash,
        profiled_heap={"sync": 60e6, "async": 6e6},
    )
    return make_results(f"run-{day:02d}", [scenario], fingerprint=fingerprint)


def test_samples_are_per_repeat_and_ignore_profiled_timings() -> None:
    results = _run(1)
    samples = cell_samples(results["scenarios"][0])
    group = samples[("kimi", "async", 4)]
    assert len(group["wall_s"]) == 3
    assert 1000.0 not in group["wall_s"]  # the profiled trial's absurd wall time
    assert group["heap_peak_bytes"] == [6e6]
    assert "loop_lag_p99_s" not in group  # null = not applicable


def test_failed_and_warmup_trials_are_left_out() -> None:
    results = _run(1)
    trials = results["scenarios"][0]["trials"]
    trials[0]["status"] = "harness_error"
    trials[1]["warmup"] = True
    samples = cell_samples(results["scenarios"][0])
    assert len(samples[("kimi", "sync", 4)]["wall_s"]) == 2
    assert len(samples[("kimi", "async", 4)]["wall_s"]) == 2


def test_append_and_load_round_trip(tmp_path: Path) -> None:
    written = history.append_run(tmp_path, _run(1))
    assert written == [tmp_path / "h1" / "run-01.json"]
    history.append_run(tmp_path, _run(2))
    history.append_run(tmp_path, _run(2))  # idempotent
    loaded = history.load_history(tmp_path)
    assert loaded.warnings == ()
    assert [e.run_id for e in loaded.entries] == ["run-01", "run-02"]
    entry = loaded.entries[0]
    assert entry.fingerprint == "fp-A"
    assert len(entry.samples(("kimi", "sync", 4), "latency_p50_s")) == 3
    assert entry.samples(("glm", "sync", 4), "latency_p50_s") == ()
    assert not list(tmp_path.rglob(".*"))  # no temp files left behind


def test_shards_and_incomplete_runs_are_refused(tmp_path: Path) -> None:
    shard = _run(1)
    shard["shard"] = {"k": 1, "n": 2}
    with pytest.raises(ResultsError, match="merge the shards"):
        history.append_run(tmp_path, shard)
    with pytest.raises(ResultsError, match="incomplete"):
        history.append_run(tmp_path, make_results("run-03", [], complete=False))


def test_unsafe_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="cannot name a history file"):
        history.append_run(tmp_path, make_results("../evil", []))


def test_corrupt_file_is_skipped_and_named(tmp_path: Path) -> None:
    history.append_run(tmp_path, _run(1))
    history.append_run(tmp_path, _run(2))
    bad = tmp_path / "h1" / "run-02.json"
    bad.write_text('{"history_version": 1, "run_id": "run-02", "gro', encoding="utf-8")
    wrong_version = tmp_path / "h1" / "run-03.json"
    wrong_version.write_text(json.dumps({"history_version": 99}), encoding="utf-8")
    loaded = history.load_history(tmp_path, scenario_hash="h1")
    assert [e.run_id for e in loaded.entries] == ["run-01"]
    assert len(loaded.warnings) == 2
    assert str(bad) in loaded.warnings[0]
    assert "not valid JSON" in loaded.warnings[0]
    assert "history_version 99" in loaded.warnings[1]
    with pytest.raises(ResultsError, match=r"run-02\.json: not valid JSON"):
        history.load_history(tmp_path, run_id="run-02")
    with pytest.raises(ResultsError, match="no such history file"):
        history.load_entry(tmp_path / "h1" / "nope.json")


def test_malformed_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "h1" / "run-09.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"history_version": 1, "run_id": "x"}), encoding="utf-8")
    with pytest.raises(ResultsError, match="malformed history record"):
        history.load_entry(path)


def test_select_comparable_needs_same_hash_and_fingerprint(tmp_path: Path) -> None:
    for day in range(1, 8):
        history.append_run(tmp_path, _run(day))
    history.append_run(tmp_path, _run(8, fingerprint="fp-B"))
    entries = history.load_history(tmp_path).entries
    chosen, why = history.select_comparable(
        entries, scenario_hash="h1", fingerprint="fp-A", exclude_run_id="run-07", last=3
    )
    assert [e.run_id for e in chosen] == ["run-04", "run-05", "run-06"]
    assert "last 3 comparable runs" in why
    older, _ = history.select_comparable(
        entries, scenario_hash="h1", fingerprint="fp-A", before=entries[2].started_at
    )
    assert [e.run_id for e in older] == ["run-01", "run-02"]
    none, why = history.select_comparable(entries, scenario_hash="h1", fingerprint="fp-C")
    assert none == []
    assert "another environment" in why
    assert "fp-A" in why
    none, why = history.select_comparable(entries, scenario_hash="h2", fingerprint="fp-A")
    assert "scenario definition" in why
    forced, _ = history.select_comparable(
        entries, scenario_hash="h1", fingerprint="fp-C", any_environment=True, last=2
    )
    assert [e.run_id for e in forced] == ["run-07", "run-08"]
    assert history.select_comparable([], scenario_hash="h1", fingerprint="fp-A")[1] == (
        "no earlier runs in history"
    )


def _writer(root: str, offset: int) -> None:
    # Both writers write overlapping run ids too, so they race on the very same files.
    for day in range(1, 16):
        history.append_run(Path(root), _run(day + offset))


def test_two_writers_at_once_corrupt_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), k * 5)) for k in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    loaded = history.load_history(tmp_path)
    assert loaded.warnings == ()
    assert [e.run_id for e in loaded.entries] == [f"run-{d:02d}" for d in range(1, 21)]
    assert not [p for p in (tmp_path / "h1").iterdir() if p.name.startswith(".")]


def test_histories_merge_by_copying_folders(tmp_path: Path) -> None:
    a, b, merged = tmp_path / "a", tmp_path / "b", tmp_path / "merged"
    history.append_run(a, _run(1))
    history.append_run(b, _run(2))
    for source in (a, b):
        for path in source.rglob("*.json"):
            target = merged / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    assert [e.run_id for e in history.load_history(merged).entries] == ["run-01", "run-02"]
