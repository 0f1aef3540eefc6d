"""The runner loop: scenarios -> planned trials -> one worker process per trial -> results.

The orchestrator never times an upload (pyperf's split). Before any trial it checks that
every variant can run at all (:mod:`harness.preflight`), prepares the files and starts the
rig (:mod:`harness.rig`: the mock provider, and the fault proxy of a scenario with network
faults). For each trial it resets the mock, installs the scenario's faults, hands the
trial's spec to a fresh worker (:mod:`harness.rig.workers`), then judges what the mock
received (:mod:`harness.checks`): a file the provider does not hold intact is a failed
upload, listed in the trial's ``lost_files``. Every finished trial is written atomically
before the next starts (:class:`harness.results.ResultsStore`), so a crash keeps them and
``--resume`` runs only the missing ones.

A worker that hangs, crashes or prints something that is not a result is recorded as
``status: "harness_error"`` with a one-line reason; the run goes on, and
:attr:`RunOutcome.harness_error_reasons` counts the distinct reasons
(:func:`harness.analysis.summary.harness_error_reasons`, the one rule). A mock provider that
dies stops the run with :class:`HarnessError` (every later trial would be meaningless).
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from harness.analysis.summary import harness_error_reasons
from harness.checks import charge_lost_files, count_connections, judge_records, lost_files
from harness.checks import mock_summary as summarise_mock
from harness.errors import HarnessError
from harness.metrics import METRIC_NAMES
from harness.plan import Order, Trial
from harness.preflight import check_variants
from harness.results import ResultsDoc, ResultsStore, TrialDoc, environment, format_utc, new_run_id
from harness.rig.layout import metadata_project_url, provider_url
from harness.rig.process import ServerProcess
from harness.rig.servers import MockRig, start_proxy
from harness.rig.workers import run_worker
from harness.scenario import Scenario
from harness.worker import TrialSpec
from uploader import LocalFile

__all__ = ["ProgressSink", "RunOutcome", "run_scenarios", "trial_files"]

# memray slows uploads 1.25-1.8x and the flame graph takes a few seconds more to write.
PROFILE_DEADLINE_FACTOR = 2.0
PROFILE_DEADLINE_EXTRA_S = 30.0


class ProgressSink(Protocol):
    """What the runner reports while it works (the CLI draws a progress bar from it)."""

    def start(self, total: int) -> None: ...

    def trial_started(self, label: str) -> None: ...

    def trial_finished(self, label: str, status: str) -> None: ...


@dataclass(frozen=True)
class RunOutcome:
    """Where a run was written and what it holds."""

    run_id: str
    run_dir: Path
    results_path: Path
    document: ResultsDoc
    scenarios: tuple[Scenario, ...]
    trials: int
    harness_errors: int
    interrupted: bool = False  # stopped by Ctrl-C / SIGINT: complete is false
    # distinct reasons of this run's harness errors, one line each with its count, e.g.
    # "3x worker failed (exit code 2): ... (variant mine)"; most frequent first
    harness_error_reasons: list[str] = field(default_factory=list)


def trial_files(files: Sequence[LocalFile], trial: Trial) -> tuple[LocalFile, ...]:
    """The files a trial uploads: all of them, or in a size sweep those of ``trial.size``."""
    if trial.size is None:
        return tuple(files)
    chosen = tuple(f for f in files if f.size == trial.size)
    if not chosen:
        raise HarnessError(f"{trial.key}: the file set has no file of {trial.size} B")
    return chosen


class _Run:
    """Runs trials one after the other on one rig and records each."""

    def __init__(
        self,
        *,
        store: ResultsStore,
        rig: MockRig,
        python: str,
        seed: int,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        progress: ProgressSink | None,
    ) -> None:
        self.store = store
        self.rig = rig
        self.python = python
        self.seed = seed
        self.clock = clock
        self.monotonic = monotonic
        self.progress = progress
        self.trials = 0
        self.errors: Counter[tuple[str, str]] = Counter()  # (reason, variant) -> trials

    @property
    def harness_errors(self) -> int:
        return sum(self.errors.values())

    def run_trial(
        self,
        scenario: Scenario,
        trial: Trial,
        files: Sequence[LocalFile],
        root_url: str,
        proxy: ServerProcess | None = None,
    ) -> None:
        label = trial.key
        if self.progress is not None:
            self.progress.trial_started(label)
        # The same fault draws for every variant of a repeat: a fair A/B within the repeat.
        self.rig.prepare_trial(self.seed * 1_000_003 + trial.repeat, scenario.faults)
        # A profiled trial always goes to the profiler: were it run as a plain worker, its
        # numbers would pass for an extra timed repeat.
        profiled = bool(trial.profiled)
        spec = self._spec(scenario, trial, files, root_url, profiled)
        deadline = scenario.deadline_s
        if profiled:
            deadline = deadline * PROFILE_DEADLINE_FACTOR + PROFILE_DEADLINE_EXTRA_S
        started_at = format_utc(self.clock())
        t0 = self.monotonic()
        module = "harness.profile" if profiled else "harness.worker"
        answer = run_worker(self.python, module, spec.to_json(), deadline)
        if proxy is not None:
            # A proxy that died mid-trial made the uploads fail, not the uploader: stop.
            proxy.check_alive()
        duration = self.monotonic() - t0
        if answer.error is not None:
            self._keep_log(trial.key, answer.stderr.replace(self.rig.key, "***"))
        stats = self.rig.stats()
        entry: TrialDoc = {
            "key": trial.key,
            "index": trial.index,
            "provider": trial.provider,
            "variant": trial.variant,  # the name: what baseline, thresholds and reports use
            "concurrency": trial.concurrency,
            "repeat": trial.repeat,
            "order": trial.order,  # where it ran within its round (harness.plan)
            "warmup": bool(trial.warmup),
            "profiled": profiled,
            "status": "ok" if answer.result is not None else "harness_error",
            "error": answer.error,
            "started_at": started_at,
            "duration_s": duration,
            "metrics": dict.fromkeys(METRIC_NAMES),
            "records": [],
            "mock": summarise_mock(stats),
            "profile": None,
            "lost_files": [],
        }
        if trial.size is not None:
            # a sweep's point: harness.analysis.memory fits the heap peak against this size
            entry["file_size_bytes"] = trial.size
        if answer.result is not None:
            _judge(entry, answer.result, files, stats)
        else:
            self.errors[(answer.error or "no reason", trial.variant)] += 1
        self.store.add_trial(scenario.name, _scrubbed(entry, self.rig.key))
        self.trials += 1
        if self.progress is not None:
            self.progress.trial_finished(label, entry["status"])

    def _spec(
        self,
        scenario: Scenario,
        trial: Trial,
        files: Sequence[LocalFile],
        root_url: str,
        profiled: bool,
    ) -> TrialSpec:
        provider = next(p for p in scenario.providers if p.kind == trial.provider)
        return TrialSpec(
            trial_id=trial.key,
            scenario=scenario.name,
            provider=trial.provider,
            variant=scenario.spec_of(trial.variant),  # the worker loads the spec
            concurrency=trial.concurrency,
            repeat=trial.repeat,
            base_url=provider_url(root_url, trial.provider),
            metadata_project_url=metadata_project_url(root_url),
            api_key=self.rig.key,
            files=tuple(files),
            purpose=provider.purpose or "file-extract",
            bucket=provider.bucket or "uploads",
            settings=dict(scenario.settings),
            seed=self.seed + trial.repeat,
            profile_dir=str(self.store.run_dir / "profiles") if profiled else None,
            run_dir=str(self.store.run_dir) if profiled else None,
        )

    def _keep_log(self, key: str, stderr: str) -> None:
        if not stderr.strip():
            return
        safe = "".join(ch if ch.isalnum() or ch in "-_.=" else "_" for ch in key)
        path = self.store.run_dir / "logs" / f"{safe}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        # The tail is what explains a failure; whole logs of a chatty library are not.
        path.write_text(stderr[-64_000:], encoding="utf-8")


def _judge(
    entry: TrialDoc, result: dict[str, Any], files: Sequence[LocalFile], stats: dict[str, Any]
) -> None:
    """Fill ``entry`` from the worker's result, judged against what the mock received."""
    # Exactly the contract's keys, in its order, whatever else a worker sends.
    claimed = {name: result["metrics"].get(name) for name in METRIC_NAMES}
    records = list(result.get("records") or [])
    local = [{"name": f.name, "size": f.size, "content_hash": f.content_hash} for f in files]
    reasons = judge_records(local, records, stats.get("requests", []))
    metrics = charge_lost_files(claimed, records, reasons)
    metrics["connections_opened"] = count_connections(stats)
    entry["metrics"] = metrics
    entry["records"] = records
    entry["profile"] = result.get("profile")
    entry["lost_files"] = lost_files(records, reasons)


def _scrubbed(entry: TrialDoc, key: str) -> TrialDoc:
    """``entry`` with the run's API key replaced wherever a careless uploader or worker
    put it (its error, records, profile): the key is written nowhere."""
    text = json.dumps(entry)
    if key not in text:
        return entry
    clean: TrialDoc = json.loads(text.replace(key, "***"))
    return clean


def _missing(
    plans: list[tuple[Scenario, list[Trial]]],
    store: ResultsStore,
    shard: tuple[int, int] | None,
) -> list[tuple[Scenario, list[Trial]]]:
    """The planned trials a resumed run has not recorded yet, matched by trial key; a
    scenario whose hash changed since the run cannot be resumed."""
    recorded = store.document.get("shard")
    wanted = None if shard is None else {"k": shard[0], "n": shard[1]}
    if recorded != wanted:
        raise HarnessError(f"{store.path}: --shard differs from the run's ({recorded})")
    out = []
    for scenario, trials in plans:
        known = store.scenario_hash(scenario.name)
        if known is not None and known != scenario.hash:
            raise HarnessError(
                f"{store.path}: scenario {scenario.name!r} changed since the run "
                f"(hash {known} -> {scenario.hash}); start a new run"
            )
        done = store.trial_keys(scenario.name)
        out.append((scenario, [t for t in trials if t.key not in done]))
    return out


def _plan(
    scenarios: Sequence[Scenario],
    *,
    repeats: int | None,
    quick: bool,
    variants: Sequence[str] | None,
    shard: tuple[int, int] | None,
    order: Order,
) -> list[tuple[Scenario, list[Trial]]]:
    from harness.plan import plan_trials
    from harness.plan import shard as shard_trials

    trials = plan_trials(
        scenarios, repeats_override=repeats, variants_filter=variants, quick=quick, order=order
    )
    if shard is not None:
        trials = shard_trials(trials, *shard)
    return [(s, [t for t in trials if t.scenario == s.name]) for s in scenarios]


def _preflight(plans: Sequence[tuple[Scenario, list[Trial]]]) -> None:
    # Only the variants about to run: a --variant filter or a finished shard skips the rest.
    check_variants(
        (scenario, list(dict.fromkeys(t.variant for t in trials))) for scenario, trials in plans
    )


def run_scenarios(
    scenarios: Sequence[Scenario],
    *,
    out_dir: Path,
    repeats: int | None = None,
    quick: bool = False,
    variants: Sequence[str] | None = None,
    shard: tuple[int, int] | None = None,
    progress: ProgressSink | None = None,
    seed: int = 0,
    clock: Callable[[], datetime] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    cache_dir: Path,
    python: str = sys.executable,
    resume: Path | None = None,
    order: Order = "random",
) -> RunOutcome:
    """Run every planned trial of ``scenarios`` and write ``out_dir/<run-id>/results.json``.

    ``repeats``/``quick``/``variants`` narrow the plan (:func:`harness.plan.plan_trials`),
    ``shard=(k, n)`` runs the k-th of n deterministic slices. ``seed`` seeds the mock, the
    faults and the uploaders' jitter; ``clock`` (UTC now) and ``rng`` make the run id.
    Raises :class:`~harness.errors.ScenarioError` before anything is written when a variant
    cannot run (:mod:`harness.preflight`), and :class:`HarnessError` when the rig itself
    fails (the mock dies, a server does not start); trials finished by then stay on disk
    with ``complete: false``. Ctrl-C (SIGINT) stops after killing the running worker and
    returns with ``interrupted`` set. ``resume`` (an unfinished run's results file) runs
    only the trials it lacks. ``order`` is the order of the cells within each round
    (:func:`harness.plan.plan_trials`: random by default, ``"fixed"`` for comparisons)."""
    from harness.fileset import materialize

    now = clock or (lambda: datetime.now(UTC))
    plans = _plan(
        scenarios, repeats=repeats, quick=quick, variants=variants, shard=shard, order=order
    )
    if resume is not None:
        store = ResultsStore.reopen(resume)
        plans = _missing(plans, store, shard)
        _preflight(plans)
    else:
        _preflight(plans)
        store = ResultsStore(
            out_dir,
            new_run_id(now, rng or random.Random()),
            started_at=format_utc(now()),
            environment=environment(),
            shard=shard,
        )
    total = sum(len(trials) for _, trials in plans)
    if progress is not None:
        progress.start(total)
    log_dir = store.run_dir / "logs"
    completed = False
    interrupted = False
    runner: _Run | None = None
    rig: MockRig | None = None
    try:
        filesets = {s.name: materialize(s.files, cache_dir) for s, trials in plans if trials}
        hash_algos = {f.hash_algo for fs in filesets.values() for f in fs.files}
        if len(hash_algos) > 1:
            raise HarnessError(f"file sets use different hash algorithms: {sorted(hash_algos)}")
        rig = MockRig(
            python=python,
            seed=seed,
            hash_algo=hash_algos.pop() if hash_algos else None,
            log_dir=log_dir,
        )
        runner = _Run(
            store=store,
            rig=rig,
            python=python,
            seed=seed,
            clock=now,
            monotonic=monotonic,
            progress=progress,
        )
        for scenario, trials in plans:
            store.add_scenario(scenario.name, scenario.hash, scenario.definition, scenario.baseline)
            if not trials:
                continue
            proxy = (
                start_proxy(
                    scenario.network_faults, rig.url, python=python, seed=seed, log_dir=log_dir
                )
                if scenario.network_faults
                else None
            )
            try:
                root_url = proxy.url if proxy is not None else rig.url
                for trial in trials:
                    if proxy is not None:
                        proxy.check_alive()
                    files = trial_files(filesets[scenario.name].files, trial)
                    runner.run_trial(scenario, trial, files, root_url, proxy)
            finally:
                if proxy is not None:
                    proxy.stop()
        completed = True
    except KeyboardInterrupt:
        # Ctrl-C: the running worker was killed (harness.rig.workers); finished trials are
        # on disk and the run is marked incomplete. A second Ctrl-C still ends the process.
        interrupted = True
    finally:
        if rig is not None:
            rig.stop()
        # Finished trials are already on disk; say whether the run got to its end.
        store.finish(format_utc(now()), complete=completed)
    document = store.document
    return RunOutcome(
        run_id=store.run_id,
        run_dir=store.run_dir,
        results_path=store.path,
        document=document,
        scenarios=tuple(scenarios),
        trials=runner.trials if runner is not None else 0,
        harness_errors=runner.harness_errors if runner is not None else 0,
        interrupted=interrupted,
        # the one rule (harness.analysis.summary), over every trial the results hold
        harness_error_reasons=[
            reason for s in document["scenarios"] for reason in harness_error_reasons(s)
        ],
    )
