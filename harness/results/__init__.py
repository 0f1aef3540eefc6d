"""The results contract (``results.json``, schema version 1) and everything that reads or
writes it, one idea per module:

- :mod:`~harness.results.contract`: the document as TypedDicts, the schema version, file
  names and required fields.
- :mod:`~harness.results.environment`: the machine and software fingerprint of a run.
- :mod:`~harness.results.store`: the crash-safe store a run appends to (atomic rewrite
  after every trial, resume), run ids and the ``latest`` pointer.
- :mod:`~harness.results.load`: finding, loading and checking a document; which trials may
  enter a timing statistic (:func:`timing_trials`).
- :mod:`~harness.results.merge`: joining the shards of one run.

Import the public names from here.
"""

from harness.metrics import METRIC_NAMES
from harness.results.contract import (
    LATEST_FILE,
    LATEST_LINK,
    RESULTS_FILE,
    SCHEMA_VERSION,
    Environment,
    LostFile,
    Metrics,
    Record,
    ResultsDoc,
    ScenarioDoc,
    TrialDoc,
)
from harness.results.environment import KEY_PACKAGES, OTHER_PACKAGES, environment
from harness.results.load import (
    check_document,
    load_results,
    read_json_file,
    resolve_results_path,
    timing_trials,
)
from harness.results.merge import merge_results
from harness.results.store import (
    ResultsStore,
    atomic_write_text,
    format_utc,
    new_run_id,
    point_latest,
)

__all__ = [
    "KEY_PACKAGES",
    "LATEST_FILE",
    "LATEST_LINK",
    "METRIC_NAMES",
    "OTHER_PACKAGES",
    "RESULTS_FILE",
    "SCHEMA_VERSION",
    "Environment",
    "LostFile",
    "Metrics",
    "Record",
    "ResultsDoc",
    "ResultsStore",
    "ScenarioDoc",
    "TrialDoc",
    "atomic_write_text",
    "check_document",
    "environment",
    "format_utc",
    "load_results",
    "merge_results",
    "new_run_id",
    "point_latest",
    "read_json_file",
    "resolve_results_path",
    "timing_trials",
]
