"""harness.analysis on generated results documents: cells and the stand-in rule, one
outcome per threshold, data lost, likely misconfigurations, the summary's integrity column
and harness-error reasons. Socket-free, no timing."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from harness.analysis.cells import Layout, cell_samples, group_sized_cells
from harness.analysis.integrity import data_lost, likely_misconfigurations
from harness.analysis.summary import summarize_run, summary_json
from harness.analysis.thresholds import threshold_outcomes
from harness.compare import compare_run
from harness.console import render_summary
from harness.errors import EXIT_ERROR, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION
from harness.metrics import METRIC_NAMES
from tests.factories.results import TYPICAL, make_results, make_trial

MIB = 1024 * 1024


def metrics(**values: float | None) -> dict[str, float | None]:
    out: dict[str, float | None] = dict.fromkeys(METRIC_NAMES)
    out.update(TYPICAL)
    out.update(values)
    return out


def trial(variant: str, c: int, r: int, provider: str = "kimi", **kw: Any) -> dict[str, Any]:
    profiled = kw.pop("profiled", False)
    status = kw.pop("status", "ok")
    lost = kw.pop("lost_files", [])
    records = kw.pop("records", [])
    t = make_trial(provider, variant, c, r, metrics(**kw), profiled=profiled, status=status)
    t["lost_files"] = lost
    t["records"] = records
    return t


def scenario(trials: list[dict[str, Any]], **definition: Any) -> dict[str, Any]:
    variants = definition.pop("variants", sorted({t["variant"] for t in trials}))
    return {
        "name": "s",
        "hash": "h",
        "baseline": definition.pop("baseline", "sync"),
        "definition": {"name": "s", "variants": variants, "faults": [], **definition},
        "trials": trials,
    }


def results(*scenarios: dict[str, Any]) -> dict[str, Any]:
    return make_results("run-01", list(scenarios))


def test_the_stand_in_rule() -> None:
    layout = Layout.of([trial("sync", 1, 0), trial("async", 4, 0), trial("async", 8, 0)])
    assert layout.stand_in("kimi", "sync", 4) == 1  # one concurrency: stands in everywhere
    assert layout.stand_in("kimi", "async", 8) == 8
    assert layout.stand_in("kimi", "async", 1) is None  # two concurrencies, neither is 1
    assert layout.stand_in("glm", "sync", 1) is None


def test_a_sweep_groups_by_cell_and_size() -> None:
    trials = [trial("sync", 1, 0), trial("sync", 1, 0), trial("sync", 1, 1)]
    trials[0]["file_size_bytes"], trials[1]["file_size_bytes"] = MIB, 8 * MIB
    trials[2]["file_size_bytes"] = MIB
    grouped = group_sized_cells(trials)
    assert [(cell.variant, size, len(ts)) for (cell, size), ts in grouped.items()] == [
        ("sync", MIB, 2),
        ("sync", 8 * MIB, 1),
    ]


def test_profiled_only_metrics_come_from_profiled_trials() -> None:
    trials = [trial("sync", 1, r, heap_peak_bytes=None) for r in range(3)]
    trials.append(trial("sync", 1, 0, profiled=True, heap_peak_bytes=5e6, wall_s=1000.0))
    samples = cell_samples(scenario(trials))
    (cell,) = samples
    assert samples[cell]["heap_peak_bytes"] == [5e6]
    assert 1000.0 not in samples[cell]["wall_s"]


def test_profiled_baseline_at_c1_decides_its_own_heap_threshold() -> None:
    # The case: sync profiled at c=1, async at c=4. `sync.heap_peak < 100MiB` is
    # decided on sync's own cell (c=1), in the summary and in compare alike.
    trials = [trial("sync", 1, r) for r in range(3)] + [trial("async", 4, r) for r in range(3)]
    trials += [
        trial("sync", 1, 0, profiled=True, heap_peak_bytes=60 * MIB),
        trial("async", 4, 0, profiled=True, heap_peak_bytes=6 * MIB),
    ]
    doc = results(scenario(trials, thresholds=["sync.heap_peak < 100MiB"]))
    (outcome,) = summarize_run(doc)[0].thresholds
    assert (outcome.verdict, outcome.concurrency) == ("pass", 1)
    comparison = compare_run(doc)
    (check,) = [c for c in comparison.checks if c.kind == "threshold"]
    assert (check.verdict, check.concurrency) == ("pass", 1)
    assert comparison.exit_code == EXIT_OK


def test_a_variant_is_never_reported_where_it_did_not_run() -> None:
    # baseline = "async" (at c=4); sync ran at c=1 only. The threshold on async is one
    # outcome at c=4, never "async at c=1" and never counted twice.
    trials = [trial("sync", 1, r, throughput_bytes_per_s=10e6) for r in range(3)]
    trials += [trial("async", 4, r, throughput_bytes_per_s=60e6) for r in range(3)]
    doc = results(
        scenario(
            trials,
            baseline="async",
            thresholds=["async/sync.throughput > 5x", "async.success_rate >= 100%"],
        )
    )
    outcomes = threshold_outcomes(doc["scenarios"][0])
    assert [(o.verdict, o.concurrency) for o in outcomes] == [("pass", 4), ("pass", 4)]
    assert [len(o.cells) for o in outcomes] == [1, 1]
    assert outcomes[0].cells[0].baseline_concurrency == 1  # sync stood in from c=1
    comparison = compare_run(doc)
    assert comparison.summary["pass"] == 2
    assert {c.concurrency for c in comparison.checks if c.variant == "async"} == {4}


def test_no_honest_pairing_is_undecided_not_borrowed() -> None:
    # sync/async where async ran at c=4 and c=8: sync (c=1) has no async partner at c=1.
    trials = [trial("sync", 1, r) for r in range(3)]
    trials += [trial("async", c, r) for c in (4, 8) for r in range(3)]
    (outcome,) = threshold_outcomes(scenario(trials, thresholds=["sync/async.throughput < 1x"]))
    assert outcome.verdict == "undecided"
    assert "not at c=1" in outcome.detail


def test_one_failing_cell_fails_the_threshold_and_names_it() -> None:
    trials = [trial("async", 4, r, provider="kimi", latency_p50_s=0.1) for r in range(3)]
    trials += [trial("async", 4, r, provider="glm", latency_p50_s=0.9) for r in range(3)]
    (outcome,) = threshold_outcomes(scenario(trials, thresholds=["async.latency_p50 < 500ms"]))
    assert (outcome.verdict, outcome.provider, outcome.concurrency) == ("fail", "glm", 4)
    assert len(outcome.cells) == 2


def _lossy_doc(allow: list[str] | None = None) -> dict[str, Any]:
    lost = [{"name": "f-0001.bin", "reason": "content hash differs"}]
    trials = [trial("sync", 1, r) for r in range(3)]
    trials += [
        trial("broken", 4, r, integrity_errors=1.0, success_rate=0.5, lost_files=lost)
        for r in range(3)
    ]
    return results(scenario(trials, allow_data_loss=allow or []))


def test_data_lost_fails_the_run_whatever_the_thresholds() -> None:
    doc = _lossy_doc()
    (loss,) = data_lost(doc["scenarios"][0])
    assert (loss.provider, loss.variant, loss.files, loss.lost) == (
        "kimi",
        "broken",
        ("f-0001.bin",),
        3,
    )
    comparison = compare_run(doc)
    (check,) = [c for c in comparison.checks if c.kind == "integrity"]
    assert check.gating
    assert check.verdict == "fail"
    assert "data lost: broken on kimi" in check.reason
    assert "f-0001.bin" in check.reason
    assert comparison.exit_code == EXIT_REGRESSION
    assert "data lost in 1 variant(s)" in comparison.headline


def test_data_loss_allowed_for_a_variant_meant_to_be_broken() -> None:
    doc = _lossy_doc(allow=["broken"])
    assert data_lost(doc["scenarios"][0]) == []
    comparison = compare_run(doc)
    assert comparison.exit_code == EXIT_OK
    # allowed, but never silent: a note in compare (and so the report) and on the console
    assert any("data lost (allowed by allow_data_loss): broken" in n for n in comparison.notes)
    (summary,) = summarize_run(doc)
    (allowed,) = summary.data_lost_allowed
    assert allowed.allowed
    assert allowed.files == ("f-0001.bin",)
    console = Console(width=220, record=True)
    render_summary([summary], console)
    assert "note data lost (allowed by allow_data_loss): broken on kimi" in console.export_text()


def test_integrity_has_its_own_console_column() -> None:
    (summary,) = summarize_run(_lossy_doc())
    row = next(r for r in summary.rows if r.variant == "broken")
    assert row.integrity_errors == 3
    console = Console(width=220, record=True)
    render_summary([summary], console)
    text = console.export_text()
    assert "integrity" in text
    assert "3 lost" in text
    assert "FAIL data lost: broken on kimi: 3 file(s)" in text


def test_every_upload_failed_without_faults_is_a_likely_misconfiguration() -> None:
    records = [
        {"name": "f1", "outcome": "connection_error", "error": "no such file: /nope/curl"},
        {"name": "f2", "outcome": "connection_error", "error": "no such file: /nope/curl"},
    ]
    trials = [trial("sync", 1, 0)]
    trials += [trial("curl", 4, r, success_rate=0.0, records=records) for r in range(2)]
    doc = results(scenario(trials))
    (bad,) = likely_misconfigurations(doc["scenarios"][0])
    assert (bad.variant, bad.uploads) == ("curl", 4)
    assert bad.first_error == "connection_error: no such file: /nope/curl"
    (summary,) = summarize_run(doc)
    assert summary.misconfigurations == (bad,)
    assert summary_json([summary])[0]["misconfigurations"][0]["message"].startswith(
        "likely misconfiguration: curl on kimi failed all 4 upload(s)"
    )
    assert bad.message in compare_run(doc).notes
    # with a fault injected, failing uploads may be the point
    faulty = results(scenario(trials, faults=[{"type": "latency"}]))
    assert likely_misconfigurations(faulty["scenarios"][0]) == []


def test_harness_error_reasons_are_distinct_and_counted() -> None:
    trials = [trial("sync", 1, r, status="harness_error") for r in range(3)]
    trials[2]["error"] = "plugin raised ValueError"
    doc = results(scenario([*trials, trial("sync", 1, 3)]))
    (summary,) = summarize_run(doc)
    assert summary.harness_error_reasons == (
        "2x worker killed at its deadline (variant sync)",
        "1x plugin raised ValueError (variant sync)",
    )
    comparison = compare_run(doc)
    assert comparison.exit_code == EXIT_ERROR
    assert "s: harness error: 1x plugin raised ValueError (variant sync)" in comparison.notes
    assert "3 harness error(s) -> exit 2" in comparison.headline
    console = Console(width=160, record=True)
    render_summary([summary], console)
    assert "2x worker killed at its deadline" in console.export_text()


def test_undecided_threshold_holds_the_gate() -> None:
    only_async = scenario(
        [trial("async", 4, 0)],
        variants=["sync", "async"],
        thresholds=["async/sync.throughput > 2x"],
    )
    doc = results(only_async)
    assert compare_run(doc).exit_code == EXIT_INCONCLUSIVE
