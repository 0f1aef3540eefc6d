"""Scenario files: TOML -> a validated, frozen :class:`Scenario` with a stable hash.

Every problem becomes one :class:`~harness.errors.ScenarioError` naming the file, the field
(``files.count``, ``faults[1].ms``) and what is allowed; what does not stop a run but can
never be decided becomes a line of :attr:`Scenario.warnings`. The normalised definition
(defaults filled in, units converted, aliases resolved) is hashed, so the same scenario
written differently has the same hash and any change gives another.
``scenarios/README.md`` documents every field.

Modules: ``model`` (the values and the sequential-variant rule), ``load`` (top level,
definition, hash, files and folders), one module per part of the file (``files``,
``variants``, ``settings``, ``fault_tables``), ``undecidable`` (the warnings) and
``checker`` (the one-line errors). Faults are validated with the pure catalogs of
:mod:`harness.faults`, so validating a scenario imports neither aiohttp nor the servers.
"""

from harness.scenario.files import CONTENT_KINDS
from harness.scenario.load import (
    CLAIM_KEYS,
    definition_hash,
    load_scenario,
    load_scenarios,
    scenario_from_dict,
)
from harness.scenario.model import (
    SEQUENTIAL_SPECS,
    FilesSpec,
    ProviderSpec,
    Scenario,
    is_variant_name,
)
from harness.scenario.settings import SETTINGS_FIELDS

__all__ = [
    "CLAIM_KEYS",
    "CONTENT_KINDS",
    "SEQUENTIAL_SPECS",
    "SETTINGS_FIELDS",
    "FilesSpec",
    "ProviderSpec",
    "Scenario",
    "definition_hash",
    "is_variant_name",
    "load_scenario",
    "load_scenarios",
    "scenario_from_dict",
]
