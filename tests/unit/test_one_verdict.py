"""Run, compare and the report cannot disagree: one threshold evaluator, one exit-code
rule, and every metric list derived from the one metric table.

(a) a property test over generated results documents (stand-in baselines, profiled-only
    metrics with thresholds on them, mixed concurrencies, harness errors, lost data): the
    run command's path and the compare command's path give the same exit code and the same
    threshold outcomes, and no outcome names a concurrency its variant did not run;
(b) the console summary, compare and the report hold the one evaluator
    (:func:`harness.analysis.thresholds.threshold_outcomes`), and nothing else in
    ``harness/`` evaluates a threshold;
(c) every metric list is the metric table's.
"""

from __future__ import annotations

import ast
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness
from harness.analysis import thresholds as evaluator
from harness.analysis.summary import summarize_run
from harness.compare import compare_against
from harness.errors import EXIT_ERROR, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION
from harness.metrics import (
    DEFAULT_GATING_METRICS,
    HIGHER_IS_BETTER,
    METRIC_ALIASES,
    METRIC_KINDS,
    METRIC_NAMES,
    METRIC_TABLE,
    MIN_EFFECT,
    PROFILED_METRICS,
)
from harness.results import SCHEMA_VERSION, load_results

PROVIDERS = ("kimi", "glm")
THRESHOLD_TEMPLATES = (
    "{v}.heap_peak < 40MiB",
    "{v}.success_rate >= 100%",
    "{v}.latency_p50 < 400ms",
    "{v}/{b}.throughput > 1.5x",
    "{v}/{b}.heap_peak < 0.5x",
    "{v}.loop_lag_p99 < 1s",
)


@st.composite
def results_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A results document of one scenario: 2-3 variants, ``sync`` (when present) at c=1
    only, the others at one or two concurrencies, per provider; some trials profiled, some
    harness errors, some lost files; thresholds drawn from the templates."""
    variants = draw(
        st.lists(st.sampled_from(["sync", "async", "naive"]), min_size=2, max_size=3, unique=True)
    )
    baseline = draw(st.sampled_from(variants))
    concs = {
        v: (1,) if v == "sync" else tuple(draw(st.sets(st.sampled_from([1, 4, 8]), min_size=1)))
        for v in variants
    }
    providers = draw(st.lists(st.sampled_from(PROVIDERS), min_size=1, max_size=2, unique=True))
    repeats = draw(st.integers(1, 3))
    profiled = draw(st.sets(st.sampled_from(variants)))
    lossy = draw(st.sets(st.sampled_from(variants), max_size=1))
    allow = draw(st.sets(st.sampled_from(variants), max_size=1))
    p_error = draw(st.sampled_from([0.0, 0.0, 0.2]))
    value = st.floats(0.05, 2.0)
    trials: list[dict[str, Any]] = []

    def add(provider: str, variant: str, c: int, r: int, *, profile: bool) -> None:
        metrics: dict[str, float | None] = dict.fromkeys(METRIC_NAMES)
        failed = draw(st.floats(0, 1)) < p_error
        lost = variant in lossy and not profile and r == 0
        if not profile:
            metrics.update(
                throughput_bytes_per_s=draw(value) * 50e6,
                latency_p50_s=draw(value) * 0.3,
                success_rate=0.5 if lost else draw(st.sampled_from([1.0, 1.0, 0.9])),
                integrity_errors=1.0 if lost else 0.0,
                loop_lag_p99_s=None if variant == "sync" else draw(value) * 0.01,
            )
        else:
            metrics["heap_peak_bytes"] = draw(value) * 40 * 2**20
        trials.append(
            {
                "key": f"s|{provider}|{variant}|c={c}|r={r}" + ("|profile" if profile else ""),
                "index": len(trials),
                "provider": provider,
                "variant": variant,
                "concurrency": c,
                "repeat": r,
                "warmup": False,
                "profiled": profile,
                "status": "harness_error" if failed else "ok",
                "error": "worker exited with code 1" if failed else None,
                "started_at": "2026-12-01T00:00:00Z",
                "duration_s": 1.0,
                "metrics": metrics if not failed else dict.fromkeys(METRIC_NAMES),
                "records": [],
                "mock": None,
                "profile": None,
                "lost_files": [{"name": "f-1.bin", "reason": "missing"}] if lost else [],
            }
        )

    for provider in providers:
        for variant in variants:
            for c in concs[variant]:
                for r in range(repeats):
                    add(provider, variant, c, r, profile=False)
                if variant in profiled:
                    add(provider, variant, c, 0, profile=True)
    texts = []
    for template in draw(st.lists(st.sampled_from(THRESHOLD_TEMPLATES), max_size=4)):
        v = draw(st.sampled_from(variants))
        b = draw(st.sampled_from([x for x in variants if x != v]))
        texts.append(template.format(v=v, b=b))
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": "run-01",
        "started_at": "2026-12-01T00:00:00Z",
        "finished_at": "2026-12-01T00:10:00Z",
        "complete": True,
        "shard": None,
        "environment": {"fingerprint": "fp"},
        "scenarios": [
            {
                "name": "s",
                "hash": "h",
                "baseline": baseline,
                "definition": {
                    "name": "s",
                    "variants": variants,
                    "thresholds": texts,
                    "allow_data_loss": sorted(allow),
                    "faults": [],
                    "network_faults": [],
                },
                "trials": trials,
            }
        ],
    }


def _summary_exit_code(doc: dict[str, Any]) -> int:
    """An independent reading of the run's console summary: what its lines say the exit
    code must be (against none)."""
    summaries = summarize_run(doc)
    if any(s.harness_errors for s in summaries):
        return EXIT_ERROR
    if any(s.thresholds_failed or s.data_lost for s in summaries):
        return EXIT_REGRESSION
    if any(t.passed is None for s in summaries for t in s.thresholds):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(results_documents())
def test_run_and_compare_agree_on_generated_results(doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        reports = Path(tmp)
        # the run command's path: its document in memory, compared as it was just measured
        run_verdict = compare_against(doc, None, reports_dir=reports)
        run_outcomes = summarize_run(doc)[0].thresholds
        # the compare command's path: the same run read back from results.json
        (reports / "run-01").mkdir()
        (reports / "run-01" / "results.json").write_text(json.dumps(doc), encoding="utf-8")
        loaded = load_results("run-01", reports_dir=reports)
        compare_verdict = compare_against(loaded, None, reports_dir=reports)  # type: ignore[arg-type]
    assert run_verdict.exit_code == compare_verdict.exit_code == _summary_exit_code(doc)
    checks = [c for c in compare_verdict.checks if c.kind == "threshold"]
    assert [(o.threshold, o.verdict, o.provider, o.concurrency) for o in run_outcomes] == [
        (c.baseline, {"inconclusive": "undecided"}.get(c.verdict, c.verdict), c.provider,
         c.concurrency)
        for c in checks
    ]  # fmt: skip
    ran = {(t["provider"], t["variant"]): set() for t in doc["scenarios"][0]["trials"]}  # type: dict[tuple[str, str], set[int]]
    for t in doc["scenarios"][0]["trials"]:
        ran[(t["provider"], t["variant"])].add(t["concurrency"])
    for outcome in run_outcomes:
        for cell in outcome.cells:
            assert cell.concurrency in ran[(cell.provider, outcome.variant)]
    # the headline counts exactly the checks that decide the exit code
    assert sum(c.kind == "threshold" for c in compare_verdict.checks) == len(run_outcomes)


def test_the_summary_and_compare_hold_the_one_evaluator() -> None:
    from harness.analysis import summary
    from harness.compare import gate

    assert summary.threshold_outcomes is evaluator.threshold_outcomes
    assert gate.threshold_outcomes is evaluator.threshold_outcomes


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(results_documents())
def test_the_report_reads_the_same_outcomes(doc: dict[str, Any]) -> None:
    # The report gets its verdicts from the comparison the run passes it (compare's checks,
    # built from the one evaluator); its headline counts and exit code must be the run's.
    from harness.report.headline import headline

    comparison = compare_against(doc, None, reports_dir=Path("unused"))
    (summary,) = summarize_run(doc)
    shown = headline(comparison.to_dict())
    assert shown.exit_code == comparison.exit_code
    # failed/passed count every gating check that fails or passes: thresholds and data lost
    assert shown.failed == summary.thresholds_failed + len(summary.data_lost)
    assert shown.passed == sum(t.verdict == "pass" for t in summary.thresholds)


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def test_nothing_else_evaluates_a_threshold() -> None:
    root = Path(harness.__file__).parent
    evaluating = {
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if _calls(path) & {"holds", "evaluate_thresholds", "_evaluate"}
    }
    assert evaluating == {"analysis/thresholds.py"}


def test_every_metric_list_is_the_metric_tables() -> None:
    from harness import compare, results, thresholds
    from harness.analysis import cells
    from harness.compare import Policy

    names = tuple(m.name for m in METRIC_TABLE if m.source != "derived")
    assert results.METRIC_NAMES == names == METRIC_NAMES
    assert dict(thresholds.METRICS) == {m.name: m.kind for m in METRIC_TABLE} == METRIC_KINDS
    assert dict(thresholds.METRIC_ALIASES) == {a: m.name for m in METRIC_TABLE for a in m.aliases}
    assert METRIC_ALIASES == thresholds.METRIC_ALIASES
    policy = Policy()
    assert dict(policy.min_effect) == {m.name: m.min_effect for m in METRIC_TABLE} == MIN_EFFECT
    assert policy.gating_metrics == tuple(m.name for m in METRIC_TABLE if m.gating)
    assert policy.gating_metrics == DEFAULT_GATING_METRICS
    assert policy.checked_metrics() == METRIC_NAMES
    assert {m.name for m in METRIC_TABLE if m.higher_is_better} == HIGHER_IS_BETTER
    assert compare.HIGHER_IS_BETTER is HIGHER_IS_BETTER
    assert compare.MIN_EFFECT is MIN_EFFECT
    assert tuple(m.name for m in METRIC_TABLE if m.source == "profiled") == PROFILED_METRICS
    assert set(cells._TIMED) | set(PROFILED_METRICS) == set(METRIC_NAMES)


def test_uploadbench_list_shows_the_metric_tables_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    assert main(["list", str(tmp_path)]) in (0, 2)  # an empty folder: no scenarios
    out = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(out) if line.startswith("Metrics ("))
    # one "  NAME [unit] (...)" line per metric, each followed by its indented definition
    shown = [
        line.split()[0]
        for line in out[start + 1 :]
        if line.startswith("  ") and not line.startswith("    ")
    ]
    assert shown[: len(METRIC_TABLE)] == [m.name for m in METRIC_TABLE]


def test_the_mocks_counts_are_trial_metrics_as_its_summary_counts_them() -> None:
    # connections_opened and tls_handshakes are metric-table rows (tables, thresholds and
    # history see them), filled by the orchestrator from the mock's stats with the same
    # functions as the trial's `mock` block: a worker cannot claim them
    from harness.checks import mock_summary
    from harness.runner import _judge

    assert {"connections_opened", "tls_handshakes"} <= set(METRIC_NAMES)
    assert METRIC_KINDS["tls_handshakes"] == "count"
    assert METRIC_ALIASES["handshakes"] == "tls_handshakes"
    stats = {
        "requests": [],
        "totals": {"provider_connections": 9, "provider_handshakes": 7, "tls_handshakes": 8},
    }
    claimed = dict.fromkeys(METRIC_NAMES, 0.0) | {"connections_opened": 1, "tls_handshakes": 1}
    entry: dict[str, Any] = {"metrics": dict.fromkeys(METRIC_NAMES)}
    _judge(entry, {"metrics": claimed, "records": []}, [], stats)  # type: ignore[arg-type]
    summary = mock_summary(stats)
    assert entry["metrics"]["connections_opened"] == summary["provider_connections"] == 9
    # the handshakes the uploader's connections paid, not the control calls' (8)
    assert entry["metrics"]["tls_handshakes"] == summary["tls_handshakes"] == 7
    assert tuple(entry["metrics"]) == METRIC_NAMES
    # plain HTTP: no handshake was paid
    _judge(entry, {"metrics": claimed, "records": []}, [], {"totals": {"provider_connections": 2}})  # type: ignore[arg-type]
    assert entry["metrics"]["tls_handshakes"] == 0
