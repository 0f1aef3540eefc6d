"""A run's comparison: every check of every scenario (thresholds, data lost, variant
checks, and history -- with the rollback triggers -- or another run), gathered into one
:class:`RunComparison` whose exit code comes from :func:`harness.compare.gate.exit_code_for`.

:func:`compare_run` is pure; :func:`compare_against` reads the history folder or the other
run and then calls it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.analysis.cells import cell_samples
from harness.analysis.integrity import allowed_data_loss, likely_misconfigurations
from harness.analysis.paired import PairedCheck, has_revisions, paired_checks, revisions_of
from harness.analysis.summary import harness_error_reasons, sample_time
from harness.analysis.triggers import TRIGGERS, RollbackRules, rollback_triggers
from harness.compare.baseline import baseline_checks, noise_runs
from harness.compare.gate import data_lost_checks, exit_code_for, threshold_checks, trigger_check
from harness.compare.model import Check, Policy, RunComparison, no_baseline_check
from harness.compare.paired import to_gate_checks
from harness.compare.steps import step_checks
from harness.compare.variants import compare_variants
from harness.errors import ResultsError
from harness.history import GroupKey, HistoryEntry, history_root, load_history, select_comparable
from harness.results import load_results
from harness.results.contract import ResultsDoc, ScenarioDoc

__all__ = ["compare_against", "compare_run"]


def _fingerprint(doc: ResultsDoc) -> str | None:
    value = (doc.get("environment") or {}).get("fingerprint")
    return None if value is None else str(value)


def _against_run(
    scenario: ScenarioDoc,
    other: ScenarioDoc | None,
    baseline_run: ResultsDoc,
    label: str,
    results: ResultsDoc,
    policy: Policy,
    noise_history: Sequence[HistoryEntry] | None,
    notes: list[str],
) -> list[Check]:
    name = scenario["name"]
    if other is None:
        return [no_baseline_check(name, label, f"{label} lacks this scenario")]
    if other["hash"] != scenario["hash"]:
        return [
            no_baseline_check(
                name,
                label,
                f"{label} ran another definition of this scenario (hash "
                f"{str(other['hash'])[:12]} vs {str(scenario['hash'])[:12]})",
            )
        ]
    noise, why = noise_runs(
        scenario,
        noise_history,
        _fingerprint(results),
        results["run_id"],
        str(results["started_at"]),
        policy,
    )
    notes.append(f"{name}: {label}: {why}")
    other_run = str(baseline_run["run_id"])
    commit = (baseline_run.get("environment") or {}).get("git_commit")
    run: dict[GroupKey, Mapping[str, Sequence[float]]] = dict(cell_samples(other).items())
    return _compared(baseline_checks(scenario, [run], label, policy, noise), other_run,
                     other_run, commit)  # fmt: skip


def _compared(checks: Sequence[Check], first: str, last: str, commit: object) -> list[Check]:
    """The checks with the runs they compared with and the last one's commit."""
    runs, sha = (first, last), str(commit) if commit else None
    return [replace(c, compared_runs=runs, compared_commit=sha) for c in checks]


def _against_history(
    scenario: ScenarioDoc,
    history: Sequence[HistoryEntry],
    results: ResultsDoc,
    policy: Policy,
    notes: list[str],
) -> list[Check]:
    comparable: dict[str, Any] = {
        "scenario_hash": str(scenario["hash"]),
        "fingerprint": _fingerprint(results),
        "exclude_run_id": results["run_id"],
        "before": str(results["started_at"]),
        "any_environment": policy.any_environment,
    }
    chosen, why = select_comparable(history, last=policy.last, **comparable)
    name = scenario["name"]
    notes.append(f"{name}: history: {why}")
    if not chosen:
        notes.append(f"{name}: rollback triggers not checked (no comparable history)")
        return [no_baseline_check(name, "history", f"no comparable history: {why}")]
    first, last = chosen[0].run_id, chosen[-1].run_id
    label = f"history ({len(chosen)} runs: {first}..{last})"
    runs = [{k: dict(v) for k, v in entry.groups.items()} for entry in chosen]
    checks = _compared(baseline_checks(scenario, runs, label, policy), first, last,
                       chosen[-1].git_commit)  # fmt: skip
    return checks + _trigger_checks(scenario, history, chosen, comparable, notes)


def _trigger_checks(
    scenario: ScenarioDoc,
    history: Sequence[HistoryEntry],
    chosen: Sequence[HistoryEntry],
    comparable: Mapping[str, Any],
    notes: list[str],
) -> list[Check]:
    """The rollback triggers (:mod:`harness.analysis.triggers`): rates and memory against
    the history checks' runs, error kinds against every comparable run ("never seen")."""
    every, _ = select_comparable(history, last=max(1, len(history)), **comparable)
    rules = RollbackRules.of(scenario)
    name = scenario["name"]
    off = [t for t in TRIGGERS if not rules.enabled(t)]
    if off:
        notes.append(
            f"{name}: rollback triggers off by the scenario's [rollback]: {', '.join(off)}"
        )
    outcomes = rollback_triggers(
        scenario, [e.past_run() for e in chosen], [e.past_run() for e in every], rules
    )
    notes.extend(
        f"{name}: rollback trigger {o.trigger}: {o.detail}"
        for o in outcomes
        if o.verdict == "unknown"
    )
    return [trigger_check(o) for o in outcomes]


def compare_run(
    results: ResultsDoc,
    *,
    history: Sequence[HistoryEntry] | None = None,
    baseline_run: ResultsDoc | None = None,
    policy: Policy | None = None,
    notes: Sequence[str] = (),
    variant_checks: bool = True,
    noise_history: Sequence[HistoryEntry] | None = None,
    thresholds: bool = True,
) -> RunComparison:
    """Thresholds (unless ``thresholds`` is false: a shard's are decided after the merge),
    head against base when the run measured both (:mod:`harness.analysis.paired`),
    data lost, likely misconfigurations and harness-error reasons (as notes), variant checks (unless
    ``variant_checks`` is false), and (when given) checks against ``history`` entries or
    against ``baseline_run``, for every scenario of ``results``, and the run's sample
    efficiency (:func:`harness.analysis.summary.sample_time`: describes, never gates). Pure.

    History entries must be comparable (same scenario hash and environment fingerprint,
    :func:`harness.history.select_comparable` picks them); a scenario without any gets one
    inconclusive gating check saying why. Against history, the rollback triggers
    (:func:`harness.analysis.triggers.rollback_triggers`) are checks of kind ``trigger``
    too; a scenario without comparable history gets a note instead. ``baseline_run`` must
    share the environment fingerprint unless ``policy.any_environment``:
    :class:`ResultsError` otherwise. One run says nothing of run-to-run noise, so checks
    against it take their min-effect floor from the comparable runs of ``noise_history``
    (same scenario hash and fingerprint, older than the run, the last ``policy.last``);
    without >= 2 such runs a note says the floor is unknown and the plain min effects
    apply.
    """
    policy = policy or Policy()
    run_id = results["run_id"]
    all_notes = list(notes)
    against = "none"
    other_scenarios: dict[str, ScenarioDoc] = {}
    if baseline_run is not None:
        against = baseline_run["run_id"]
        other_fp, fingerprint = _fingerprint(baseline_run), _fingerprint(results)
        if other_fp != fingerprint and not policy.any_environment:
            raise ResultsError(
                f"run {against} ran in another environment (fingerprint {other_fp}; run "
                f"{run_id}: {fingerprint}): timings across machines or package versions are "
                "not comparable (--any-environment to compare anyway)"
            )
        other_scenarios = {s["name"]: s for s in baseline_run["scenarios"]}
    elif history is not None:
        against = "history"

    checks: list[Check] = []
    for scenario in results["scenarios"]:
        checks.extend(data_lost_checks(scenario))
        all_notes.extend(m.message for m in likely_misconfigurations(scenario))
        all_notes.extend(loss.message for loss in allowed_data_loss(scenario))
        all_notes.extend(
            f"{scenario['name']}: harness error: {reason}"
            for reason in harness_error_reasons(scenario)
        )
        if thresholds:
            checks.extend(threshold_checks(scenario))
        if variant_checks:
            checks.extend(compare_variants(scenario, policy))
        if baseline_run is not None:
            label = f"run {against}"
            other = other_scenarios.get(scenario["name"])
            checks.extend(
                _against_run(
                    scenario,
                    other,
                    baseline_run,
                    label,
                    results,
                    policy,
                    noise_history,
                    all_notes,
                )
            )
        elif history is not None:
            checks.extend(_against_history(scenario, history, results, policy, all_notes))
    if history is not None and baseline_run is None:
        # steps over the nights (change points): a regression the nights after it confirmed
        steps, step_notes = step_checks(results, history, policy)
        checks.extend(steps)
        all_notes.extend(step_notes)
    paired: tuple[PairedCheck, ...] = ()
    revisions = None
    if has_revisions(results):
        # head against base, measured side by side in this run: the pairs decide
        paired, revisions = tuple(paired_checks(results, seed=policy.seed)), revisions_of(results)
        checks.extend(to_gate_checks(paired, revisions))
    harness_errors = sum(
        1 for s in results["scenarios"] for t in s["trials"] if t["status"] != "ok"
    )
    return RunComparison(
        run_id=run_id,
        against=against,
        checks=tuple(checks),
        exit_code=exit_code_for(checks, harness_errors),
        notes=tuple(all_notes),
        harness_errors=harness_errors,
        sample_efficiency=sample_time(results).as_dict(),
        paired=paired,
        revisions=revisions,
    )


def compare_against(
    results: ResultsDoc,
    against: str | None,
    *,
    reports_dir: Path,
    policy: Policy | None = None,
    notes: Sequence[str] = (),
    thresholds: bool = True,
) -> RunComparison:
    """Read what ``against`` names and compare: ``"history"`` (``reports_dir/history``),
    a run (folder, results.json, run id or ``latest``), or None for thresholds, data lost
    and variant checks only. Skipped corrupt history files become notes."""
    if against is None:
        return compare_run(results, policy=policy, notes=notes, thresholds=thresholds)
    loaded = load_history(history_root(reports_dir))
    all_notes = [*loaded.warnings, *notes]
    if against == "history":
        return compare_run(
            results,
            history=loaded.entries,
            policy=policy,
            notes=all_notes,
            thresholds=thresholds,
        )
    # load_results checks the schema; its dict is a ResultsDoc (typed once it says so)
    other = load_results(against, reports_dir=reports_dir)
    if other["run_id"] == results["run_id"]:
        raise ResultsError(f"{against}: is run {other['run_id']} itself; compare with another run")
    return compare_run(
        results,
        baseline_run=other,
        policy=policy,
        notes=all_notes,
        noise_history=loaded.entries,
        thresholds=thresholds,
    )
