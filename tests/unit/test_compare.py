"""harness.compare on synthetic results: variant checks, history, thresholds, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import compare, history
from harness.analysis import summary
from harness.compare import Policy
from harness.errors import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION, ResultsError
from tests.factories.results import make_results, make_scenario


def _checks(comparison: compare.RunComparison, **where: object) -> list[compare.Check]:
    return [c for c in comparison.checks if all(getattr(c, k) == v for k, v in where.items())]


def _one(comparison: compare.RunComparison, **where: object) -> compare.Check:
    found = _checks(comparison, **where)
    assert len(found) == 1, found
    return found[0]


def test_variant_slowdown_is_found_in_the_right_direction() -> None:
    scenario = make_scenario("s", seed=1, repeats=6, slowdown={"async": 1.3})
    result = compare.compare_run(make_results("run-01", [scenario]))
    latency = _one(result, kind="variant", metric="latency_p50_s")
    assert latency.verdict == "regressed"
    assert latency.variant == "async"
    assert latency.baseline == "sync"
    assert latency.ratio == pytest.approx(1.3, rel=0.05)
    assert latency.ci_low is not None
    assert latency.ci_low > 1.05
    throughput = _one(result, kind="variant", metric="throughput_bytes_per_s")
    assert throughput.verdict == "regressed"  # lower throughput is worse
    assert throughput.ratio is not None
    assert throughput.ratio < 0.8
    # the variants are the finding, not a failure: nothing gates without history or thresholds
    assert not any(c.gating for c in result.checks)
    assert result.exit_code == EXIT_OK
    assert result.against == "none"


def test_same_code_gives_no_variant_change() -> None:
    scenario = make_scenario("s", seed=2, repeats=6, variants=("sync", "sync-copy"))
    result = compare.compare_run(make_results("run-01", [scenario]))
    assert result.checks
    assert not [c for c in result.checks if c.verdict in ("regressed", "improved")]


def test_not_applicable_metrics_yield_no_check() -> None:
    scenario = make_scenario("s", seed=3, profiled_heap={"sync": 5e7, "async": 5e6})
    result = compare.compare_run(make_results("run-01", [scenario]))
    metrics = {c.metric for c in result.checks}
    assert "loop_lag_p99_s" not in metrics  # null on both sides in this data
    # one profiled trial per variant: reported, and honestly inconclusive
    heap = _one(result, kind="variant", metric="heap_peak_bytes")
    assert heap.verdict == "inconclusive"


def test_profiled_and_failed_trials_never_enter_timings() -> None:
    scenario = make_scenario("s", seed=4, repeats=4, profiled_heap={"sync": 5e7, "async": 5e6})
    scenario["trials"][0]["status"] = "harness_error"
    scenario["trials"][0]["metrics"]["wall_s"] = 999.0
    result = compare.compare_run(make_results("run-01", [scenario]))
    wall = _one(result, kind="variant", metric="wall_s")
    assert wall.n_baseline == 3  # sync: 4 repeats minus the failed one
    assert wall.n_candidate == 4
    assert wall.median_baseline is not None
    assert wall.median_baseline < 3.0  # neither 999 (failed) nor 1000 (profiled)


def test_two_repeats_per_side_is_inconclusive_never_pass_or_fail(tmp_path: Path) -> None:
    for day in range(1, 4):
        history.append_run(
            tmp_path, make_results(f"run-0{day}", [make_scenario("s", seed=day, repeats=2)])
        )
    old = history.load_history(tmp_path).entries[:1]
    slow = make_scenario("s", seed=9, repeats=2, slowdown={"sync": 3.0, "async": 3.0})
    result = compare.compare_run(make_results("run-09", [slow]), history=old)
    # the rollback triggers are rules (tests/unit/test_triggers.py), not statistics
    gating = [c for c in result.checks if c.gating and c.kind != "trigger"]
    assert gating
    assert {c.verdict for c in gating} == {"inconclusive"}
    assert all("too few samples" in c.reason for c in gating)
    assert result.exit_code == EXIT_INCONCLUSIVE


def _history(tmp_path: Path, days: int = 5, **kwargs: object) -> list[history.HistoryEntry]:
    for day in range(1, days + 1):
        scenario = make_scenario("s", seed=100 + day, repeats=5, **kwargs)  # type: ignore[arg-type]
        history.append_run(tmp_path, make_results(f"run-{day:02d}", [scenario]))
    return list(history.load_history(tmp_path).entries)


def test_history_regression_gates_with_exit_1(tmp_path: Path) -> None:
    entries = _history(tmp_path)
    slow = make_scenario("s", seed=7, repeats=5, slowdown={"async": 1.2})
    result = compare.compare_run(make_results("run-20", [slow]), history=entries)
    latency = _one(result, kind="history", variant="async", metric="latency_p50_s")
    assert latency.verdict == "regressed"
    assert latency.gating
    assert latency.n_baseline == 25  # 5 runs x 5 repeats, pooled
    assert latency.baseline.startswith("history (5 runs: run-01..run-05)")
    assert result.exit_code == EXIT_REGRESSION
    assert latency in result.suspects
    sync_latency = _one(result, kind="history", variant="sync", metric="latency_p50_s")
    assert sync_latency.verdict == "unchanged"
    assert any("run-20" not in n and "last 5 comparable runs" in n for n in result.notes)


def test_history_same_code_passes_with_exit_0(tmp_path: Path) -> None:
    # With 9 repeats a 95% bootstrap CI of a median is narrower than the data's range, and
    # 2% noise lets it rule out a 5% regression.
    entries = _history(tmp_path, cv=0.02)
    same = make_scenario("s", seed=8, repeats=9, cv=0.02)
    result = compare.compare_run(make_results("run-20", [same]), history=entries)
    gating = [c for c in result.checks if c.gating]
    statistical = {c.metric for c in gating if c.kind != "trigger"}
    assert statistical == set(compare.DEFAULT_GATING_METRICS)
    assert not [c for c in gating if c.verdict in ("regressed", "improved")]
    assert not [c for c in gating if c.undecided], [c.reason for c in gating]
    assert result.exit_code == EXIT_OK
    non_gating = [c for c in result.checks if c.kind == "history" and not c.gating]
    assert non_gating  # every other metric is still reported


def test_history_from_another_environment_is_refused(tmp_path: Path) -> None:
    entries = _history(tmp_path)
    run = make_results("run-20", [make_scenario("s", seed=8)], fingerprint="fp-other")
    result = compare.compare_run(run, history=entries)
    refusal = _one(result, kind="history")
    assert refusal.verdict == "inconclusive"
    assert refusal.gating
    assert "another environment" in refusal.reason
    assert result.exit_code == EXIT_INCONCLUSIVE
    forced = compare.compare_run(run, history=entries, policy=compare.Policy(any_environment=True))
    assert len(_checks(forced, kind="history")) > 1


def test_history_of_another_definition_is_refused(tmp_path: Path) -> None:
    entries = _history(tmp_path)
    run = make_results("run-20", [make_scenario("s", seed=8, scenario_hash="changed")])
    result = compare.compare_run(run, history=entries)
    assert "scenario definition" in _one(result, kind="history").reason


def test_history_never_uses_the_future(tmp_path: Path) -> None:
    entries = _history(tmp_path)
    run = make_results("run-03", [make_scenario("s", seed=103, repeats=5)])
    result = compare.compare_run(run, history=entries)
    check = _one(result, kind="history", variant="sync", metric="wall_s")
    assert check.baseline.startswith("history (2 runs: run-01..run-02)")


def test_inconclusive_only_on_the_better_side_does_not_hold_the_gate() -> None:
    def check(ci_low: float, ci_high: float, higher_is_better: bool) -> compare.Check:
        return compare.Check(
            scenario="s", provider="kimi", variant="async", concurrency=4,
            metric="m", kind="history", baseline="history", verdict="inconclusive",
            ratio=1.0, ci_low=ci_low, ci_high=ci_high, p_value=0.3, n_baseline=9,
            n_candidate=9, reason="straddles", min_effect=0.05, gating=True,
            higher_is_better=higher_is_better,
        )  # fmt: skip

    assert not check(0.93, 1.02, higher_is_better=False).undecided  # maybe faster, not slower
    assert check(0.98, 1.07, higher_is_better=False).undecided  # maybe 7% slower
    assert check(0.93, 1.02, higher_is_better=True).undecided  # maybe 7% less throughput
    assert compare.exit_code_for([check(0.93, 1.02, higher_is_better=False)]) == EXIT_OK
    assert compare.exit_code_for([check(0.98, 1.07, higher_is_better=False)]) == (EXIT_INCONCLUSIVE)


def test_metric_choice_sets_what_gates(tmp_path: Path) -> None:
    entries = _history(tmp_path)
    run = make_results("run-20", [make_scenario("s", seed=8, slowdown={"async": 1.3})])
    policy = compare.Policy(metrics=("rss_peak_bytes",))
    result = compare.compare_run(run, history=entries, policy=policy)
    # the rollback triggers are rules like thresholds: --metric does not choose them
    assert {c.metric for c in result.checks if c.kind != "trigger"} == {"rss_peak_bytes"}
    assert result.exit_code == EXIT_OK  # latency regressed but was not asked about


def test_thresholds_are_checks_and_gate() -> None:
    scenario = make_scenario(
        "s",
        seed=5,
        thresholds=[
            "async.latency_p50_s < 1.0s",
            "async/sync.throughput_bytes_per_s > 5.0x",
            "async.heap_peak_bytes < 10485760.0",
            "async.loop_lag_p99_s < 0.1s",
        ],
        profiled_heap={"sync": 5e7, "async": 5e6},
    )
    result = compare.compare_run(make_results("run-01", [scenario]))
    thresholds = _checks(result, kind="threshold")
    assert [c.verdict for c in thresholds] == ["pass", "fail", "pass", "inconclusive"]
    assert all(c.gating for c in thresholds)
    assert thresholds[1].ratio == pytest.approx(1.0, rel=0.1)
    assert "fails > 5x" in thresholds[1].reason
    assert thresholds[2].median_candidate == 5e6  # from the profiled trial only
    assert result.exit_code == EXIT_REGRESSION
    assert result.summary["fail"] == 1
    assert result.summary["gating"]["pass"] == 2


def _smoke_layout(thresholds: list[str]) -> dict[str, object]:
    """The smoke suite's shape: three providers, ``sync`` at c=1 (sequential), the other
    variants at c=4; naive-async is slow enough to fail a ratio threshold."""
    base = make_scenario(
        "smoke",
        seed=3,
        variants=("sync",),
        providers=("kimi", "glm", "supabase"),
        concurrency=(1,),
        repeats=3,
    )
    rest = make_scenario(
        "smoke",
        seed=4,
        variants=("naive-async", "async"),
        providers=("kimi", "glm", "supabase"),
        concurrency=(4,),
        repeats=3,
        slowdown={"naive-async": 2.0},
    )
    return {
        **base,
        "baseline": "sync",
        "definition": {
            "name": "smoke",
            "variants": ["sync", "naive-async", "async"],
            "thresholds": thresholds,
        },
        "trials": base["trials"] + rest["trials"],
    }


def test_thresholds_on_the_smoke_layout_are_the_summarys_checks() -> None:
    # The sequential sync baseline at c=1 beside the other variants at c=4: thresholds are
    # checked at c=4 only, never copied into an "async c=1" cell that nothing measured, and
    # each threshold is one outcome however many providers decided it.
    texts = [
        "async.success_rate >= 100%",
        "async.integrity_errors < 1",
        "naive-async/sync.throughput_bytes_per_s > 1.0x",
    ]
    doc = make_results("run-01", [_smoke_layout(texts)])
    checks = compare.threshold_checks(doc["scenarios"][0])
    outcomes = summary.summarize_run(doc)[0].thresholds
    assert len(checks) == len(outcomes) == 3
    assert [(c.provider, c.concurrency, c.baseline, c.verdict) for c in checks] == [
        (o.provider, o.concurrency, o.threshold, {True: "pass", False: "fail"}[bool(o.passed)])
        for o in outcomes
    ]
    assert {c.concurrency for c in checks} == {4}
    assert {cell.concurrency for o in outcomes for cell in o.cells} == {4}
    assert [len(o.cells) for o in outcomes] == [3, 3, 3]  # one cell per provider
    assert [c.verdict for c in checks].count("fail") == 1  # naive-async at half sync's speed
    result = compare.compare_run(doc)
    assert (result.summary["pass"], result.summary["fail"]) == (2, 1)
    assert "smoke / kimi / async / c=1" not in compare.to_junit_xml(result)


def test_missing_threshold_data_is_inconclusive() -> None:
    scenario = make_scenario("s", seed=5, thresholds=["async.loop_lag_p99_s < 0.1s"])
    result = compare.compare_run(make_results("run-01", [scenario]))
    assert result.exit_code == EXIT_INCONCLUSIVE


def test_against_another_run() -> None:
    base = make_results("run-01", [make_scenario("s", seed=1, repeats=5)])
    slow = make_results("run-02", [make_scenario("s", seed=2, repeats=5, slowdown={"async": 1.3})])
    result = compare.compare_run(slow, baseline_run=base)
    assert result.against == "run-01"
    assert _one(result, kind="history", variant="async", metric="latency_p50_s").verdict == (
        "regressed"
    )
    other_env = make_results("run-03", [make_scenario("s", seed=3)], fingerprint="fp-B")
    with pytest.raises(ResultsError, match="another environment"):
        compare.compare_run(other_env, baseline_run=base)
    changed = make_results("run-04", [make_scenario("s", seed=4, scenario_hash="h2")])
    refused = _one(compare.compare_run(changed, baseline_run=base), kind="history")
    assert "another definition" in refused.reason


def test_to_dict_is_json_and_deterministic(tmp_path: Path) -> None:
    entries = _history(tmp_path, days=3)
    run = make_results("run-20", [make_scenario("s", seed=8, slowdown={"async": 1.1})])
    first = json.dumps(compare.compare_run(run, history=entries).to_dict(), allow_nan=False)
    second = json.dumps(compare.compare_run(run, history=entries).to_dict(), allow_nan=False)
    assert first == second
    doc = json.loads(first)
    assert list(doc) == [
        "run_id",
        "against",
        "exit_code",
        "harness_errors",
        "summary",
        "notes",
        "sample_efficiency",
        "checks",
        "paired",
    ]
    assert doc["paired"] is None  # no base-and-head run
    keys = set(doc["checks"][0])
    assert {"scenario", "provider", "variant", "concurrency", "metric", "kind", "baseline"} <= keys
    assert {"verdict", "ratio", "ci_low", "ci_high", "p_value", "n_baseline", "reason"} <= keys


def test_compare_against_reads_files_and_skips_corrupt_history(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    root = history.history_root(reports)
    for day in range(1, 4):
        scenario = make_scenario("s", seed=200 + day, repeats=4)
        history.append_run(root, make_results(f"run-0{day}", [scenario]))
    (root / "hash-s" / "run-00.json").write_text("{broken", encoding="utf-8")
    run = make_results("run-10", [make_scenario("s", seed=210, repeats=4)])
    result = compare.compare_against(run, "history", reports_dir=reports)
    assert any("run-00.json" in n and "skipped" in n for n in result.notes)
    assert result.lines[0].startswith("compared with history:")
    history.append_run(root, run)  # as `uploadbench run` does after comparing
    again = compare.compare_against(run, "history", reports_dir=reports)
    assert again.to_dict() == result.to_dict()  # a run is never its own baseline

    run_dir = reports / "run-01"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(
        json.dumps(make_results("run-01", [make_scenario("s", seed=201, repeats=4)])),
        encoding="utf-8",
    )
    versus = compare.compare_against(run, str(run_dir), reports_dir=reports)
    assert versus.against == "run-01"
    with pytest.raises(ResultsError, match="no such results file"):
        compare.compare_against(run, str(tmp_path / "nope"), reports_dir=reports)


def test_calibrate_from_aa_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from harness.analysis.calibration import calibrate
    from harness.cli import main

    docs = [
        make_results(f"run-0{i}", [make_scenario("s", seed=300 + i, repeats=5, cv=0.05)])
        for i in range(1, 6)
    ]
    policy = Policy(n_resamples=500)  # a lean bootstrap keeps the test quick
    result = calibrate(docs, rng=np.random.default_rng(0), simulations=100, policy=policy)
    assert result.comparisons == 10  # every pair of 5 runs
    assert result.checks > 100
    assert result.false_alarm_rate is not None
    assert result.false_alarm_rate <= 0.05
    row = next(r for r in result.metrics if r.metric == "latency_p50_s" and r.variant == "async")
    assert row.n == 25
    assert row.cv == pytest.approx(0.05, abs=0.02)
    assert row.repeats_normal is not None
    assert 4 <= row.repeats_normal <= 10
    assert json.dumps(result.to_dict(), allow_nan=False)

    for doc in docs[:3]:
        run_dir = tmp_path / doc["run_id"]
        run_dir.mkdir()
        (run_dir / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    assert (
        main(["calibrate", "--from", "run-01", "run-02", "run-03", "--reports", str(tmp_path)]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("A/A over runs run-01, run-02, run-03: 3 run-vs-run comparisons")
    assert "normal approximation for the Mann-Whitney U test" in out
    assert "s / kimi / async / c=4 latency_p50_s: n=15" in out


def test_calibrate_refuses_mixed_runs() -> None:
    import numpy as np

    from harness.analysis.calibration import calibrate

    a = make_results("run-01", [make_scenario("s", seed=1)])
    b = make_results("run-02", [make_scenario("s", seed=2)], fingerprint="fp-B")
    with pytest.raises(ResultsError, match="different environments"):
        calibrate([a, b], rng=np.random.default_rng(0))
    with pytest.raises(ResultsError, match="at least 2 runs"):
        calibrate([a], rng=np.random.default_rng(0))


def test_run_to_run_noise_raises_the_min_effect(tmp_path: Path) -> None:
    # Each earlier run sits at its own level (a loaded machine shifts whole runs), with
    # quiet repeats inside: a new run 12% off is within what runs do on their own.
    for day, level in enumerate([1.0, 1.0, 0.88, 1.12, 1.0], start=1):
        scenario = make_scenario("s", seed=day, cv=0.01, slowdown={"sync": level, "async": level})
        history.append_run(tmp_path, make_results(f"run-{day:02d}", [scenario]))
    entries = history.load_history(tmp_path).entries
    shifted = make_scenario("s", seed=9, cv=0.01, slowdown={"sync": 1.12, "async": 1.12})
    run = make_results("run-20", [shifted])
    with_floor = compare.compare_run(run, history=entries)
    check = _one(with_floor, kind="history", variant="async", metric="latency_p50_s")
    assert check.verdict == "unchanged"
    assert "min effect raised from 5% to" in check.reason
    assert check.min_effect is not None
    assert check.min_effect > 0.12
    naive = compare.compare_run(run, history=entries, policy=Policy(history_floor=False))
    assert _one(naive, kind="history", variant="async", metric="latency_p50_s").verdict == (
        "regressed"
    )


def test_run_to_run_noise_also_raises_the_min_effect_against_one_run(tmp_path: Path) -> None:
    # One run says nothing of run-to-run noise; the comparable history runs do. Against a
    # single run at level 1.0, a run 12% off is run-to-run noise, not a regression.
    for day, level in enumerate([1.0, 1.0, 0.88, 1.12, 1.0], start=1):
        scenario = make_scenario("s", seed=day, cv=0.01, slowdown={"sync": level, "async": level})
        history.append_run(
            history.history_root(tmp_path), make_results(f"run-{day:02d}", [scenario])
        )
    base = make_results("run-05", [make_scenario("s", seed=5, cv=0.01)])
    (tmp_path / "run-05").mkdir()
    (tmp_path / "run-05" / "results.json").write_text(json.dumps(base), encoding="utf-8")
    shifted = make_results(
        "run-20", [make_scenario("s", seed=9, cv=0.01, slowdown={"sync": 1.12, "async": 1.12})]
    )

    with_floor = compare.compare_against(shifted, "run-05", reports_dir=tmp_path)
    check = _one(with_floor, kind="history", variant="async", metric="latency_p50_s")
    assert check.verdict == "unchanged"
    assert "run-to-run noise of 5 history runs" in check.reason
    assert with_floor.exit_code == EXIT_OK
    assert any("raised to the run-to-run noise of 5 history runs" in n for n in with_floor.notes)

    no_history = compare.compare_run(shifted, baseline_run=base)
    assert _one(no_history, kind="history", variant="async", metric="latency_p50_s").verdict == (
        "regressed"
    )
    assert any("run-to-run noise unknown (no history" in n for n in no_history.notes)
    # A real regression still shows through the floor.
    slow = make_results("run-21", [make_scenario("s", seed=9, cv=0.01, slowdown={"async": 1.6})])
    slowed = compare.compare_against(slow, "run-05", reports_dir=tmp_path)
    assert _one(slowed, kind="history", variant="async", metric="latency_p50_s").verdict == (
        "regressed"
    )
