"""The validated scenario as values: :class:`Scenario`, :class:`FilesSpec`,
:class:`ProviderSpec`, and the one rule on which concurrencies a variant runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.analysis.triggers import RollbackRules
from harness.thresholds import Threshold

__all__ = [
    "SEQUENTIAL_SPECS",
    "FilesSpec",
    "ProviderSpec",
    "Scenario",
    "concurrencies_for",
    "is_variant_name",
]

# Specs that run sequentially by definition: one run per repeat at concurrency 1, whatever
# the scenario's concurrency axis and whatever name the scenario gives them.
SEQUENTIAL_SPECS = frozenset({"sync"})


def concurrencies_for(spec: str, concurrency: tuple[int, ...]) -> tuple[int, ...]:
    """The concurrency values a variant of ``spec`` runs with on the axis ``concurrency``."""
    return (1,) if spec in SEQUENTIAL_SPECS else concurrency


def is_variant_name(variant: str) -> bool:
    """Whether ``variant`` can be written in a threshold, ``baseline`` or ``allow_data_loss``
    (an unnamed ``cmd:`` or plugin spec cannot: it holds ``.`` or ``/``)."""
    return "." not in variant and "/" not in variant


@dataclass(frozen=True)
class FilesSpec:
    """The files of a scenario: ``sizes`` has one resolved size per file (``count`` items).
    With ``sweep`` each trial uploads the files of one size only (:attr:`sweep_sizes`)."""

    count: int
    sizes: tuple[int, ...]
    content: str
    seed: int
    sweep: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes)

    @property
    def sweep_sizes(self) -> tuple[int, ...]:
        """The distinct sizes, ascending, when ``sweep``; ``()`` otherwise."""
        return tuple(sorted(set(self.sizes))) if self.sweep else ()


@dataclass(frozen=True)
class ProviderSpec:
    """A provider to upload to; ``purpose`` is set for Kimi/GLM, ``bucket`` for Supabase."""

    kind: str
    purpose: str | None = None
    bucket: str | None = None


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. ``definition`` is the normalised, JSON-serialisable form and
    ``hash`` the sha256 of its canonical JSON."""

    name: str
    description: str
    hash: str
    definition: dict[str, Any] = field(repr=False)
    path: Path | None
    files: FilesSpec
    providers: tuple[ProviderSpec, ...]
    variants: tuple[str, ...]
    baseline: str
    concurrency: tuple[int, ...]
    # worker processes per cell (``repeats``), warm-up rounds in each process before its
    # measured ``rounds`` (pyperf's processes x values); each round is one upload_many call
    repeats: int
    warmups: int
    deadline_s: float
    profile: bool
    settings: dict[str, Any]
    faults: tuple[dict[str, Any], ...]
    network_faults: tuple[dict[str, Any], ...]
    thresholds: tuple[Threshold, ...]
    claim: str | None = None
    # name -> spec of every variant (a builtin's name is its spec; a scenario may name a
    # cmd: or plugin spec once and use the name everywhere). Empty means "each name is its
    # own spec" (scenarios loaded before named variants existed).
    variant_specs: Mapping[str, str] = field(default_factory=dict)
    # variants whose lost or corrupted files do not fail the run (meant to be broken)
    allow_data_loss: tuple[str, ...] = ()
    # problems that do not stop a run but leave something undecidable, one line each
    warnings: tuple[str, ...] = ()
    rounds: int = 1
    # the rollback triggers' settings ([rollback]; harness.analysis.triggers)
    rollback: RollbackRules = field(default_factory=RollbackRules)
    # the network profile the fault proxy applies (``network``; normalised by
    # harness.faults.network.validate_network_profile), None: plain loopback
    network: dict[str, Any] | None = None
    # the mock over TLS: "1.2" or "1.3" (pinned), "off" plain HTTP (the default)
    tls: str = "off"

    def spec_of(self, variant: str) -> str:
        """The spec (``async``, ``cmd:...``, ``pkg.mod:attr``) a variant name runs."""
        return self.variant_specs.get(variant, variant)

    def concurrencies_of(self, variant: str) -> tuple[int, ...]:
        """The concurrency values a variant runs with: ``(1,)`` for a sequential spec
        (``sync``, whatever the scenario calls it), the scenario's axis otherwise."""
        return concurrencies_for(self.spec_of(variant), self.concurrency)

    def __hash__(self) -> int:  # the dict fields are not hashable; the content hash is
        return hash(self.hash)
