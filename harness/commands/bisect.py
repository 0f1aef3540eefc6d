"""``uploadbench bisect GOOD BAD SCENARIO [--variant V] [--metric M] [--min-effect X]
[--max-pairs N] [--on-error slow|skip] [--repo PATH] [--reports DIR]``: the first
first-parent commit between GOOD and BAD that made the code under test slower, each step a
head-against-base run of the scenario (:mod:`harness.bisect` is the search, pure; this
module runs the steps and writes ``REPORTS/bisect/<id>/`` with every step's run, a
``bisect.json`` and a ``bisect.md``)."""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness import fileset
from harness.analysis.paired import PairedCheck, paired_checks
from harness.bisect import BisectResult, Step, search
from harness.commands.options import REPORTS_DEFAULT, add_reports, exit_codes_help
from harness.errors import EXIT_INCONCLUSIVE, EXIT_OK, HarnessError
from harness.metrics import DEFAULT_GATING_METRICS, METRIC_ALIASES, METRICS, MIN_EFFECT
from harness.results import atomic_write_text, format_utc, new_run_id
from harness.results.contract import ResultsDoc, is_base_trial
from harness.scenario import Scenario, load_scenarios

__all__ = ["COMMAND", "BisectCommand"]

EXIT_RANGE = EXIT_INCONCLUSIVE  # the answer is a range of commits
EPILOG = (
    "0 means decided: the first bad commit found, or BAD not slower than GOOD; 3 means the "
    "answer is a range of commits. " + exit_codes_help(0, 2, 3, 130)
)
# a step whose head trials are mostly harness errors (timeouts, crashes) is an error step
_ERROR_SHARE = 0.5


@dataclass
class _Bisect:
    """What every step shares: the scenarios, where runs go, the metric and its rule."""

    scenarios: Sequence[Scenario]
    specs: list[str]
    repo: Path | None
    cache: Path
    out: Path
    variant: str | None
    metric: str | None
    min_effect: float | None
    max_pairs: int | None
    pairs_budget_s: float
    seed: int
    steps: int = 0

    def measure(self, base: str, head: str) -> Step:
        from harness.rig.revisions import prepare_revisions
        from harness.runner import run_scenarios

        self.steps += 1
        started = time.monotonic()
        label = f"{base[:12]}..{head[:12]}"
        try:
            revisions = prepare_revisions(
                base, head, variant_specs=self.specs, repo=self.repo, cache_dir=self.cache,
                cwd=Path.cwd(),
            )  # fmt: skip
        except HarnessError as err:
            return Step(base, head, "error", f"{label}: cannot prepare: {err}")
        metrics = [self.metric] if self.metric else None
        effects = (
            {self.metric: self.min_effect} if self.metric and self.min_effect is not None else None
        )
        outcome = run_scenarios(
            self.scenarios, out_dir=self.out / f"step-{self.steps:02d}",
            variants=[self.variant] if self.variant else None, seed=self.seed,
            clock=lambda: datetime.now(UTC), rng=random.Random(), cache_dir=self.cache / "filesets",
            revisions=revisions, max_pairs=self.max_pairs, max_extra_s=self.pairs_budget_s,
            pair_metrics=metrics, pair_min_effects=effects,
        )  # fmt: skip
        seconds = time.monotonic() - started
        run = str(outcome.results_path)
        if outcome.interrupted:
            raise KeyboardInterrupt
        failed = _head_failures(outcome.document)
        if failed is not None:
            return Step(base, head, "error", f"{label}: {failed}", run=run, seconds=seconds)
        checks = paired_checks(
            outcome.document, metrics=metrics, min_effects=effects, seed=self.seed
        )
        return _step(base, head, checks, self.metric, run=run, seconds=seconds)


def _head_failures(doc: ResultsDoc) -> str | None:
    """Why the head revision's trials cannot decide (most failed), or None."""
    head = [
        t
        for s in doc["scenarios"]
        for t in s["trials"]
        if not t.get("warmup") and not is_base_trial(t) and t.get("revision")
    ]
    bad = [t for t in head if t["status"] != "ok"]
    if head and len(bad) / len(head) > _ERROR_SHARE:
        return f"{len(bad)} of {len(head)} head trials failed: {bad[0].get('error')}"
    return None


def _change(check: PairedCheck) -> str:
    if check.ci_low is None or check.ci_high is None:
        return "n/a"
    if check.scale == "ratio" and check.ratio is not None:
        return f"{check.ratio - 1:+.1%} [{check.ci_low - 1:+.1%}, {check.ci_high - 1:+.1%}]"
    delta = check.delta or 0.0
    return f"{delta:+.3g} [{check.ci_low:+.3g}, {check.ci_high:+.3g}]"


def _step(
    base: str,
    head: str,
    checks: Sequence[PairedCheck],
    metric: str | None,
    *,
    run: str,
    seconds: float,
) -> Step:
    """One step's verdict on the metric (or the gating metrics): regressed when a cell
    regressed, unchanged when every cell is unchanged or improved, else inconclusive. The
    summary names the cell that decided (the worst one)."""
    wanted = [c for c in checks if (c.metric == metric if metric else c.gating)]
    if not wanted:
        return Step(base, head, "inconclusive", "no pairs of the metric", run=run, seconds=seconds)
    worst = min(
        wanted,
        key=lambda c: ({"regressed": 0, "inconclusive": 1}.get(c.verdict, 2), c.p_value or 1),
    )
    if any(c.verdict == "regressed" for c in wanted):
        verdict = "regressed"
    elif all(c.verdict in ("unchanged", "improved") for c in wanted):
        verdict = "unchanged"
    else:
        verdict = "inconclusive"
    summary = (
        f"{worst.metric} {_change(worst)} ({worst.n_pairs} pairs, {worst.cell}): {worst.verdict}"
    )
    return Step(
        base, head, verdict, summary,  # type: ignore[arg-type]
        ratio=worst.ratio, ci_low=worst.ci_low, ci_high=worst.ci_high, pairs=worst.n_pairs,
        run=run, seconds=seconds,
    )  # fmt: skip


def first_parent_commits(repo: Path | None, good: str, bad: str) -> list[str]:
    """GOOD, then every first-parent commit after it up to BAD (oldest first); a clear
    one-line error when GOOD is not an ancestor of BAD or a revision is unknown."""
    from harness.rig.revisions import find_repo, resolve_rev

    top = find_repo(Path.cwd(), repo)
    good_id = resolve_rev(top, good, option="GOOD")
    bad_id = resolve_rev(top, bad, option="BAD")
    ancestor = subprocess.run(
        ["git", "merge-base", "--is-ancestor", good_id, bad_id],
        cwd=top, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if ancestor.returncode != 0:
        raise HarnessError(f"GOOD {good!r} is not an ancestor of BAD {bad!r} in {top}")
    listed = subprocess.run(
        ["git", "rev-list", "--first-parent", "--reverse", f"{good_id}..{bad_id}"],
        cwd=top, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if listed.returncode != 0:
        raise HarnessError(f"git rev-list failed in {top}: {listed.stderr.strip()}")
    commits = [good_id, *listed.stdout.split()]
    if commits[-1] != bad_id:
        raise HarnessError(f"BAD {bad!r} is not on the first-parent line from GOOD {good!r}")
    if len(commits) < 2:
        raise HarnessError(f"GOOD and BAD are the same commit ({good_id[:12]})")
    return commits


def _subject(repo: Path | None, commit: str) -> str:
    from harness.rig.revisions import find_repo

    done = subprocess.run(
        ["git", "log", "-1", "--format=%s", commit],
        cwd=find_repo(Path.cwd(), repo), capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip()


def markdown(result: BisectResult, subjects: dict[str, str]) -> str:
    """The bisect's small report: the answer, then every step."""
    lines = ["# uploadbench bisect", "", result.message, ""]
    if not result.found and result.first_bad is not None:
        lines += [
            "The first bad commit is one of:",
            "",
            *[f"- `{c[:12]}` {subjects.get(c, '')}" for c in result.candidates],
            "",
        ]
    lines += [
        "| step | base | head | verdict | change [CI] | seconds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for i, step in enumerate(result.steps, 1):
        seconds = "" if step.seconds is None else f"{step.seconds:.0f}"
        lines.append(
            f"| {i} | `{step.base[:12]}` | `{step.head[:12]}` | {step.verdict} | "
            f"{step.summary.replace('|', '/')} | {seconds} |"
        )
    return "\n".join(lines) + "\n"


class BisectCommand:
    name = "bisect"
    help = "find the commit that made it slower"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.epilog = EPILOG
        add = parser.add_argument
        add("good", metavar="GOOD", help="a revision known to be fast (an ancestor of BAD)")
        add("bad", metavar="BAD", help="a revision known to be slow")
        add("scenario", metavar="SCENARIO", help="the scenario file each step runs")
        add_reports(parser)
        add("--variant", metavar="V", help="the variant to judge (default: every variant the scenario runs)")  # noqa: E501  # fmt: skip
        add("--metric", metavar="M", help="the metric to judge, a name or alias (default: the gating metric that regressed most from GOOD to BAD)")  # noqa: E501  # fmt: skip
        add("--min-effect", type=float, metavar="X", help="a change smaller than X (0.05 = 5%%) counts as none (default: half the GOOD-to-BAD change, at least the metric's own minimum effect)")  # noqa: E501  # fmt: skip
        add("--max-pairs", type=int, default=None, metavar="N", help="add pairs to an undecided step up to N per cell (default: twice the scenario's pairs)")  # noqa: E501  # fmt: skip
        add("--on-error", choices=("slow", "skip"), default="skip", help="a step whose revision cannot be prepared or whose trials mostly fail or time out: count it as slow, or skip that commit (default)")  # noqa: E501  # fmt: skip
        add("--repo", type=Path, metavar="PATH", help="the git repository of the code under test (default: the one of the current directory)")  # noqa: E501  # fmt: skip
        add("--seed", type=int, default=0, metavar="N", help="measurement seed")
        add("--cache-dir", type=Path, metavar="DIR", help="file-set cache (as for run)")

    def run(self, args: argparse.Namespace) -> int:
        scenarios = load_scenarios([Path(args.scenario)])
        metric = None
        if args.metric is not None:
            metric = METRIC_ALIASES.get(args.metric, args.metric)
            if metric not in METRICS or METRICS[metric].source != "trial":
                raise HarnessError(
                    f"--metric {args.metric!r} is not a per-trial metric (uploadbench list)"
                )
        if args.min_effect is not None and not 0 < args.min_effect < 1:
            raise HarnessError(f"--min-effect must lie between 0 and 1, got {args.min_effect}")
        if args.variant is not None and all(args.variant not in s.variants for s in scenarios):
            raise HarnessError(f"--variant {args.variant!r} is not in {args.scenario}")
        commits = first_parent_commits(args.repo, args.good, args.bad)
        reports = args.reports or REPORTS_DEFAULT
        bisect_id = new_run_id(lambda: datetime.now(UTC), random.Random())
        out = reports / "bisect" / bisect_id
        pairs = sum(s.repeats * s.rounds for s in scenarios) // max(1, len(scenarios))
        job = _Bisect(
            scenarios=scenarios,
            specs=sorted({s.spec_of(v) for s in scenarios for v in s.variants}),
            repo=args.repo, cache=(args.cache_dir or fileset.default_cache_dir()).parent, out=out,
            variant=args.variant, metric=metric, min_effect=args.min_effect,
            max_pairs=args.max_pairs if args.max_pairs is not None else 2 * pairs,
            pairs_budget_s=600.0, seed=args.seed,
        )  # fmt: skip
        if args.cache_dir is not None:
            job.cache = args.cache_dir.parent
        print(
            f"bisect {len(commits) - 1} commit(s) after {commits[0][:12]} up to {commits[-1][:12]}"
            f" ({format_utc(datetime.now(UTC))}); steps under {out}",
            file=sys.stderr,
        )
        started = time.monotonic()

        def log(step: Step) -> None:
            print(f"  step {len(steps_seen) + 1}: {step.head[:12]} vs {step.base[:12]}: {step.summary}", file=sys.stderr)  # noqa: E501  # fmt: skip
            steps_seen.append(step)

        steps_seen: list[Step] = []

        def measure(base: str, head: str) -> Step:
            step = job.measure(base, head)
            if job.metric is None and step.verdict == "regressed" and base == commits[0]:
                # the first step (GOOD vs BAD) chooses the metric and, unless given, the
                # minimum effect: half the step, so a commit is "unchanged" within it
                job.metric = _metric_of(step)
                if job.min_effect is None and step.ratio is not None:
                    job.min_effect = max(MIN_EFFECT[job.metric], abs(step.ratio - 1) / 2)
                under = f"{job.min_effect or 0:.1%}"
                print(
                    f"  judging {job.metric}; a change under {under} counts as none",
                    file=sys.stderr,
                )
            return step

        result = search(commits, measure, on_error=args.on_error, log=log)
        seconds = time.monotonic() - started
        subjects = {c: _subject(args.repo, c) for c in result.candidates}
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            out / "bisect.json",
            json.dumps({**result.to_json(), "seconds": seconds, "metric": job.metric,
                        "min_effect": job.min_effect}, indent=1) + "\n",
        )  # fmt: skip
        atomic_write_text(out / "bisect.md", markdown(result, subjects))
        print(result.message)
        if result.found and result.first_bad is not None:
            print(f"  {result.first_bad} {subjects.get(result.first_bad, '')}")
        elif result.first_bad is not None:
            print("  the first bad commit is one of:")
            for commit in result.candidates:
                print(f"  {commit} {subjects.get(commit, '')}")
        print(f"{len(result.steps)} step(s), {seconds:.0f} s; report: {out / 'bisect.md'}", file=sys.stderr)  # noqa: E501  # fmt: skip
        if result.found or (result.first_bad is None and "not slower" in result.message):
            return EXIT_OK
        return EXIT_RANGE


def _metric_of(step: Step) -> str:
    """The metric a step's summary names (its first word)."""
    name = step.summary.split(" ", 1)[0]
    return name if name in METRICS else next(iter(DEFAULT_GATING_METRICS))


COMMAND = BisectCommand()
