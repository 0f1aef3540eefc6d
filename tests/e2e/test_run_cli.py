"""``uploadbench run`` end to end: real mock provider, real worker processes, real uploaders.

Runs are kept small (a handful of trials of small files) so this file stays well under a
minute; nothing here asserts on timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.looplag import DEFAULT_INTERVAL_S
from harness.metrics import METRICS
from harness.results import METRIC_NAMES, load_results
from tests.factories.runs import REPORTS_FLAG, ROOT, TINY, run_alone, tiny, trials_of, uploadbench


@pytest.fixture(scope="module")
def smoke_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("reports")
    cache = tmp_path_factory.mktemp("cache")
    done = uploadbench(
        "run",
        ROOT / "scenarios" / "smoke.toml",
        "--repeats",
        "1",
        REPORTS_FLAG,
        out,
        "--against",
        "none",
        "--cache-dir",
        cache,
        "--json",
        "--no-report",
    )
    return done, out


def test_smoke_run_writes_every_contract_metric_for_every_trial(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = smoke_run
    assert done.returncode == 0, done.stderr[-3000:]
    doc = load_results("latest", reports_dir=out)
    assert doc["complete"] is True
    assert doc["schema_version"] == 1
    trials = trials_of(doc)
    # Three providers x three built-in variants, one repeat each.
    assert {(t["provider"], t["variant"]) for t in trials} == {
        (p, v) for p in ("kimi", "glm", "supabase") for v in ("sync", "naive-async", "async")
    }
    for trial in trials:
        assert trial["status"] == "ok", trial["error"]
        metrics = trial["metrics"]
        assert tuple(metrics) == METRIC_NAMES
        for name in METRIC_NAMES:
            if name == "heap_peak_bytes":
                assert metrics[name] is None  # not profiled
            elif METRICS[name].needs_event_loop:
                if trial["variant"] == "sync":
                    assert metrics[name] is None, name
                elif name == "loop_blocked_fraction":
                    assert metrics[name] is not None, (trial["key"], name)
                elif metrics["wall_s"] >= 2 * DEFAULT_INTERVAL_S:
                    # a round this long has seen a heartbeat (or a late one, or a loop
                    # busy throughout); a warm round shorter than that may see none: n/a
                    assert metrics[name] is not None, (trial["key"], name)
            else:
                assert metrics[name] is not None, (trial["key"], name)
        assert metrics["success_rate"] == 1.0
        assert metrics["integrity_errors"] == 0
        assert metrics["connections_opened"] >= 1
        assert [r["outcome"] for r in trial["records"]] == ["ok"] * 4
        assert trial["mock"]["requests"] >= 4


def test_smoke_run_prints_a_json_summary(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = smoke_run
    payload = json.loads(done.stdout)
    assert payload["exit_code"] == 0
    assert payload["harness_errors"] == 0
    (scenario,) = payload["scenarios"]
    assert scenario["name"] == "smoke"
    assert {t["threshold"] for t in scenario["thresholds"]} == {
        "async.success_rate >= 100%",
        "async.integrity_errors < 1",
    }
    assert all(t["passed"] for t in scenario["thresholds"])
    ratios = [r["throughput_vs_baseline"] for r in scenario["rows"] if r["variant"] == "async"]
    assert len(ratios) == 3
    assert all(r is not None and r > 0 for r in ratios)
    assert Path(payload["results"]).parent.parent == out


def test_killed_and_crashed_workers_are_harness_errors_and_the_rest_is_kept(
    tmp_path: Path,
) -> None:
    scenario = tiny(
        tmp_path,
        "broken",
        [
            "sync",
            "tests.factories.uploaders:hang_uploader",
            "tests.factories.uploaders:crash_uploader",
            "tests.factories.uploaders:corrupt_uploader",
        ],
        # Long enough for a healthy sync trial on a loaded 2-core box (start-up included).
        deadline="8s",
    )
    out = tmp_path / "reports"
    done = uploadbench(
        "run",
        scenario,
        REPORTS_FLAG,
        out,
        "--against",
        "none",
        "--no-report",
        "--cache-dir",
        tmp_path / "c",
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    doc = load_results("latest", reports_dir=out)
    assert doc["complete"] is True
    by_variant = {t["variant"]: t for t in trials_of(doc)}
    assert by_variant["sync"]["status"] == "ok"
    assert by_variant["sync"]["metrics"]["success_rate"] == 1.0
    hang = by_variant["tests.factories.uploaders:hang_uploader"]
    assert hang["status"] == "harness_error"
    assert hang["error"] == "worker killed at the 8 s deadline"
    assert set(hang["metrics"]) == set(METRIC_NAMES)
    assert all(v is None for v in hang["metrics"].values())
    crash = by_variant["tests.factories.uploaders:crash_uploader"]
    assert crash["status"] == "harness_error"
    assert "uploader exploded" in crash["error"]
    assert "\n" not in crash["error"]
    # Claimed ok, but the server hashed other bytes: lost, so failed uploads, no crash.
    corrupt = by_variant["tests.factories.uploaders:corrupt_uploader"]
    assert corrupt["status"] == "ok"
    assert corrupt["metrics"]["success_rate"] == 0.0
    assert corrupt["metrics"]["integrity_errors"] == 2
    assert len(corrupt["lost_files"]) == 2
    assert by_variant["sync"]["lost_files"] == []


def test_a_dead_mock_stops_the_run_with_one_line_and_keeps_finished_trials(
    tmp_path: Path,
) -> None:
    scenario = tiny(
        tmp_path, "deadmock", ["sync", "tests.factories.uploaders:kill_mock_uploader", "async"]
    )
    out = tmp_path / "reports"
    done = uploadbench(
        "run",
        scenario,
        REPORTS_FLAG,
        out,
        "--against",
        "none",
        "--order",
        "fixed",  # sync, then the killer, then async: the order this test is about
        "--no-report",
        "--cache-dir",
        tmp_path / "c",
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("uploadbench: error: the mock provider exited"), done.stderr[-2000:]
    doc = load_results("latest", reports_dir=out)
    assert doc["complete"] is False
    # The sync trial finished before the mock died; the async trial never ran.
    assert [t["variant"] for t in trials_of(doc)] == ["sync"]


def test_network_faults_route_uploads_through_the_fault_proxy(tmp_path: Path) -> None:
    extra = '[[network_faults]]\ntype = "latency"\nms = 5\ndirection = "both"\n'
    scenario = tiny(
        tmp_path, "proxied", ["async"], baseline="async", provider="supabase", extra=extra
    )
    out = tmp_path / "reports"
    done = run_alone(scenario, out, tmp_path / "c")
    assert done.returncode == 0, done.stderr[-3000:]
    (trial,) = trials_of(load_results("latest", reports_dir=out))
    assert trial["status"] == "ok"
    assert trial["metrics"]["success_rate"] == 1.0
    assert trial["metrics"]["integrity_errors"] == 0
    proxy_log = (out / "latest" / "logs" / "faultproxy.log").read_text()
    # The proxy's exit line counts what it carried: the uploads went through it.
    stats = json.loads(proxy_log.strip().splitlines()[-1])
    assert stats["connections"] >= 1
    assert stats["faults"]["latency"] >= 1


def test_two_shards_merged_equal_the_unsharded_run(tmp_path: Path) -> None:
    scenario = tiny(tmp_path, "sharded", ["sync", "async"], repeats=2, provider="glm")
    # 4 trials: shard 1/2 gets plan positions 0 and 2, shard 2/2 positions 1 and 3.
    cache = tmp_path / "cache"

    def run(out: Path, *extra: str) -> dict[str, Any]:
        done = run_alone(scenario, out, cache, *extra)
        assert done.returncode == 0, done.stderr[-3000:]
        return load_results("latest", reports_dir=out)

    whole = run(tmp_path / "whole")
    one = run(tmp_path / "shards", "--shard", "1/2")
    two = run(tmp_path / "shards", "--shard", "2/2")
    assert one["shard"] == {"k": 1, "n": 2}
    assert {t["key"] for t in trials_of(one)}.isdisjoint(t["key"] for t in trials_of(two))

    merged_out = tmp_path / "merged"
    done = uploadbench(
        "merge",
        tmp_path / "shards" / one["run_id"],
        tmp_path / "shards" / two["run_id"],
        "--reports",
        merged_out,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    merged = load_results("latest", reports_dir=merged_out)
    assert merged["complete"] is True

    def shape(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (
                t["key"],
                t["index"],
                t["provider"],
                t["variant"],
                t["concurrency"],
                t["repeat"],
                t["status"],
            )
            for t in trials_of(doc)
        ]

    assert shape(merged) == shape(whole)
    assert [s["hash"] for s in merged["scenarios"]] == [s["hash"] for s in whole["scenarios"]]


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("not json", "trial spec is not JSON"),
        ("[1]", "trial spec must be a JSON object"),
        ('{"trial_id": "x"}', "malformed trial spec"),
    ],
)
def test_worker_refuses_a_bad_spec_with_one_line(stdin: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.worker"],
        input=stdin,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""  # the result channel stays empty
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_a_size_sweep_uploads_one_size_per_trial_and_fits_the_profiled_peaks(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "sweep.toml"
    scenario.write_text(
        TINY.format(
            name="sweep",
            variants='["async"]',
            baseline_line='baseline = "async"',
            repeats=1,
            deadline="60s",
            provider="kimi",
            extra="",
        )
        .replace("profile = false", 'profile = true\nthresholds = ["async.memory_slope < 100"]')
        .replace('sizes = ["64KiB"]', 'sizes = ["64KiB", "256KiB"]\nsweep = true')
    )
    out = tmp_path / "reports"
    done = run_alone(scenario, out, tmp_path / "c", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    trials = trials_of(load_results("latest", reports_dir=out))
    assert sorted((t["file_size_bytes"], t["profiled"]) for t in trials) == [
        (65536, False),
        (65536, True),
        (262144, False),
        (262144, True),
    ]
    for trial in trials:
        assert trial["status"] == "ok"
        assert [r["size"] for r in trial["records"]] == [trial["file_size_bytes"]]
        assert trial["key"].startswith(f"sweep|kimi|async|c=2|size={trial['file_size_bytes']}|")
    assert all(t["metrics"]["heap_peak_bytes"] > 0 for t in trials if t["profiled"])
    (summary,) = json.loads(done.stdout)["scenarios"]
    assert summary["memory_fits"]["async"]["sizes"] == [65536, 262144]
    (check,) = summary["thresholds"]
    assert check["passed"] is True
