"""The investigation's rollback triggers, as checks of a night against its history.

The investigation ("Rollback Triggers") rolls the async uploader back on: new exception
types, an error rate increase of more than 5%, a timeout rate increase, memory usage
spikes. Each is a trigger here, decided per cell (provider, variant, concurrency) of the
night's code against the comparable history runs of that cell
(:func:`harness.history.select_comparable`; compare chooses them), with a documented
default a scenario may change in its ``[rollback]`` table (:class:`RollbackRules`):

- **new error kind** (``new_error_kinds = true``): a failed upload or a harness-error trial
  whose :func:`error_kind` no comparable history run of the cell recorded (every comparable
  run, not only the last few: "never seen before"). A history file written before error
  kinds were recorded says nothing: such a cell is *not checked* (an inconclusive,
  non-gating check says so), never fired;
- **error rate** / **timeout rate** (``error_rate_points = 5``, ``timeout_rate_points =
  5``): the night's median over its timing repeats more than that many percentage points
  above the median of the history's pooled repeats (the last comparable runs, as the
  history checks use);
- **heap / RSS peak** (``memory_over_max``, default each metric's minimum effect in
  :data:`harness.metrics.MIN_EFFECT`: 10% for both): the night's median peak more than that
  share above the largest per-repeat peak of those history runs (heap from the profiled
  trials, RSS from the timing trials).

Base-revision trials of a base-and-head run are not the night: timing and heap statistics
come from :func:`harness.analysis.cells.cell_samples` (the contract's selections), error
kinds from every trial that is not of the base revision (warm-ups, profiled trials and
harness errors included: any upload of the night's code that failed in a new way counts).

Pure: :func:`rollback_triggers` turns a scenario and the history's cells
(:class:`PastRun`) into :class:`TriggerOutcome` values; compare makes them gating checks of
kind ``trigger`` (fail: exit 1).
"""

from __future__ import annotations

import contextlib
import math
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from harness.analysis.cells import Cell, cell_of, cell_samples, variant_order
from harness.errors import ResultsError
from harness.metrics import METRIC_ALIASES, MIN_EFFECT, metric
from harness.results.contract import ScenarioDoc, TrialDoc, is_base_trial

__all__ = [
    "DEFAULT_RATE_POINTS",
    "ERROR_KIND_METRIC",
    "MEMORY_METRICS",
    "RATE_METRICS",
    "ROLLBACK_KEYS",
    "TRIGGERS",
    "PastRun",
    "RollbackRules",
    "TriggerOutcome",
    "TriggerVerdict",
    "cell_error_kinds",
    "error_kind",
    "exception_type",
    "rollback_triggers",
    "trial_error_kinds",
]

# The metric name a new-error-kind check carries (no row of the metric table: a set, not a
# number per trial).
ERROR_KIND_METRIC = "error_kind"
RATE_METRICS = ("error_rate", "timeout_rate")
MEMORY_METRICS = ("heap_peak_bytes", "rss_peak_bytes")
# Every trigger, in the order checks are listed.
TRIGGERS = (ERROR_KIND_METRIC, *RATE_METRICS, *MEMORY_METRICS)
# "Error rate increase > 5%" (the investigation), read as percentage points.
DEFAULT_RATE_POINTS = 5.0
# Largest accepted settings: points cannot exceed 100; a memory margin of 10x is no trigger.
MAX_POINTS = 100.0
MAX_PERCENT = 1000.0

TriggerVerdict = Literal["pass", "fail", "unknown"]
GroupKey = tuple[str, str, int]


# -- the error kind ----------------------------------------------------------------------

# A Python exception's name at the start of a message (``ValueError: ...``,
# ``aiohttp.client_exceptions.ClientConnectorError: ...``, or alone): a dotted identifier
# whose last part starts with a capital letter, then ``:`` or the end. The module path is
# dropped, so a library moving a class keeps its kind.
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*\.)*([A-Z][A-Za-z0-9_]*)(?::|$)")
# How harness.rig.workers words a worker that died of an exception (the last line of its
# traceback) and harness.worker one whose round raised ValueError, KeyError or TypeError
# (answered as a malformed round, with the exception's repr), before the exception.
_WORKER_FAILED = re.compile(
    r"^worker (?:failed \([^)]*\)|refused the round: malformed round line):\s*(.*)$", re.S
)
# the repr form: KeyError('...')
_REPR = re.compile(r"^([A-Z][A-Za-z0-9_]*)\(")


def exception_type(text: object) -> str | None:
    """The exception class name a one-line error starts with, else None (``cannot read
    file: ...``, ``HTTP 503: ...``, ``exit code 7: ...`` name none)."""
    if not isinstance(text, str):
        return None
    match = _EXCEPTION.match(text.strip())
    return match.group(1) if match else None


def _with_type(base: str, error: object) -> str:
    name = exception_type(error)
    return f"{base}: {name}" if name else base


def error_kind(record: Mapping[str, Any]) -> str | None:
    """The kind of a file's failure (a trial's ``records[i]``), None when it succeeded.

    - ``http 503``: an ``http_error`` with its HTTP error status (4xx, 5xx); without one
      (none, or the upload's 200 before a metadata insert failed) ``http_error``, or
      ``http_error: TYPE`` when the message starts with an exception's name;
    - ``timeout``: whatever gave up (the timeout rate has its own trigger, and which timer
      fired first -- a stall watchdog or the client's own -- varies from run to run);
    - ``connection_error: TYPE``: the exception class the uploader recorded, as every
      built-in and a plugin following ``docs/plugins.md`` write it
      (``f"{type(exc).__name__}: {exc}"``); ``connection_error`` when the message names
      none (``cannot read file: ...``, a ``cmd:`` program's exit code);
    - ``integrity_error``: the uploader found its own upload corrupt;
    - any other outcome: the outcome, with the exception type when the message starts with
      one.

    Only the outcome, the status and the exception's class name enter a kind, never the
    message (ids, sizes, timestamps, ports), so a kind repeats across nights.
    """
    outcome = str(record.get("outcome") or "")
    if outcome == "ok":
        return None
    error = record.get("error")
    if outcome == "http_error":
        status = record.get("status")
        # the last status seen: an upload's 200 when a later call failed (a metadata insert)
        if isinstance(status, int) and not isinstance(status, bool) and status >= 400:
            return f"http {status}"
        return _with_type("http_error", error)
    if outcome in ("timeout", "integrity_error"):
        return outcome
    return _with_type(outcome or "unknown_outcome", error)


def _harness_error_kind(error: object) -> str:
    """``harness_error: TYPE`` for a worker that died of an exception (an uploader raising
    out of ``upload_many``: the last line of its traceback), else ``harness_error`` (a
    deadline kill, a refused round)."""
    match = _WORKER_FAILED.match(str(error or ""))
    if match is None:
        return "harness_error"
    rest = match.group(1).strip()
    named = _REPR.match(rest)
    return f"harness_error: {named.group(1)}" if named else _with_type("harness_error", rest)


def trial_error_kinds(trial: TrialDoc) -> Counter[str]:
    """The error kinds of one trial and how often each occurred: one per failed record, or
    one ``harness_error...`` for a trial that failed in the harness (it has no records)."""
    if trial["status"] != "ok":
        return Counter([_harness_error_kind(trial.get("error"))])
    kinds = (error_kind(record) for record in trial.get("records") or ())
    return Counter(kind for kind in kinds if kind is not None)


def cell_error_kinds(scenario: ScenarioDoc) -> dict[Cell, dict[str, int]]:
    """Error kinds by cell, counted over every trial of the night's code (not of the base
    revision; warm-up, profiled and harness-error trials included). Every cell that ran is
    there, ``{}`` when nothing failed: history records "ran, no error" too."""
    out: dict[Cell, Counter[str]] = {}
    for trial in scenario["trials"]:
        if is_base_trial(trial):
            continue
        out.setdefault(cell_of(trial), Counter()).update(trial_error_kinds(trial))
    return {cell: dict(sorted(kinds.items())) for cell, kinds in out.items()}


# -- the rules and their defaults ----------------------------------------------------------

# A scenario's [rollback] keys (the definition holds them normalised: numbers or false).
ROLLBACK_KEYS = ("new_error_kinds", "error_rate_points", "timeout_rate_points", "memory_over_max")


def _number_or_percent(value: object, what: str, high: float) -> float | None:
    """``false`` -> None (off); a number or ``"N%"`` in [0, high]; else ValueError."""
    if value is False:
        return None
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and value.strip().endswith("%"):
        with contextlib.suppress(ValueError):
            number = float(value.strip()[:-1])
    if not (math.isfinite(number) and 0 <= number <= high):
        raise ValueError(f"must be {what} between 0 and {high:g}, 'N%' or false, got {value!r}")
    return number


@dataclass(frozen=True)
class RollbackRules:
    """The triggers' settings (a scenario's ``[rollback]`` table): whether new error kinds
    fire, and per rate (percentage points above the history's median) and memory peak
    (percent above the history's maximum) the allowed rise; None turns one off."""

    new_error_kinds: bool = True
    limits: Mapping[str, float | None] = field(
        default_factory=lambda: {
            **dict.fromkeys(RATE_METRICS, DEFAULT_RATE_POINTS),
            **{m: round(MIN_EFFECT[m] * 100, 6) for m in MEMORY_METRICS},
        }
    )

    def limit(self, trigger: str) -> float | None:
        """A rate's allowed rise (points) or a peak's margin (percent); None: off."""
        return self.limits.get(trigger)

    def enabled(self, trigger: str) -> bool:
        """Whether ``trigger`` (one of :data:`TRIGGERS`) is on."""
        if trigger == ERROR_KIND_METRIC:
            return self.new_error_kinds
        return self.limit(trigger) is not None

    def to_definition(self) -> dict[str, Any]:
        """The normalised ``[rollback]`` a scenario's definition holds (``false``: off)."""

        def value(name: str) -> float | bool:
            x = self.limit(name)
            return False if x is None else x

        return {
            "new_error_kinds": self.new_error_kinds,
            **{f"{rate}_points": value(rate) for rate in RATE_METRICS},
            "memory_over_max": {m: value(m) for m in MEMORY_METRICS},
        }

    @property
    def is_default(self) -> bool:
        return self == RollbackRules()

    @classmethod
    def parse(
        cls, table: Mapping[str, Any], fail: Callable[[str, str], Exception]
    ) -> RollbackRules:
        """Rules from a ``[rollback]`` table (a scenario's, or a definition's normalised
        one); a missing key keeps its default. A bad value raises ``fail(field, problem)``
        (``field`` such as ``rollback.memory_over_max.rss_peak_bytes``)."""
        for key in table:
            if key not in ROLLBACK_KEYS:
                raise fail(f"rollback.{key}", f"unknown key; allowed: {', '.join(ROLLBACK_KEYS)}")
        limits = dict(cls().limits)
        kinds = table.get("new_error_kinds", True)
        if not isinstance(kinds, bool):
            raise fail("rollback.new_error_kinds", f"must be true or false, got {kinds!r}")
        points = "a number of percentage points"
        for rate in RATE_METRICS:
            key = f"{rate}_points"
            if key in table:
                try:
                    limits[rate] = _number_or_percent(table[key], points, MAX_POINTS)
                except ValueError as exc:
                    raise fail(f"rollback.{key}", str(exc)) from None
        memory = table.get("memory_over_max", {})
        # one value for both peaks, or a table per metric (names or aliases: heap, rss)
        per_metric = isinstance(memory, Mapping)
        for name, value in (
            memory if per_metric else dict.fromkeys(MEMORY_METRICS, memory)
        ).items():
            where = f"rollback.memory_over_max.{name}" if per_metric else "rollback.memory_over_max"
            peak = METRIC_ALIASES.get(str(name), str(name))
            if peak not in MEMORY_METRICS:
                allowed = f"{', '.join(MEMORY_METRICS)} (or heap, rss)"
                raise fail(where, f"unknown metric; allowed: {allowed}")
            try:
                limits[peak] = _number_or_percent(value, "a percentage", MAX_PERCENT)
            except ValueError as exc:
                raise fail(where, str(exc)) from None
        return cls(kinds, limits)

    @classmethod
    def of(cls, scenario: ScenarioDoc) -> RollbackRules:
        """The rules of a results scenario: its ``definition["rollback"]`` (there only when it
        differs from the defaults); :class:`ResultsError` naming the scenario when bad."""
        raw = (scenario.get("definition") or {}).get("rollback")
        name = scenario["name"]

        def fail(where: str, problem: str) -> Exception:
            return ResultsError(f"scenario {name!r}: definition.{where}: {problem}")

        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise fail("rollback", f"must be a table, got {raw!r}")
        return cls.parse(raw, fail)


# -- the checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PastRun:
    """One history run of the scenario, as the triggers read it: per-repeat samples by cell
    and the error kinds by cell (None: the run's history file predates error kinds)."""

    run_id: str
    samples: Mapping[GroupKey, Mapping[str, Sequence[float]]]
    error_kinds: Mapping[GroupKey, Mapping[str, int]] | None = None


@dataclass(frozen=True)
class TriggerOutcome:
    """One trigger of one scenario: ``fail`` names the cell that fired it (one outcome per
    such cell); ``pass`` and ``unknown`` (nothing could be checked, e.g. history without
    error kinds) stand for every cell, with ``provider`` empty. ``measured`` is the night's
    value (the number of new kinds, a median rate or peak), ``reference`` the history's
    (its median rate or maximum peak)."""

    scenario: str
    trigger: str  # one of TRIGGERS
    rule: str
    verdict: TriggerVerdict
    detail: str
    provider: str = ""
    variant: str = ""
    concurrency: int | None = None
    measured: float | None = None
    reference: float | None = None
    new_kinds: tuple[str, ...] = ()
    runs: int = 0
    cells: int = 0

    @property
    def where(self) -> str:
        if not self.provider:
            return ""
        return f"{self.provider} / {self.variant} / c={self.concurrency}"


@dataclass(frozen=True)
class _CellResult:
    cell: Cell
    fired: bool | None  # None: not checked (detail says why)
    detail: str
    measured: float | None = None
    reference: float | None = None
    score: float = 0.0  # how near it came to firing: a pass names the nearest cell
    new_kinds: tuple[str, ...] = ()
    runs: int = 0


def _where(cell: Cell) -> str:
    return f"{cell.provider} / {cell.variant} / c={cell.concurrency}"


def _runs_text(n: int) -> str:
    return f"{n} history run{'s' if n != 1 else ''}"


def _kind_cell(cell: Cell, night: Mapping[str, int], every: Sequence[PastRun]) -> _CellResult:
    known = [r.error_kinds[cell] for r in every if r.error_kinds and cell in r.error_kinds]
    if not night:
        return _CellResult(cell, False, "no failed upload", 0.0, runs=len(known))
    if not known:
        older = sum(1 for r in every if r.error_kinds is None)
        why = (
            f"its {_runs_text(older)} predate error kinds (recorded since this check exists): "
            "not checked against them"
            if older
            else "no comparable history run recorded this cell's error kinds"
        )
        return _CellResult(cell, None, why)
    seen = {kind for kinds in known for kind in kinds}
    new = tuple(k for k in night if k not in seen)
    if not new:
        return _CellResult(cell, False, "errors all seen before", 0.0, runs=len(known))
    listed = ", ".join(f"{k} ({night[k]}x)" for k in new)
    detail = (
        f"new error kind{'s' if len(new) != 1 else ''} {listed}, never seen in "
        f"{_runs_text(len(known))} of this cell"
    )
    return _CellResult(cell, True, detail, float(len(new)), new_kinds=new, runs=len(known))


def _level_cell(
    cell: Cell, name: str, night: Sequence[float], recent: Sequence[PastRun], limit: float
) -> _CellResult:
    """A rate (``limit`` in points above the history's median) or a memory peak (``limit``
    in percent above the history's maximum) of one cell."""
    runs = [list(r.samples[cell][name]) for r in recent if r.samples.get(cell, {}).get(name)]
    past = [x for values in runs for x in values]
    if not past:
        return _CellResult(cell, None, f"no {name} of this cell in history")
    fmt, now = metric(name).format, statistics.median(night)
    if name in RATE_METRICS:
        ref, label = statistics.median(past), "history median"
        change, unit = (now - ref) * 100, " points"
        fired = change > limit + 1e-9
    else:
        ref, label = max(past), "history max"
        change = (now / ref - 1) * 100 if ref > 0 else math.inf if now > 0 else 0.0
        unit = "%"
        fired = now > ref * (1 + limit / 100) * (1 + 1e-12)
    detail = (
        f"{name} median {fmt(now)} vs {label} {fmt(ref)} ({change:+.3g}"
        f"{unit}; {'more than' if fired else 'limit'} +{limit:g}{unit}) over "
        f"{_runs_text(len(runs))}"
    )
    return _CellResult(cell, fired, detail, now, ref, score=change, runs=len(runs))


def _rule(trigger: str, rules: RollbackRules) -> str:
    if trigger == ERROR_KIND_METRIC:
        return "no error kind new to history"
    if trigger in RATE_METRICS:
        return f"{trigger} at most {rules.limit(trigger):g} points above the history median"
    return f"{trigger} at most {rules.limit(trigger):g}% above the history max"


def _summarise(
    scenario: str, trigger: str, rule: str, results: Sequence[_CellResult]
) -> list[TriggerOutcome]:
    """One fail outcome per fired cell; else, when a cell could not be checked, one unknown
    outcome saying why; else one pass naming the nearest cell. None without cells."""
    outcome = partial(TriggerOutcome, scenario, trigger, rule)
    if not results:
        return []
    fired = [r for r in results if r.fired]
    if fired:
        return [
            outcome("fail", r.detail, *r.cell, r.measured, r.reference, r.new_kinds, r.runs, 1)
            for r in fired
        ]
    checked = [r for r in results if r.fired is False]
    unchecked = [r for r in results if r.fired is None]
    if unchecked:
        # a cell that could not be checked leaves the trigger undecided there (no gate)
        first = f"{_where(unchecked[0].cell)}: {unchecked[0].detail}"
        more = f" (and {len(unchecked) - 1} more cell(s))" if len(unchecked) > 1 else ""
        passed = f"; {len(checked)} other cell(s) checked, none fired" if checked else ""
        detail = f"not checked: {first}{more}{passed}"
        return [outcome("unknown", detail, cells=len(unchecked))]
    runs = max(r.runs for r in checked)
    if trigger == ERROR_KIND_METRIC:
        failing = sum(1 for r in checked if r.detail != "no failed upload")
        seen = f" ({failing} with errors, all seen before)" if failing else ""
        detail = f"{len(checked)} cell(s) checked: no new error kind{seen}"
        return [outcome("pass", detail, runs=runs, cells=len(checked))]
    nearest = max(checked, key=lambda r: r.score)
    return [
        outcome(
            "pass",
            f"{len(checked)} cell(s) checked; nearest {_where(nearest.cell)}: {nearest.detail}",
            measured=nearest.measured,
            reference=nearest.reference,
            runs=runs,
            cells=len(checked),
        )
    ]


def rollback_triggers(
    scenario: ScenarioDoc,
    recent: Sequence[PastRun],
    every: Sequence[PastRun] | None = None,
    rules: RollbackRules | None = None,
) -> tuple[TriggerOutcome, ...]:
    """Every enabled trigger of ``scenario`` against its history (see the module): rates
    and memory against ``recent`` (the last comparable runs), error kinds against ``every``
    comparable run (default ``recent``). ``rules`` default to the scenario's own
    (:meth:`RollbackRules.of`). No history runs: no outcome (the caller notes it)."""
    every = recent if every is None else every
    rules = RollbackRules.of(scenario) if rules is None else rules
    name = scenario["name"]
    order = {v: i for i, v in enumerate(variant_order(scenario))}

    def ordered(cells: Iterable[Cell]) -> list[Cell]:
        return sorted(cells, key=lambda c: (c.provider, c.concurrency, order.get(c.variant, 0)))

    outcomes: list[TriggerOutcome] = []
    if rules.new_error_kinds and every:
        kinds = cell_error_kinds(scenario)
        results = [_kind_cell(c, kinds[c], every) for c in ordered(kinds)]
        outcomes += _summarise(name, ERROR_KIND_METRIC, _rule(ERROR_KIND_METRIC, rules), results)
    samples = cell_samples(scenario)
    for trigger in (*RATE_METRICS, *MEMORY_METRICS):
        limit = rules.limit(trigger)
        if limit is None or not recent:
            continue
        results = [
            _level_cell(c, trigger, samples[c][trigger], recent, limit)
            for c in ordered(samples)
            if samples[c].get(trigger)
        ]
        outcomes += _summarise(name, trigger, _rule(trigger, rules), results)
    return tuple(outcomes)
