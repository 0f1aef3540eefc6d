"""Checks of a run against earlier runs: history (the last comparable runs, repeats pooled)
or one other run, with the run-to-run noise floor.

Repeats within one run share its machine state (on a shared box whole runs shift by
10-30%), so against >= 2 history runs a check's min effect is raised to the 95% prediction
interval of one more run's median (:func:`harness.analysis.stats.run_to_run_floor`); the
reason says so. One run (``--against RUN``) says nothing of that noise, so its checks take
the floor from the >= 2 comparable history runs older than the run when the history has
them; otherwise a note says the floor is unknown and false alarms are likelier.

Measured A/A (same code, ``scenarios/smoke.toml --repeats 5``, 12 runs, runs 3-12 compared,
loaded shared 2-core box, 2026-11-28; ``python benchmarks/aa_ab.py aa`` runs the history
half of this experiment): against history (last 5) 1 of 360 gating checks flagged (0.3%),
0 of 10 nights exit 1; against the previous run with the floor from history 0 of 360;
against the previous run without a floor 17 of 360 (4.7%), 2 of 10 nights. The price: with
5 history runs the floor was a median 12% for throughput and 17% for latency, so one night
does not flag a 10% slowdown there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.analysis import stats
from harness.analysis.cells import cell_samples, variant_order
from harness.compare.model import Check, Policy, no_baseline_check, stat_check
from harness.history import GroupKey, HistoryEntry, select_comparable
from harness.results.contract import ScenarioDoc

__all__ = ["Runs", "baseline_checks", "noise_runs"]

Runs = Sequence[Mapping[GroupKey, Mapping[str, Sequence[float]]]]


def baseline_checks(
    scenario: ScenarioDoc,
    runs: Runs,
    label: str,
    policy: Policy,
    noise_runs: Runs | None = None,
) -> list[Check]:
    """History-kind checks of ``scenario`` against the pooled repeats of ``runs`` (one per
    earlier run), the min effect raised to the run-to-run noise of ``noise_runs`` (default:
    ``runs``) where they hold >= 2 runs of a group."""
    floor_runs = runs if noise_runs is None else noise_runs
    name = scenario["name"]
    samples = cell_samples(scenario)
    order = {v: i for i, v in enumerate(variant_order(scenario))}
    gating_metrics = set(policy.metrics or policy.gating_metrics)
    checks: list[Check] = []
    for key in sorted(samples, key=lambda k: (k[0], k[2], order.get(k[1], 0))):
        per_run = [run[key] for run in runs if key in run]
        if not per_run:
            provider, variant, concurrency = key
            checks.append(
                no_baseline_check(
                    name,
                    label,
                    f"{label} has no trials of this variant",
                    provider=provider,
                    variant=variant,
                    concurrency=concurrency,
                )
            )
            continue
        for metric in policy.checked_metrics():
            cand_values = samples[key].get(metric)
            run_values = [list(run[metric]) for run in per_run if run.get(metric)]
            if not cand_values or not run_values:
                continue
            floor = None
            noise_values = [
                list(run[key][metric]) for run in floor_runs if run.get(key, {}).get(metric)
            ]
            if policy.history_floor and len(noise_values) >= 2:
                floor = stats.run_to_run_floor([stats.median(v) for v in noise_values])
            checks.append(
                stat_check(
                    scenario=name,
                    key=key,
                    metric=metric,
                    kind="history",
                    baseline_label=label,
                    baseline=[x for values in run_values for x in values],
                    candidate=cand_values,
                    policy=policy,
                    gating=metric in gating_metrics,
                    floor=floor,
                    floor_note=f"run-to-run noise of {len(noise_values)} "
                    + ("earlier runs" if noise_runs is None else "history runs"),
                )
            )
    return checks


def noise_runs(
    scenario: ScenarioDoc,
    history: Sequence[HistoryEntry] | None,
    fingerprint: str | None,
    run_id: str,
    before: str,
    policy: Policy,
) -> tuple[Runs | None, str]:
    """The history runs whose spread sets a run-vs-run check's floor, and a note saying so.
    None when there are fewer than 2 (the floor then stays unknown)."""
    if not policy.history_floor:
        return None, "run-to-run noise floor off"
    chosen: list[HistoryEntry] = []
    why = "no history"
    if history:
        chosen, why = select_comparable(
            history,
            scenario_hash=str(scenario["hash"]),
            fingerprint=fingerprint,
            exclude_run_id=run_id,
            before=before,
            last=policy.last,
            any_environment=policy.any_environment,
        )
    if len(chosen) < 2:
        return None, (
            f"run-to-run noise unknown ({why}; a floor needs 2 comparable history runs): "
            "min effects not raised, expect more false alarms than against history"
        )
    runs = [{k: dict(v) for k, v in entry.groups.items()} for entry in chosen]
    return runs, f"min effects raised to the run-to-run noise of {len(chosen)} history runs"
