"""The results document (``results.json``, schema version 1) as types.

``ResultsDoc`` holds ``ScenarioDoc`` entries, each with its ``TrialDoc`` list. Readers get
these types from :func:`harness.results.load_results`; analysis signatures take them, so
strict mypy checks every field access. ``total=False`` marks fields that older documents or
some trial kinds lack (a sweep's ``file_size_bytes``, a profiled trial's ``profile``).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "Environment",
    "Metrics",
    "Record",
    "ResultsDoc",
    "ScenarioDoc",
    "TrialDoc",
    "TrialStatus",
]

TrialStatus = Literal["ok", "harness_error"]

# metric name (harness.metrics.METRIC_NAMES) -> value, None where not applicable
Metrics = dict[str, float | None]


class Record(TypedDict):
    """One file's outcome as the worker saw it (``trial["records"]``)."""

    name: str
    size: int
    start: float
    end: float
    attempts: int
    outcome: str
    status: int | None
    error: str | None
    file_id: str | None
    bytes_sent: int


class Environment(TypedDict, total=False):
    """The machine and software stack (:func:`harness.results.environment`)."""

    python: str
    implementation: str
    platform: str
    packages: dict[str, str]
    cpu_model: str
    cpu_count: int
    memory_bytes: int | None
    git_commit: str | None
    git_dirty: bool
    hostname_hash: str
    uvloop: bool
    fingerprint: str


class TrialDoc(TypedDict):
    """One trial: a worker process's uploads of one (provider, variant, concurrency) cell."""

    key: str
    index: int
    provider: str
    variant: str
    concurrency: int
    repeat: int
    warmup: bool
    profiled: bool
    status: TrialStatus
    error: str | None
    started_at: str
    duration_s: float
    metrics: Metrics
    records: list[Record]
    mock: dict[str, Any] | None
    profile: dict[str, Any] | None
    file_size_bytes: NotRequired[int]
    lost_files: NotRequired[list[dict[str, Any]]]


class ScenarioDoc(TypedDict):
    """One scenario of a run: its normalised definition and its trials."""

    name: str
    hash: str
    definition: dict[str, Any]
    baseline: str
    trials: list[TrialDoc]


class ResultsDoc(TypedDict):
    """A whole run."""

    schema_version: int
    run_id: str
    started_at: str
    environment: Environment
    scenarios: list[ScenarioDoc]
    finished_at: NotRequired[str]
    complete: NotRequired[bool]
    shard: NotRequired[Any]
