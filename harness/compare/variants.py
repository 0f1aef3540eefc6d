"""Variant checks: each variant against the scenario's baseline variant, per cell and
metric. They describe the before/after and never gate (see :mod:`harness.compare.gate`)."""

from __future__ import annotations

from harness.analysis.cells import Cell, Layout, baseline_of, cell_samples, variant_order
from harness.compare.model import Check, Policy, stat_check
from harness.results.contract import ScenarioDoc

__all__ = ["compare_variants"]


def compare_variants(scenario: ScenarioDoc, policy: Policy | None = None) -> list[Check]:
    """Each variant against the scenario's baseline variant (default ``sync``), per
    provider, concurrency and metric. Metrics without data on both sides (e.g. loop lag of
    a sync variant) are not applicable and yield no check. A baseline run at a single
    concurrency is compared with every concurrency (its label then says ``sync (c=1)``).
    Never gating."""
    policy = policy or Policy()
    name = scenario["name"]
    base_variant = baseline_of(scenario)
    samples = cell_samples(scenario)
    layout = Layout.of(scenario["trials"])
    order = {v: i for i, v in enumerate(variant_order(scenario))}
    checks: list[Check] = []
    for key in sorted(samples, key=lambda k: (k[0], k[2], order.get(k[1], 0))):
        provider, variant, concurrency = key
        if variant == base_variant:
            continue
        base_c = layout.stand_in(provider, base_variant, concurrency)
        base = None if base_c is None else samples.get(Cell(provider, base_variant, base_c))
        if base is None or base_c is None:
            continue
        label = base_variant if base_c == concurrency else f"{base_variant} (c={base_c})"
        for metric in policy.checked_metrics():
            cand_values, base_values = samples[key].get(metric), base.get(metric)
            if not cand_values or not base_values:
                continue
            checks.append(
                stat_check(
                    scenario=name,
                    key=key,
                    metric=metric,
                    kind="variant",
                    baseline_label=label,
                    baseline=base_values,
                    candidate=cand_values,
                    policy=policy,
                    gating=False,
                )
            )
    return checks
