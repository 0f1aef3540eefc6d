"""The results document (``results.json``, schema version 1) as types.

``ResultsDoc`` holds ``ScenarioDoc`` entries, each with its ``TrialDoc`` list. Readers get
these types from :func:`harness.results.load_results`; analysis signatures take them, so
strict mypy checks every field access. ``total=False`` marks fields that older documents or
some trial kinds lack (a sweep's ``file_size_bytes``, a profiled trial's ``profile``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "LATEST_FILE",
    "LATEST_LINK",
    "REQUIRED_SCENARIO",
    "REQUIRED_TOP",
    "REQUIRED_TRIAL",
    "RESULTS_FILE",
    "SCHEMA_VERSION",
    "Environment",
    "LostFile",
    "Metrics",
    "Record",
    "ResultsDoc",
    "RevisionDoc",
    "ScenarioDoc",
    "TrialDoc",
    "TrialStatus",
    "is_base_trial",
    "is_measured_trial",
    "is_profiled_trial",
    "is_timing_trial",
]

# Schema history (bump on any incompatible change; readers refuse versions they do not
# know): 1, first version. Trials gained ``lost_files`` within it (readers treat a missing
# list as empty).
SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"  # in each run's folder <reports>/<run-id>/
LATEST_LINK = "latest"  # <reports>/latest -> the last run's folder
LATEST_FILE = "LATEST"  # where symlinks fail: a file naming the last run id

# What a reader may rely on; the rest may be missing in documents of older builds.
REQUIRED_TOP = ("schema_version", "run_id", "started_at", "environment", "scenarios")
REQUIRED_SCENARIO = ("name", "hash", "trials")
REQUIRED_TRIAL = ("key", "variant", "concurrency", "repeat", "profiled", "status", "metrics")

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


class LostFile(TypedDict):
    """A file the uploader called uploaded that the provider does not hold intact
    (:mod:`harness.checks`): it counts as a failed upload and in ``integrity_errors``."""

    name: str
    reason: str


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


class RevisionDoc(TypedDict):
    """Which code a trial of a base-and-head run ran (:mod:`harness.rig.revisions`)."""

    label: str  # "base" or "head"
    ref: str  # as given on the command line ("main", "HEAD~3", "working tree")
    commit: str | None
    dirty: bool


class TrialDoc(TypedDict):
    """One trial: a worker process's uploads of one (provider, variant, concurrency) cell."""

    key: str
    index: int
    provider: str
    variant: str  # the variant's name (definition["variant_specs"] maps it to its spec)
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
    # position within its round (warm-up round, repeat, profiled trials): the plan's
    # shuffled order (harness.plan); older documents lack it
    order: NotRequired[int]
    lost_files: NotRequired[list[LostFile]]
    # a trial added by ``compare --confirm``: the run id it confirms
    confirmation_of: NotRequired[str]
    # the round within its worker process (``repeat`` is the process); older documents
    # lack it (one round per process)
    round: NotRequired[int]
    # the code it ran in a base-and-head run (``run --base``): label, ref, commit, dirty
    revision: NotRequired[RevisionDoc]


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
    finished_at: NotRequired[str | None]
    complete: NotRequired[bool]
    shard: NotRequired[Any]
    merged_from: NotRequired[list[dict[str, Any]]]


def is_base_trial(trial: Mapping[str, Any]) -> bool:
    """A trial of the base revision of a base-and-head run: the reference the head is
    paired with (:mod:`harness.analysis.paired`), not a measurement of this run's code."""
    revision = trial.get("revision")
    return isinstance(revision, Mapping) and revision.get("label") == "base"


def is_measured_trial(trial: Mapping[str, Any]) -> bool:
    """A trial whose uploads are a sample: ``ok``, not a warm-up, not profiled (memray's
    overhead makes a profiled trial's timings meaningless), of any revision. Sample
    efficiency and the paired comparison count these."""
    return trial.get("status") == "ok" and not trial.get("warmup") and not trial.get("profiled")


def is_timing_trial(trial: Mapping[str, Any]) -> bool:
    """The contract's rule for timing statistics of a run's code: a measured trial
    (:func:`is_measured_trial`) that is not of the base revision, so thresholds, the
    history and the report's tables describe the head. Every selection calls this."""
    return is_measured_trial(trial) and not is_base_trial(trial)


def is_profiled_trial(trial: Mapping[str, Any]) -> bool:
    """A trial whose heap peak counts: ``ok``, profiled, not a warm-up, not of the base
    revision."""
    return (
        trial.get("status") == "ok"
        and bool(trial.get("profiled"))
        and not trial.get("warmup")
        and not is_base_trial(trial)
    )
