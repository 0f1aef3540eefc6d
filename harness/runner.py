"""The runner loop: scenarios -> planned trials -> one worker process per trial -> results.

The orchestrator never times an upload (pyperf's split). Before any trial it checks that
every variant can run at all (:mod:`harness.preflight`), prepares the files and starts the
rig (:mod:`harness.rig`: the mock provider, and the fault proxy of a scenario with network
faults or a network profile). A trial is one round of one cell (:mod:`harness.plan`); the
rounds of a process group share one worker process per cell
(:class:`harness.rig.workers.WorkerSession`), started at the group's first round and ended
after its last. For each round it resets
the mock, installs the scenario's faults (the same draws for every cell of the round),
asks the cell's worker for one round, then judges what the mock received
(:mod:`harness.checks`): a file the provider does not hold intact is a failed upload,
listed in the trial's ``lost_files``. Every finished trial is written atomically before
the next starts (:class:`harness.results.ResultsStore`), so a crash keeps them and
``--resume`` runs only the missing ones.

In a base-and-head run (``revisions``) each cell runs once per revision: its worker
imports that revision's code under test (:mod:`harness.rig.revisions`: a git worktree
first on its import path, its own interpreter when its dependencies differ); the harness,
mock and files are this checkout's.

A worker that hangs, crashes or prints something that is not a result is recorded as
``status: "harness_error"`` with a one-line reason; the run goes on, and
:attr:`RunOutcome.harness_error_reasons` counts the distinct reasons
(:func:`harness.analysis.summary.harness_error_reasons`, the one rule). A mock provider that
dies stops the run with :class:`HarnessError` (every later trial would be meaningless).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from harness.analysis.summary import harness_error_reasons
from harness.checks import (
    charge_lost_files,
    count_connections,
    count_handshakes,
    judge_records,
    lost_files,
)
from harness.checks import mock_summary as summarise_mock
from harness.errors import HarnessError
from harness.faults.network import network_capacity_warning
from harness.metrics import METRIC_NAMES
from harness.plan import Order, Trial
from harness.preflight import check_variants
from harness.results import ResultsDoc, ResultsStore, TrialDoc, environment, format_utc, new_run_id
from harness.rig.layout import metadata_project_url, provider_url
from harness.rig.process import ServerProcess
from harness.rig.servers import MockRig, start_proxy
from harness.rig.workers import WorkerAnswer, WorkerSession, run_worker
from harness.scenario import Scenario
from harness.worker import TrialSpec
from uploader import LocalFile

__all__ = ["ProgressSink", "RunOutcome", "run_scenarios", "trial_files"]

# memray slows uploads 1.25-1.8x and the flame graph takes a few seconds more to write.
PROFILE_DEADLINE_FACTOR = 2.0
PROFILE_DEADLINE_EXTRA_S = 30.0


class RevisionCode(Protocol):
    """The code under test of one revision (:class:`harness.rig.revisions.Revision`)."""

    @property
    def label(self) -> str: ...

    @property
    def python(self) -> str: ...

    def pythonpath(self) -> list[str]: ...

    def worker_env(self, env: Mapping[str, str]) -> dict[str, str]: ...

    def as_doc(self) -> dict[str, object]: ...


class ProgressSink(Protocol):
    """What the runner reports while it works (the CLI draws a progress bar from it)."""

    def start(self, total: int) -> None: ...

    def trial_started(self, label: str) -> None: ...

    def trial_finished(self, label: str, status: str) -> None: ...

    def extend(self, more: int) -> None: ...


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
    # what a base-and-head run did while a gating paired check was undecided, one line each
    extensions: list[str] = field(default_factory=list)


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
        revisions: Mapping[str, RevisionCode] | None = None,
    ) -> None:
        self.revisions = dict(revisions or {})
        # the worker of each cell of the current process group (harness.plan)
        self.sessions: dict[tuple[str, int, int | None, str | None], WorkerSession] = {}
        self.group: tuple[str, str, int, bool] | None = None
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
        if trial.process != self.group:
            self.end_group()
            self.group = trial.process
        # The same fault draws for every cell of a round (variants, revisions): a fair
        # A/B within the round.
        self.rig.prepare_trial(
            self.seed * 1_000_003 + trial.repeat + 7919 * trial.round + 104_729 * trial.warmup,
            scenario.faults,
        )
        # A profiled trial always goes to the profiler: were it run as a plain worker, its
        # numbers would pass for an extra timed repeat.
        profiled = bool(trial.profiled)
        started_at = format_utc(self.clock())
        t0 = self.monotonic()
        answer = (
            self._profiled(scenario, trial, files, root_url)
            if profiled
            else self._round(scenario, trial, files, root_url)
        )
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
            "round": trial.round,
        }
        if trial.revision is not None:
            entry["revision"] = self._revision(trial.revision).as_doc()  # type: ignore[typeddict-item]
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

    def _revision(self, label: str) -> RevisionCode:
        try:
            return self.revisions[label]
        except KeyError:
            raise HarnessError(f"no code prepared for revision {label!r}") from None

    def _command(self, trial: Trial, module: str) -> tuple[list[str], dict[str, str] | None]:
        """The worker's command line and environment: this interpreter with the current
        directory on the import path, or a revision's interpreter with ``-P`` (no current
        directory) and the revision's code under test first on ``PYTHONPATH``."""
        if trial.revision is None:
            return [self.python, "-m", module], None
        revision = self._revision(trial.revision)
        return [revision.python, "-P", "-m", module], revision.worker_env(os.environ)

    def _profiled(
        self, scenario: Scenario, trial: Trial, files: Sequence[LocalFile], root_url: str
    ) -> WorkerAnswer:
        spec = self._spec(scenario, trial, files, root_url, True)
        deadline = scenario.deadline_s * PROFILE_DEADLINE_FACTOR + PROFILE_DEADLINE_EXTRA_S
        command, env = self._command(trial, "harness.profile")
        return run_worker(command, spec.to_json(), deadline, env=env)

    def _round(
        self, scenario: Scenario, trial: Trial, files: Sequence[LocalFile], root_url: str
    ) -> WorkerAnswer:
        session = self.sessions.get(trial.cell)
        if session is None or session.dead:
            # the cell's first round in this group, or its worker died in an earlier one
            if session is not None:
                session.close()
            spec = self._spec(scenario, trial, files, root_url, False)
            command, env = self._command(trial, "harness.worker")
            session = WorkerSession(command, json.loads(spec.to_json()), env=env)
            self.sessions[trial.cell] = session
        return session.round(
            {
                "trial_id": trial.key,
                "repeat": trial.repeat,
                "round": trial.round,
                "warmup": trial.warmup,
                "seed": self.seed + trial.repeat + 1000 * trial.round,
            },
            scenario.deadline_s,
        )

    def end_group(self) -> None:
        """End the worker processes of the current process group."""
        sessions, self.sessions = self.sessions, {}
        for session in sessions.values():
            session.close()
        self.group = None

    def kill_all(self) -> None:
        """Ctrl-C or a rig failure: kill every worker now."""
        sessions, self.sessions = self.sessions, {}
        for session in sessions.values():
            session.kill()
            session.close()

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
            ca_file=str(self.rig.ca_file) if self.rig.ca_file is not None else None,
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
    metrics["tls_handshakes"] = count_handshakes(stats)
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


def _add_pairs(
    runner: _Run,
    scenario: Scenario,
    files: Sequence[LocalFile],
    root_url: str,
    proxy: ServerProcess | None,
    *,
    labels: Sequence[str],
    max_pairs: int,
    max_extra_s: float | None,
    order: Order,
    metrics: Sequence[str] | None = None,
    min_effects: Mapping[str, float] | None = None,
) -> list[str]:
    """More pairs while a gating paired check of ``scenario`` is inconclusive (Chromium
    Pinpoint's "more attempts while unknown"): each step adds one process group of the
    scenario's ``rounds`` (warm-ups first) for the undecided cells only, both revisions,
    in the next repeat. Stops when every gating check is decided, a cell holds
    ``max_pairs`` pairs, or ``max_extra_s`` seconds have gone. Returns one line per step."""
    from harness.analysis.paired import paired_checks
    from harness.plan import process_trials

    lines: list[str] = []
    started = runner.monotonic()
    while True:
        doc = runner.store.document
        mine = [s for s in doc["scenarios"] if s["name"] == scenario.name]
        checks = paired_checks(
            {**doc, "scenarios": mine}, seed=runner.seed, metrics=metrics, min_effects=min_effects
        )
        undecided = {
            (c.provider, c.variant, c.concurrency, c.size): c.n_pairs
            for c in checks
            if (c.gating or metrics is not None) and c.verdict == "inconclusive"
        }
        wanting = {cell: n for cell, n in undecided.items() if n < max_pairs}
        if not undecided:
            return lines
        if not wanting:
            lines.append(
                f"{scenario.name}: {len(undecided)} cell(s) still undecided at "
                f"--max-pairs {max_pairs}"
            )
            return lines
        spent = runner.monotonic() - started
        if max_extra_s is not None and spent >= max_extra_s:
            lines.append(
                f"{scenario.name}: {len(wanting)} cell(s) still undecided after "
                f"{spent:.0f} s of added pairs (the budget)"
            )
            return lines
        rounds = min(scenario.rounds, max(1, max_pairs - min(wanting.values())))
        for provider in dict.fromkeys(cell[0] for cell in wanting):
            cells = [
                (variant, conc, size, label)
                for (p, variant, conc, size) in wanting
                if p == provider
                for label in labels
            ]
            rep = 1 + max(
                (t["repeat"] for s in mine for t in s["trials"] if t.get("provider") == provider),
                default=-1,
            )
            trials = process_trials(
                scenario,
                provider,
                cells,
                rep,
                scenario.warmups,
                rounds,
                order,
                start=1 + max((t["index"] for s in mine for t in s["trials"]), default=-1),
            )
            if runner.progress is not None:
                runner.progress.extend(len(trials))
            for trial in trials:
                if proxy is not None:
                    proxy.check_alive()
                runner.run_trial(scenario, trial, trial_files(files, trial), root_url, proxy)
            runner.end_group()
        lines.append(
            f"{scenario.name}: added {rounds} pair(s) to each of {len(wanting)} undecided "
            f"cell(s) (gating checks inconclusive at {min(wanting.values())} pairs)"
        )


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
    revisions: Sequence[str] | None = None,
) -> list[tuple[Scenario, list[Trial]]]:
    from harness.plan import plan_trials
    from harness.plan import shard as shard_trials

    trials = plan_trials(
        scenarios,
        repeats_override=repeats,
        variants_filter=variants,
        quick=quick,
        order=order,
        revisions=revisions,
    )
    if shard is not None:
        trials = shard_trials(trials, *shard)
    return [(s, [t for t in trials if t.scenario == s.name]) for s in scenarios]


def _preflight(
    plans: Sequence[tuple[Scenario, list[Trial]]],
    revisions: Mapping[str, RevisionCode] | None = None,
) -> None:
    # Only the variants about to run: a --variant filter or a finished shard skips the rest.
    # A base-and-head run checks each revision where its workers will import it.
    check_variants(
        ((scenario, list(dict.fromkeys(t.variant for t in trials))) for scenario, trials in plans),
        search_paths={label: r.pythonpath() for label, r in (revisions or {}).items()} or None,
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
    revisions: Sequence[RevisionCode] | None = None,
    max_pairs: int | None = None,
    max_extra_s: float | None = None,
    pair_metrics: Sequence[str] | None = None,
    pair_min_effects: Mapping[str, float] | None = None,
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
    (:func:`harness.plan.plan_trials`: random by default, ``"fixed"`` for comparisons).
    ``revisions`` (base and head, :mod:`harness.rig.revisions`) makes it a base-and-head
    run: every cell runs once per revision, interleaved in each round. Then, while a
    gating head-against-base check of a scenario is inconclusive, it adds processes of
    ``rounds`` pairs for the undecided cells until they hold ``max_pairs`` pairs or the
    extra time passes ``max_extra_s`` (:func:`_add_pairs`); ``RunOutcome.extensions``
    says what it did. ``pair_metrics`` and ``pair_min_effects`` (``bisect``) make those
    checks the ones of the given metrics, with the given minimum effects."""
    from harness.fileset import materialize

    now = clock or (lambda: datetime.now(UTC))
    by_label = {r.label: r for r in revisions or ()}
    plans = _plan(
        scenarios,
        repeats=repeats,
        quick=quick,
        variants=variants,
        shard=shard,
        order=order,
        revisions=list(by_label) or None,
    )
    if resume is not None:
        store = ResultsStore.reopen(resume)
        plans = _missing(plans, store, shard)
        _preflight(plans, by_label)
    else:
        _preflight(plans, by_label)
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
    extensions: list[str] = []
    completed = False
    interrupted = False
    runner: _Run | None = None
    rig: MockRig | None = None
    try:
        filesets = {s.name: materialize(s.files, cache_dir) for s, trials in plans if trials}
        hash_algos = {f.hash_algo for fs in filesets.values() for f in fs.files}
        if len(hash_algos) > 1:
            raise HarnessError(f"file sets use different hash algorithms: {sorted(hash_algos)}")
        hash_algo = hash_algos.pop() if hash_algos else None
        # One mock per run, over the TLS of the first scenario with trials; a scenario that
        # asks for other TLS gets a fresh mock (new CA and key) when its turn comes.
        first_tls = next((s.tls for s, trials in plans if trials), "off")
        rig = MockRig(python=python, seed=seed, hash_algo=hash_algo, log_dir=log_dir, tls=first_tls)
        runner = _Run(
            store=store,
            rig=rig,
            python=python,
            seed=seed,
            clock=now,
            monotonic=monotonic,
            progress=progress,
            revisions=by_label,
        )
        for scenario, trials in plans:
            store.add_scenario(scenario.name, scenario.hash, scenario.definition, scenario.baseline)
            if not trials:
                continue
            if scenario.tls != rig.tls:
                rig.stop()
                rig = None
                rig = MockRig(
                    python=python, seed=seed, hash_algo=hash_algo, log_dir=log_dir, tls=scenario.tls
                )
                runner.rig = rig
            note = network_capacity_warning(scenario.network) if scenario.network else None
            if note is not None:
                # a link faster than the proxy carries would measure the proxy
                print(f"uploadbench: warning: {scenario.name}: {note}", file=sys.stderr)
            proxy = (
                start_proxy(
                    scenario.network_faults,
                    rig.url,
                    python=python,
                    seed=seed,
                    log_dir=log_dir,
                    network=scenario.network,
                )
                if scenario.network_faults or scenario.network is not None
                else None
            )
            try:
                root_url = rig.url
                if proxy is not None:
                    # a TCP proxy: over TLS the client still speaks https, through it
                    scheme = "https://" if rig.tls != "off" else "http://"
                    root_url = scheme + proxy.url.removeprefix("http://")
                for trial in trials:
                    if proxy is not None:
                        proxy.check_alive()
                    files = trial_files(filesets[scenario.name].files, trial)
                    runner.run_trial(scenario, trial, files, root_url, proxy)
                runner.end_group()
                if by_label and max_pairs:
                    extensions += _add_pairs(
                        runner,
                        scenario,
                        filesets[scenario.name].files,
                        root_url,
                        proxy,
                        labels=list(by_label),
                        max_pairs=max_pairs,
                        max_extra_s=max_extra_s,
                        order=order,
                        metrics=pair_metrics,
                        min_effects=pair_min_effects,
                    )
            finally:
                runner.kill_all()
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
        extensions=extensions,
        # the one rule (harness.analysis.summary), over every trial the results hold
        harness_error_reasons=[
            reason for s in document["scenarios"] for reason in harness_error_reasons(s)
        ],
    )
