"""Paired head-against-base verdicts (harness.analysis.paired) and their rendering and gate
(harness.compare.paired): synthetic base-and-head runs, no files or sockets."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from harness.analysis import calibration, stats
from harness.analysis.paired import (
    MIN_PAIRS,
    PairedCheck,
    has_revisions,
    paired_checks,
    paired_noise,
    pairs_needed,
    pairs_to_add,
    revisions_of,
)
from harness.compare.gate import exit_code_for
from harness.compare.paired import (
    paired_console_lines,
    paired_exit_code,
    paired_headline,
    paired_markdown,
    to_gate_checks,
)
from harness.errors import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION
from harness.metrics import DEFAULT_GATING_METRICS
from tests.factories.results import NOISY, TYPICAL, make_results, make_trial

GATING = DEFAULT_GATING_METRICS  # throughput, latency p50, latency p99, success rate
REVISIONS = {
    "base": {"label": "base", "ref": "main", "commit": "1a2b3c4d5e6f7a8b", "dirty": False},
    "head": {"label": "head", "ref": "feature/pool", "commit": "9f8e7d6c5b4a", "dirty": True},
}


def paired_doc(
    *,
    seed: int = 0,
    processes: int = 5,
    rounds: int = 6,
    noise: float = 0.10,
    head_factor: Mapping[str, float] | None = None,
    head_values: Mapping[str, float | None] | None = None,
    process_noise: float = 0.10,
    cells: Sequence[tuple[str, str, int]] = (("kimi", "async", 4),),
    skip: Sequence[tuple[str, int, int]] = (),
) -> dict[str, Any]:
    """A base-and-head run: per cell, ``processes`` x ``rounds`` pairs. Every noisy metric
    of a trial is TYPICAL x exp(process + round + own noise); process and round effects are
    shared by base and head (what pairing cancels), ``noise`` is each trial's own (so a
    pair's log-ratio has sd ``noise * sqrt(2)``). ``head_factor`` multiplies the head's
    values; ``head_values`` sets them; ``skip`` leaves out (label, repeat, round) trials."""
    rng = np.random.default_rng(seed)
    trials: list[dict[str, Any]] = []
    for provider, variant, concurrency in cells:
        for p in range(processes):
            shared_p = process_noise * rng.standard_normal()
            for r in range(rounds):
                shared = shared_p + 0.03 * rng.standard_normal()
                for label in ("base", "head"):
                    metrics: dict[str, float | None] = {}
                    for name, value in TYPICAL.items():
                        if name in NOISY:
                            value *= math.exp(shared + noise * rng.standard_normal())
                        metrics[name] = value
                    metrics["loop_lag_p99_s"] = None  # not applicable: skipped
                    if label == "head":
                        for name, factor in (head_factor or {}).items():
                            metrics[name] = float(metrics[name] or 0.0) * factor
                        metrics.update(head_values or {})
                    if (label, p, r) in skip:
                        continue
                    trial = make_trial(provider, variant, concurrency, p, metrics)
                    trial["round"] = r
                    trial["revision"] = dict(REVISIONS[label])
                    trial["key"] += f"|round={r}|{label}"
                    trials.append(trial)
    scenario = {
        "name": "s",
        "hash": "h",
        "definition": {"name": "s"},
        "baseline": "sync",
        "trials": trials,
    }
    return make_results("run-01", [scenario])


def by_metric(checks: Sequence[PairedCheck]) -> dict[str, PairedCheck]:
    return {c.metric: c for c in checks}


def test_revisions_are_read_from_the_trials() -> None:
    doc = paired_doc()
    assert has_revisions(doc)
    assert revisions_of(doc) == REVISIONS
    for trial in doc["scenarios"][0]["trials"]:
        del trial["revision"]
    assert not has_revisions(doc)
    assert revisions_of(doc) == {}
    assert paired_checks(doc) == []


def test_no_change_is_never_called_a_regression_across_seeds() -> None:
    # 200 A/A runs of one cell, 10% per-trial noise, 5 processes x 6 rounds: the default
    # (Bonferroni) alpha keeps the share of runs with any gating change near 5% or below.
    flagged_runs = regressed_runs = 0
    for seed in range(200):
        checks = paired_checks(paired_doc(seed=seed), metrics=GATING, resamples=1000)
        verdicts = {c.verdict for c in checks}
        assert len(checks) == len(GATING)
        regressed_runs += "regressed" in verdicts
        flagged_runs += bool(verdicts & {"regressed", "improved"})
    assert regressed_runs <= 10  # 5%
    assert flagged_runs <= 14


def test_a_throughput_drop_of_20_percent_is_a_regression() -> None:
    doc = paired_doc(seed=1, head_factor={"throughput_bytes_per_s": 0.8})
    check = by_metric(paired_checks(doc))["throughput_bytes_per_s"]
    assert check.verdict == "regressed"
    assert check.scale == "ratio"
    assert check.ratio is not None
    assert 0.7 < check.ratio < 0.9
    assert check.ci_low is not None
    assert check.ci_high is not None
    assert check.ci_low < check.ratio < check.ci_high < 1.0
    assert check.p_value is not None
    assert check.p_value < check.alpha
    assert (check.n_pairs, check.n_processes, check.n_dropped) == (30, 5, 0)
    assert check.gating
    assert check.higher_is_better
    assert "excludes no change" in check.reason
    json = check.to_json()
    assert json["verdict"] == "regressed"
    assert json["scale"] == "ratio"


def test_a_latency_rise_of_10_percent_with_3_percent_noise_is_a_regression() -> None:
    doc = paired_doc(seed=2, noise=0.03, head_factor={"latency_p50_s": 1.10})
    checks = by_metric(paired_checks(doc))
    assert checks["latency_p50_s"].verdict == "regressed"
    assert checks["latency_p50_s"].ratio == pytest.approx(1.10, abs=0.02)
    # the metrics that did not move are unchanged at this noise
    assert checks["latency_p99_s"].verdict == "unchanged"
    assert checks["wall_s"].verdict == "unchanged"


def test_an_improvement_is_improved() -> None:
    doc = paired_doc(
        seed=3, noise=0.03, head_factor={"throughput_bytes_per_s": 1.3, "latency_p99_s": 0.7}
    )
    checks = by_metric(paired_checks(doc))
    assert checks["throughput_bytes_per_s"].verdict == "improved"
    assert checks["latency_p99_s"].verdict == "improved"
    assert paired_exit_code(list(checks.values())) == EXIT_OK
    assert "head is faster than base on 2 gating checks" in paired_headline(list(checks.values()))


def test_too_few_pairs_is_inconclusive() -> None:
    doc = paired_doc(processes=1, rounds=3, head_factor={"throughput_bytes_per_s": 0.5})
    checks = paired_checks(doc)
    assert {c.verdict for c in checks} == {"inconclusive"}
    check = by_metric(checks)["throughput_bytes_per_s"]
    assert check.reason.startswith(f"{MIN_PAIRS} pairs needed, have 3")
    assert check.ratio is None
    assert check.ci_low is None
    assert check.p_value is None
    assert pairs_to_add(checks)
    assert paired_exit_code(checks) == EXIT_INCONCLUSIVE


def test_one_process_uses_the_plain_bootstrap_over_its_pairs() -> None:
    doc = paired_doc(seed=4, processes=1, rounds=12, noise=0.02, head_factor={"latency_p50_s": 1.2})
    check = by_metric(paired_checks(doc))["latency_p50_s"]
    assert (check.n_pairs, check.n_processes) == (12, 1)
    assert check.verdict == "regressed"


def test_a_trial_without_its_other_half_is_not_a_pair() -> None:
    skip = [("head", 0, 0), ("base", 1, 2), ("base", 3, 5)]
    doc = paired_doc(seed=5, skip=skip)
    checks = paired_checks(doc, metrics=GATING)
    assert {c.n_pairs for c in checks} == {27}
    # a failed or warm-up trial pairs with nothing either
    doc = paired_doc(seed=5)
    trials = doc["scenarios"][0]["trials"]
    trials[0]["status"] = "harness_error"
    trials[3]["warmup"] = True
    trials[5]["profiled"] = True
    assert {c.n_pairs for c in paired_checks(doc, metrics=GATING)} == {27}
    # a cell whose every trial failed still has its gating checks, inconclusive
    for trial in trials:
        trial["status"] = "harness_error"
    checks = paired_checks(doc)
    assert [c.metric for c in checks] == list(GATING)
    assert all(c.verdict == "inconclusive" and c.n_pairs == 0 for c in checks)


def test_pairs_match_on_process_and_round_not_on_position() -> None:
    doc = paired_doc(seed=6, head_factor={"throughput_bytes_per_s": 0.8})
    doc["scenarios"][0]["trials"].reverse()
    check = by_metric(paired_checks(doc))["throughput_bytes_per_s"]
    assert check.verdict == "regressed"
    assert check.n_pairs == 30


def test_a_fraction_is_compared_by_its_difference() -> None:
    doc = paired_doc(seed=7)
    for i, trial in enumerate(doc["scenarios"][0]["trials"]):
        if trial["revision"]["label"] == "head":
            trial["metrics"]["success_rate"] = 0.9 if i % 4 else 0.8
            trial["metrics"]["timeout_rate"] = 0.1
    checks = by_metric(paired_checks(doc))
    success = checks["success_rate"]
    assert success.scale == "difference"
    assert success.ratio is None
    assert success.delta == pytest.approx(-0.125, abs=0.03)
    assert success.ci_low is not None
    assert success.ci_high is not None
    assert success.ci_high < 0
    assert success.verdict == "regressed"
    assert "pp" in success.reason
    assert checks["timeout_rate"].verdict == "regressed"  # more timeouts is worse
    assert checks["timeout_rate"].delta == pytest.approx(0.1)
    # an unchanged fraction (1.0 on both sides) is unchanged, p = 1
    same = by_metric(paired_checks(paired_doc(seed=7)))["success_rate"]
    assert (same.verdict, same.delta, same.p_value) == ("unchanged", 0.0, 1.0)
    # integrity errors (min effect 0): the difference scale, 0 vs 0 is unchanged
    integrity = by_metric(paired_checks(paired_doc(seed=7)))["integrity_errors"]
    assert (integrity.scale, integrity.verdict) == ("difference", "unchanged")


def test_missing_values_are_skipped_and_a_metric_nobody_has_is_left_out() -> None:
    doc = paired_doc(seed=8)
    heads = [t for t in doc["scenarios"][0]["trials"] if t["revision"]["label"] == "head"]
    for trial in heads[:4]:
        trial["metrics"]["latency_p99_s"] = None
    checks = by_metric(paired_checks(doc))
    assert "loop_lag_p99_s" not in checks  # None in every pair: not applicable
    assert checks["latency_p99_s"].n_pairs == 26
    assert "4 without a value" in checks["latency_p99_s"].reason
    assert checks["latency_p50_s"].n_pairs == 30


def test_zero_values_are_dropped_from_a_ratio_and_the_reason_says_so() -> None:
    doc = paired_doc(seed=9)
    heads = [t for t in doc["scenarios"][0]["trials"] if t["revision"]["label"] == "head"]
    for trial in heads[:3]:
        trial["metrics"]["throughput_bytes_per_s"] = 0.0
    check = by_metric(paired_checks(doc))["throughput_bytes_per_s"]
    assert (check.n_pairs, check.n_dropped) == (27, 3)
    assert "3 with a value <= 0 (no log-ratio)" in check.reason
    # retries are 0 on both sides of every pair: no change, not a dropped pair
    retries = by_metric(paired_checks(doc))["retries"]
    assert retries.verdict == "unchanged"
    assert retries.n_dropped == 0


def test_the_default_alpha_is_bonferroni_over_the_gating_checks() -> None:
    doc = paired_doc(seed=10, cells=(("kimi", "async", 4), ("glm", "async", 4)))
    checks = paired_checks(doc)
    gating = [c for c in checks if c.gating]
    assert len(gating) == 2 * len(GATING)
    assert {c.alpha for c in checks} == {0.05 / len(gating)}
    one = paired_checks(doc, metrics=["throughput", "wall_s"])  # aliases allowed
    assert [c.metric for c in one] == ["wall_s", "throughput_bytes_per_s"] * 2
    assert {c.alpha for c in one} == {0.05 / 2}
    assert {c.alpha for c in paired_checks(doc, alpha=0.01)} == {0.01}
    with pytest.raises(ValueError, match="no pairs"):
        paired_checks(doc, metrics=["heap_peak_bytes"])


def test_checks_are_reproducible_from_the_seed() -> None:
    doc = paired_doc(seed=11)
    assert paired_checks(doc, seed=3) == paired_checks(doc, seed=3)
    a, b = paired_checks(doc, seed=3), paired_checks(doc, seed=4)
    assert [c.ci_low for c in a] != [c.ci_low for c in b]
    # a check's CI does not depend on which other checks ran
    alone = paired_checks(doc, seed=3, metrics=["latency_p50_s"], alpha=a[0].alpha)
    assert alone[0] == by_metric(a)["latency_p50_s"]


def test_a_sweep_pairs_each_size_separately() -> None:
    doc = paired_doc(seed=12)
    for i, trial in enumerate(doc["scenarios"][0]["trials"]):
        trial["file_size_bytes"] = 1024 * 1024 * (1 + (i // 2) % 2)
    checks = [c for c in paired_checks(doc) if c.metric == "latency_p50_s"]
    assert sorted((c.size, c.n_pairs) for c in checks) == [(1048576, 15), (2097152, 15)]
    assert checks[0].cell.endswith("/ 1 MiB") or checks[0].cell.endswith("/ 2 MiB")


def test_the_markdown_names_the_revisions_and_the_verdict() -> None:
    doc = paired_doc(
        seed=13, noise=0.03, head_factor={"throughput_bytes_per_s": 0.8, "latency_p99_s": 1.3}
    )
    checks = paired_checks(doc)
    text = paired_markdown(checks, revisions_of(doc))
    first = text.splitlines()[0]
    assert "head is slower than base on 2 gating checks" in first
    assert "main @ 1a2b3c4d" in text
    assert "feature/pool @ 9f8e7d6c, dirty" in text
    assert "| s / kimi / async / c=4 | throughput |" in text
    assert "🔴 regressed" in text
    assert "⚪ unchanged" in text
    assert "-20." in text or "-19." in text or "-21." in text  # the drop, in percent
    assert "MiB/s" in text  # values by the metric table's formatter
    lines = paired_console_lines(checks)
    assert len(lines) == len(GATING) + 1
    assert lines[-1].startswith("head vs base: head is slower than base on 2 gating checks")
    unchanged = paired_checks(paired_doc(seed=14, noise=0.02))
    assert paired_markdown(unchanged, REVISIONS).startswith(
        "### Head against base: no gating change"
    )
    few = paired_checks(paired_doc(processes=1, rounds=2))
    assert "inconclusive on 4 gating checks" in paired_markdown(few, REVISIONS).splitlines()[0]


def test_non_gating_regressions_are_listed_after_the_gating_table() -> None:
    doc = paired_doc(seed=15, noise=0.03, head_factor={"cpu_user_s": 1.5})
    checks = paired_checks(doc)
    assert by_metric(checks)["cpu_user_s"].verdict == "regressed"
    text = paired_markdown(checks, REVISIONS)
    assert text.splitlines()[0].endswith("no gating change")
    assert text.index("#### Gating checks") < text.index("#### Regressed, not gating")
    assert "CPU user" in text.split("#### Regressed, not gating")[1]
    assert paired_exit_code(checks) == EXIT_OK  # not gating


def test_paired_checks_enter_the_one_exit_code_rule() -> None:
    regressed = paired_checks(paired_doc(seed=16, head_factor={"throughput_bytes_per_s": 0.8}))
    unchanged = paired_checks(paired_doc(seed=17, noise=0.02))
    few = paired_checks(paired_doc(processes=1, rounds=3))
    assert {c.verdict for c in unchanged if c.gating} == {"unchanged"}
    assert paired_exit_code(regressed) == EXIT_REGRESSION
    assert paired_exit_code(unchanged) == EXIT_OK
    assert paired_exit_code(few) == EXIT_INCONCLUSIVE
    gate = to_gate_checks(regressed, REVISIONS)
    assert exit_code_for(gate) == EXIT_REGRESSION
    throughput = next(c for c in gate if c.metric == "throughput_bytes_per_s")
    assert throughput.kind == "paired"
    assert throughput.gating
    assert throughput.failed
    assert throughput.baseline == "base (main @ 1a2b3c4d)"
    assert throughput.n_baseline == throughput.n_candidate == 30
    assert throughput.label == "s / kimi / async / c=4"


def test_an_inconclusive_difference_check_reaches_the_gate_on_its_own_band() -> None:
    # success 100% -> 99.5% in a few pairs: the CI reaches past -1 pp on the worse side only
    # when the loss is large enough; the gate reads 1 + difference against 1 ± min effect.
    check = PairedCheck(
        scenario="s", provider="kimi", variant="async", concurrency=4, size=None,
        metric="success_rate", gating=True, higher_is_better=True, scale="difference",
        n_pairs=30, n_processes=5, n_dropped=0, base_median=1.0, head_median=1.0,
        ratio=None, delta=-0.004, ci_low=-0.012, ci_high=0.001, p_value=0.2, min_effect=0.01,
        alpha=0.0125, verdict="inconclusive", reason="straddles",
    )  # fmt: skip
    (gate,) = to_gate_checks([check])
    assert gate.ci_low == pytest.approx(0.988)
    assert gate.ratio == pytest.approx(0.996)
    assert gate.undecided
    assert paired_exit_code([check]) == EXIT_INCONCLUSIVE
    better_side = PairedCheck(**{**check.to_json(), "ci_low": -0.008, "ci_high": 0.02})
    assert paired_exit_code([better_side]) == EXIT_OK  # a loss past 1 pp is ruled out


def test_paired_noise_and_pairs_needed() -> None:
    noises = paired_noise(paired_doc(seed=18, processes=5, rounds=6, noise=0.05))
    assert [n.metric for n in noises] == list(GATING)
    latency = next(n for n in noises if n.metric == "latency_p50_s")
    assert latency.sd == pytest.approx(0.05 * math.sqrt(2), rel=0.35)
    assert latency.n_pairs == 30
    assert latency.scale == "ratio"
    # n = ((1.96 + 0.84) * 0.1 / log(1.05))^2 = 32.9 -> 33
    assert pairs_needed(0.1, 0.05) == 33
    assert pairs_needed(0.1, 0.10) == 9
    assert pairs_needed(0.0, 0.05) == MIN_PAIRS
    assert pairs_needed(0.001, 0.5, alpha=0.001) == 11  # 2/2^11 < 0.001 is the first n
    assert pairs_needed(0.02, 0.01, scale="difference") == 32
    with pytest.raises(ValueError, match="effect > 0"):
        pairs_needed(0.1, 0.0)
    lines = calibration.render_paired(noises)
    assert len(lines) == len(noises) + 1
    assert any(
        line.startswith("  s / kimi / async / c=4 latency_p50_s: paired sd ")
        and "pairs to detect 5%: " in line
        and ", 10%: " in line
        for line in lines
    )


def test_the_statistics_helpers() -> None:
    assert stats.min_wilcoxon_p(6) == pytest.approx(0.03125)
    assert stats.min_wilcoxon_p(0) == 1.0
    assert stats.wilcoxon_signed_rank([0.0, 0.0, 0.0]).p_value == 1.0
    assert stats.wilcoxon_signed_rank([0.1] * 6).p_value == pytest.approx(0.03125)
    rng = np.random.default_rng(0)
    ci = stats.cluster_bootstrap_mean_ci([[1.0, 2.0, 3.0], [2.0, 3.0]], rng=rng)
    assert 1.0 <= ci.low < 2.2 < ci.high <= 3.0
    assert stats.cluster_bootstrap_mean_ci([[0.0, 0.0]], rng=rng).low == 0.0


def test_an_inconclusive_check_that_rules_out_a_regression_does_not_hold_the_run() -> None:
    import dataclasses

    from harness.compare.paired import paired_exit_code, paired_headline

    doc = paired_doc(seed=11)
    checks = [c for c in paired_checks(doc) if c.metric == "throughput_bytes_per_s"]
    # +3.3% [-0.5%, +8.3%] on throughput: undecided, but no regression beyond 5% is possible
    better_side = dataclasses.replace(
        checks[0], verdict="inconclusive", ratio=1.033, ci_low=0.995, ci_high=1.083
    )
    assert paired_exit_code([better_side]) == 0
    assert "no regression beyond the minimum effect on 1 gating check" in paired_headline(
        [better_side]
    )
    worse_side = dataclasses.replace(better_side, ratio=0.97, ci_low=0.92, ci_high=1.01)
    assert paired_exit_code([worse_side]) == 3
    assert paired_headline([worse_side]).startswith("inconclusive on 1 gating check")
