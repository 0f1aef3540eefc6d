"""Whether the provider holds what the uploader said it uploaded, and whether a variant
could run at all.

- **Data lost**: any trial with ``integrity_errors > 0`` or a non-empty ``lost_files`` (the
  runner's server-side cross-check) whose variant is not in the scenario's
  ``definition["allow_data_loss"]``. Compare turns each into a gating "data lost" check, so
  the run fails (exit 1) whatever the thresholds.
- **Likely misconfiguration**: a variant whose every upload failed in a scenario without
  faults (``definition["faults"]`` and ``["network_faults"]`` empty): nothing was injected,
  so the variant itself is broken (a missing program, a wrong key). Reported with its first
  error; it does not gate by itself (its success rate and thresholds say the rest).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.analysis.cells import first_error, group_cells
from harness.results.contract import ScenarioDoc, TrialDoc

__all__ = [
    "DataLoss",
    "Misconfiguration",
    "allowed_data_loss",
    "data_lost",
    "likely_misconfigurations",
    "lost_files_count",
]


@dataclass(frozen=True)
class DataLoss:
    """Files the provider does not hold intact, for one (provider, variant)."""

    scenario: str
    provider: str
    variant: str
    trials: int
    files: tuple[str, ...]  # distinct names, first-seen order ("?" when only counted)
    lost: int  # sum of integrity_errors over those trials
    allowed: bool = False  # the scenario's allow_data_loss names the variant

    @property
    def message(self) -> str:
        shown = ", ".join(self.files[:5]) + (" ..." if len(self.files) > 5 else "")
        what = "data lost (allowed by allow_data_loss)" if self.allowed else "data lost"
        return (
            f"{what}: {self.variant} on {self.provider}: {self.lost} file(s) not held "
            f"intact in {self.trials} trial(s): {shown or 'names not recorded'}"
        )


@dataclass(frozen=True)
class Misconfiguration:
    """A variant that failed every upload although no fault was injected."""

    scenario: str
    provider: str
    variant: str
    uploads: int
    first_error: str | None

    @property
    def message(self) -> str:
        return (
            f"likely misconfiguration: {self.variant} on {self.provider} failed all "
            f"{self.uploads} upload(s) in a scenario without faults; first error: "
            f"{self.first_error or 'none recorded'}"
        )


def lost_files_count(trial: TrialDoc) -> int:
    """Files a trial lost: its integrity_errors, or its lost_files if more are listed."""
    value = (trial.get("metrics") or {}).get("integrity_errors")
    counted = int(value) if isinstance(value, int | float) and value > 0 else 0
    return max(counted, len(trial.get("lost_files") or ()))


def data_lost(scenario: ScenarioDoc) -> list[DataLoss]:
    """Every (provider, variant) that lost data and is not allowed to (see module)."""
    return [loss for loss in _losses(scenario) if not loss.allowed]


def allowed_data_loss(scenario: ScenarioDoc) -> list[DataLoss]:
    """Losses of variants the scenario lists in ``allow_data_loss``: they do not gate, but
    they are still shown (a loss is never silent)."""
    return [loss for loss in _losses(scenario) if loss.allowed]


def _losses(scenario: ScenarioDoc) -> list[DataLoss]:
    allowed = set((scenario.get("definition") or {}).get("allow_data_loss") or ())
    losing = [t for t in scenario["trials"] if t["status"] == "ok" and lost_files_count(t)]
    by_pv: dict[tuple[str, str], list[TrialDoc]] = {}
    for cell, trials in group_cells(losing).items():
        by_pv.setdefault((cell.provider, cell.variant), []).extend(trials)
    out = []
    for (provider, variant), trials in by_pv.items():
        names = [str(f.get("name", "?")) for t in trials for f in (t.get("lost_files") or ())]
        out.append(
            DataLoss(
                scenario=scenario["name"],
                provider=provider,
                variant=variant,
                trials=len(trials),
                files=tuple(dict.fromkeys(names)),
                lost=sum(lost_files_count(t) for t in trials),
                allowed=variant in allowed,
            )
        )
    return out


def _uploads(trial: TrialDoc) -> tuple[int, int]:
    """(uploads, ok uploads) of a trial, from its records, else from its success rate."""
    records = trial.get("records") or []
    if records:
        return len(records), sum(1 for r in records if r.get("outcome") == "ok")
    rate = (trial.get("metrics") or {}).get("success_rate")
    if isinstance(rate, int | float):
        return 1, 1 if rate > 0 else 0
    return 0, 0


def likely_misconfigurations(scenario: ScenarioDoc) -> list[Misconfiguration]:
    """Variants whose every upload failed in a scenario without faults (see module)."""
    definition = scenario.get("definition") or {}
    if definition.get("faults") or definition.get("network_faults"):
        return []
    ok_trials = [t for t in scenario["trials"] if t["status"] == "ok"]
    by_pv: dict[tuple[str, str], list[TrialDoc]] = {}
    for cell, trials in group_cells(ok_trials).items():
        by_pv.setdefault((cell.provider, cell.variant), []).extend(trials)
    out = []
    for (provider, variant), trials in by_pv.items():
        counts = [_uploads(t) for t in trials]
        uploads = sum(n for n, _ in counts)
        if uploads and not any(ok for _, ok in counts):
            out.append(
                Misconfiguration(scenario["name"], provider, variant, uploads, first_error(trials))
            )
    return out
