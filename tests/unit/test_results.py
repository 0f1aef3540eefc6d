"""The results contract: run ids, environment, the crash-safe store, loading and merging."""

from __future__ import annotations

import json
import os
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness import results
from harness.errors import HarnessError, ResultsError
from harness.looplag import summarize_lags
from harness.results import (
    METRIC_NAMES,
    SCHEMA_VERSION,
    ResultsStore,
    environment,
    load_results,
    merge_results,
    new_run_id,
    timing_trials,
)
from harness.results import store as results_store
from harness.worker import TrialSpec, compute_metrics
from uploader import LocalFile, Outcome

MOMENT = datetime(2026, 11, 28, 10, 30, 0, tzinfo=UTC)


def make_trial(key: str, index: int, **extra: Any) -> dict[str, Any]:
    trial: dict[str, Any] = {
        "key": key,
        "index": index,
        "provider": "kimi",
        "variant": key.split("|")[2],
        "concurrency": 4,
        "repeat": 0,
        "warmup": False,
        "profiled": False,
        "status": "ok",
        "error": None,
        "metrics": dict.fromkeys(METRIC_NAMES, 0.0),
        "records": [],
    }
    trial.update(extra)
    return trial


def make_store(tmp_path: Path, run_id: str = "20261128T103000Z-000001", **kw: Any) -> ResultsStore:
    env = {"fingerprint": "f" * 16, "python": "3.11.7"}
    return ResultsStore(tmp_path, run_id, started_at="2026-11-28T10:30:00Z", environment=env, **kw)


def test_run_id_is_utc_time_and_six_hex_digits() -> None:
    run_id = new_run_id(lambda: MOMENT, random.Random(1))
    assert re.fullmatch(r"20261128T103000Z-[0-9a-f]{6}", run_id)
    assert run_id == new_run_id(lambda: MOMENT, random.Random(1))
    assert run_id != new_run_id(lambda: MOMENT, random.Random(2))


def test_environment_has_the_contract_fields_and_a_stable_fingerprint(tmp_path: Path) -> None:
    env = environment(repo_dir=tmp_path)
    for field in (
        "python",
        "implementation",
        "platform",
        "packages",
        "cpu_model",
        "cpu_count",
        "memory_bytes",
        "git_commit",
        "git_dirty",
        "hostname_hash",
        "uvloop",
        "fingerprint",
    ):
        assert field in env
    assert len(env["fingerprint"]) == 16
    assert len(env["hostname_hash"]) == 12
    assert env["packages"]["aiohttp"]
    assert environment(repo_dir=tmp_path)["fingerprint"] == env["fingerprint"]
    assert environment(repo_dir=tmp_path, uvloop=True)["fingerprint"] != env["fingerprint"]


def test_environment_outside_git_has_no_commit(tmp_path: Path) -> None:
    env = environment(repo_dir=tmp_path)
    assert env["git_commit"] is None
    assert env["git_dirty"] is False


def test_store_persists_every_trial_before_the_run_finishes(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.add_scenario("s", "h1", {"name": "s"}, "sync")
    store.add_trial("s", make_trial("s|kimi|sync|c=4|r=0", 0))
    store.add_trial("s", make_trial("s|kimi|async|c=4|r=0", 1))
    # What a crash right now would leave behind: both trials, marked incomplete.
    on_disk = load_results(store.path)
    assert on_disk["complete"] is False
    assert on_disk["finished_at"] is None
    assert [t["key"] for t in on_disk["scenarios"][0]["trials"]] == [
        "s|kimi|sync|c=4|r=0",
        "s|kimi|async|c=4|r=0",
    ]
    assert not list(store.run_dir.glob(".*.tmp")), "no temp files left behind"

    store.finish("2026-11-28T10:31:00Z")
    done = load_results("latest", reports_dir=tmp_path)
    assert done["complete"] is True
    assert done["schema_version"] == SCHEMA_VERSION
    assert (tmp_path / "latest").is_symlink()
    assert os.readlink(tmp_path / "latest") == store.run_id


def test_latest_moves_to_the_newest_run(tmp_path: Path) -> None:
    first = make_store(tmp_path, "20261128T103000Z-000001")
    first.finish("2026-11-28T10:31:00Z")
    second = make_store(tmp_path, "20261128T113000Z-000002")
    second.finish("2026-11-28T11:31:00Z")
    assert load_results("latest", reports_dir=tmp_path)["run_id"] == second.run_id
    assert load_results(first.run_id, reports_dir=tmp_path)["run_id"] == first.run_id


def test_latest_falls_back_to_a_text_file_without_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_symlinks(*args: object, **kwargs: object) -> None:
        raise OSError("symlinks not supported")

    monkeypatch.setattr(results_store.os, "symlink", no_symlinks)
    store = make_store(tmp_path)
    store.finish("2026-11-28T10:31:00Z")
    assert (tmp_path / "LATEST").read_text().strip() == store.run_id
    assert load_results("latest", reports_dir=tmp_path)["run_id"] == store.run_id


def test_store_refuses_an_existing_run_and_undeclared_scenarios(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with pytest.raises(ResultsError, match="already exists"):
        make_store(tmp_path)
    with pytest.raises(ResultsError, match="undeclared scenario"):
        store.add_trial("nope", make_trial("nope|kimi|sync|c=4|r=0", 0))
    store.add_scenario("s", "h", {}, "sync")
    with pytest.raises(ResultsError, match="lacks"):
        store.add_trial("s", {"key": "x"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a results document"),
        ('{"schema_version": 99}', "unknown schema_version 99"),
        ('{"schema_version": 1}', "missing run_id"),
        (
            '{"schema_version": 1, "run_id": "r", "started_at": "t", "environment": {},'
            ' "scenarios": [{"name": "s"}]}',
            r"scenarios\[0\] lacks",
        ),
    ],
)
def test_load_names_the_file_when_it_is_unusable(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(ResultsError, match=message) as info:
        load_results(path)
    assert str(path) in str(info.value)


def test_load_missing_file_and_missing_latest(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="no such results file"):
        load_results(tmp_path / "nope.json")
    with pytest.raises(ResultsError, match="no latest run"):
        load_results("latest", reports_dir=tmp_path)


def test_load_accepts_a_run_directory(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert load_results(store.run_dir)["run_id"] == store.run_id


def _shard_doc(tmp_path: Path, k: int, keys: list[tuple[str, int]], h: str = "h1") -> Any:
    store = make_store(tmp_path / f"shard{k}", shard=(k, 2))
    store.add_scenario("s", h, {"name": "s"}, "sync")
    for key, index in keys:
        store.add_trial("s", make_trial(key, index))
    store.finish("2026-11-28T10:31:00Z")
    return json.loads(store.path.read_text())


def test_merge_joins_shards_in_plan_order(tmp_path: Path) -> None:
    one = _shard_doc(tmp_path, 1, [("s|kimi|sync|c=4|r=0", 0), ("s|kimi|sync|c=4|r=1", 2)])
    two = _shard_doc(tmp_path, 2, [("s|kimi|async|c=4|r=0", 1)])
    merged = merge_results([two, one])
    assert merged["complete"] is True
    assert merged["shard"] is None
    assert [t["index"] for t in merged["scenarios"][0]["trials"]] == [0, 1, 2]
    assert len(merged["merged_from"]) == 2
    # each shard's span is kept: the merged run's time is their sum (sample efficiency)
    assert {(m["started_at"], m["finished_at"]) for m in merged["merged_from"]} == {
        (one["started_at"], "2026-11-28T10:31:00Z")
    }
    # Only one of two shards: not complete.
    assert merge_results([one])["complete"] is False


def test_merge_refuses_mismatched_hashes_and_duplicates(tmp_path: Path) -> None:
    one = _shard_doc(tmp_path, 1, [("s|kimi|sync|c=4|r=0", 0)])
    other = _shard_doc(tmp_path / "x", 2, [("s|kimi|async|c=4|r=0", 1)], h="h2")
    with pytest.raises(ResultsError, match="differs between shards"):
        merge_results([one, other])
    with pytest.raises(ResultsError, match="is in both"):
        merge_results([one, one])
    with pytest.raises(ResultsError, match="nothing to merge"):
        merge_results([])


def test_merge_refuses_different_environments_unless_allowed(tmp_path: Path) -> None:
    one = _shard_doc(tmp_path, 1, [("s|kimi|sync|c=4|r=0", 0)])
    two = _shard_doc(tmp_path, 2, [("s|kimi|async|c=4|r=0", 1)])
    two["environment"]["fingerprint"] = "0" * 16
    with pytest.raises(ResultsError, match="different environments"):
        merge_results([one, two])
    assert merge_results([one, two], allow_mixed_environments=True)["complete"] is True


def test_timing_trials_exclude_errors_warmups_and_profiles() -> None:
    scenario = {
        "trials": [
            make_trial("s|kimi|sync|c=4|r=0", 0),
            make_trial("s|kimi|sync|c=4|r=1", 1, status="harness_error"),
            make_trial("s|kimi|sync|c=4|w=0", 2, warmup=True),
            make_trial("s|kimi|sync|c=4|p", 3, profiled=True),
        ]
    }
    assert [t["index"] for t in timing_trials(scenario)] == [0]


# --- the contract's metrics, as the worker computes them from per-file outcomes ---------


def _outcome(name: str, outcome: str, start: float, end: float, attempts: int = 1) -> Outcome:
    return Outcome(
        name=name,
        size=1000,
        outcome=outcome,  # type: ignore[arg-type]
        started_at=start,
        ended_at=end,
        attempts=attempts,
        status=200 if outcome == "ok" else 503,
    )


def test_metrics_from_outcomes_follow_the_documented_definitions() -> None:
    outcomes = [
        _outcome("a", "ok", 0.0, 1.0),
        _outcome("b", "ok", 0.0, 2.0, attempts=3),
        _outcome("c", "timeout", 0.0, 4.0, attempts=2),
        _outcome("d", "http_error", 0.0, 0.5),
    ]
    m = compute_metrics(outcomes, wall_s=4.0, rss_peak_bytes=10, cpu_user_s=0.1, cpu_sys_s=0.2)
    assert tuple(m) == METRIC_NAMES
    assert m["throughput_bytes_per_s"] == pytest.approx(2000 / 4.0)  # ok bytes only
    assert m["files_per_s"] == pytest.approx(0.5)
    assert (m["success_rate"], m["timeout_rate"], m["error_rate"]) == (0.5, 0.25, 0.25)
    assert m["retries"] == 3
    # Latency over every file, failures included; numpy linear percentiles.
    assert m["latency_p50_s"] == pytest.approx(1.5)
    assert m["latency_max_s"] == 4.0
    assert m["latency_p99_s"] == pytest.approx(2.0 + 0.97 * 2.0)
    # Sync variant: no loop lag; heap peak only from profiled runs; connections from the mock.
    assert m["loop_lag_p99_s"] is None
    assert m["heap_peak_bytes"] is None
    assert m["connections_opened"] is None


def test_metrics_carry_loop_lag_for_async_variants() -> None:
    lag = summarize_lags([0.001, 0.1], observed_s=1.0)
    m = compute_metrics([_outcome("a", "ok", 0.0, 1.0)], wall_s=1.0, loop_lag=lag)
    assert m["loop_lag_max_s"] == pytest.approx(0.1)
    assert m["loop_blocked_fraction"] == pytest.approx(0.1)


def test_trial_spec_round_trips_through_json(tmp_path: Path) -> None:
    spec = TrialSpec(
        trial_id="s|kimi|async|c=4|r=0",
        scenario="s",
        provider="kimi",
        variant="async[pooling=off]",
        concurrency=4,
        base_url="http://127.0.0.1:1/kimi/v1",
        api_key="k",
        files=(LocalFile(tmp_path / "f0000.bin", 10, "abc"),),
        settings={"stall_timeout_s": 2.0},
    )
    assert TrialSpec.from_mapping(json.loads(spec.to_json())) == spec


def test_malformed_trial_spec_is_a_harness_error() -> None:
    with pytest.raises(HarnessError, match="malformed trial spec"):
        TrialSpec.from_mapping({"trial_id": "x", "files": [{"path": "p"}]})


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    # mkstemp's fixed 0600 hid results.json from the CI user that uploads the reports
    old = os.umask(umask)
    try:
        results.atomic_write_text(tmp_path / "deep" / "a.txt", "x")
        results.atomic_write_text(tmp_path / "deep" / "a.txt", "y")  # replacing keeps it
        store = make_store(tmp_path / "runs")
        store.finish("2026-11-28T10:31:00Z")
    finally:
        os.umask(old)
    assert (tmp_path / "deep" / "a.txt").read_text() == "y"
    assert (tmp_path / "deep" / "a.txt").stat().st_mode & 0o777 == mode
    assert store.path.stat().st_mode & 0o777 == mode
    # no temp file left behind
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["a.txt"]
