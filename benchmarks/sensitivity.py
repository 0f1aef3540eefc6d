"""Does a head-against-base run flag a real slowdown, and stay quiet when nothing changed?

    python benchmarks/sensitivity.py [--case aa:20 --case slow10:10 ...] [--repo DIR]
        [--out DIR] [--json FILE] [--timeout 300] [--max-total 5400] [--max-pairs N]
        [--rounds N]

It builds the fixture repository (benchmarks/fixture_repo.py: a plugin whose tags ``slow5``,
``slow10`` and ``slow20`` make every upload exactly 5, 10 and 20% longer than tag ``A``,
and ``comment``, which changes one comment line), then, from inside that repository, runs

    uploadbench run fixture.toml --base A --head HEAD --reports DIR --against none
        --markdown FILE

``RUNS`` times per case. A case is ``aa`` (head ``A``: base and head are the very same
code), ``comment`` (head ``comment``: identical behaviour, other bytes; a second A/A
flavour, not in the defaults) or a tag (``slow5``, ``slow10``, ``slow20``). Default:
``aa:20 slow10:10 slow5:10 slow20:10``. The runs of all cases are interleaved (aa, slow10,
slow5, slow20, aa, ...), so a drift of the machine over the experiment spreads over every
case instead of landing on whichever ran last.

For each run it records the exit code (1: head flagged as regressed; 3: inconclusive; 0:
no gating change), its wall time, and the paired verdict per gating metric, computed from
the run's ``results.json`` by the analysis the run itself used.
It prints one row per case: runs, exit 0 / 1 (flagged) / 3 / other counts, the flag rate,
the median and largest wall seconds, and the median throughput and p50 latency change
head/base. For ``aa`` and ``comment`` every flag is a false alarm; for the slow tags every
run that is not flagged is a miss.

Everything is kept under ``--out`` (default: a new folder under the system's temp dir,
printed): the fixture (unless ``--repo``), and per run its stdout, stderr, reports folder
and ``summary.md`` (the ``--markdown`` job summary, ready to paste into a note). ``--json
FILE`` writes the table and every run's record.

Bounded: each run is stopped at ``--timeout`` seconds (SIGINT to its process group, then
SIGKILL 15 s later; counted as ``other``), and no new run starts once ``--max-total``
seconds have passed (the rows then say how many runs they got). No exit-code target: it
measures (exit 2 only when the experiment cannot start). One run takes about 40 s on the
2-core development machine (with the fixture's ``rounds = 10``), so the defaults' 50 runs
about 35 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_repo  # benchmarks/ is a folder of scripts, not a package: by path

DEFAULT_CASES = ("aa:20", "slow10:10", "slow5:10", "slow20:10")
BASE = "A"
# case name -> the tag run as head ("aa": base and head the same commit)
HEADS = {"aa": "A", "comment": "comment", "slow5": "slow5", "slow10": "slow10", "slow20": "slow20"}
SCENARIO = "fixture.toml"
UPLOADBENCH = [sys.executable, "-m", "harness"]
GATING = ("throughput_bytes_per_s", "latency_p50_s", "latency_p99_s", "success_rate")
KILL_GRACE_S = 15.0


@dataclass(frozen=True)
class Case:
    name: str
    head: str
    runs: int

    @property
    def null(self) -> bool:
        """True when base and head behave identically: any flag is a false alarm."""
        return fixture_repo.FACTORS[self.head] == 0.0


@dataclass
class RunRecord:
    case: str
    number: int
    head: str
    exit_code: int | None  # None: stopped at the timeout
    wall_s: float
    headline: str | None
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    folder: str = ""
    timed_out: bool = False


def parse_case(text: str) -> Case:
    name, _, runs = text.partition(":")
    if name not in HEADS:
        raise argparse.ArgumentTypeError(f"unknown case {name!r}; one of {', '.join(HEADS)}")
    try:
        count = int(runs)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: want NAME:RUNS, e.g. slow10:10") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: RUNS must be >= 1")
    return Case(name, HEADS[name], count)


def read_verdict(results: Path) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The paired headline and, per gating metric, ``{"verdict", "change", "detail"}``
    (change: head against base in percent, or percentage points for fractions; the worst
    cell's when a scenario has several), computed from the run's ``results.json`` by the
    same analysis the run used (:func:`harness.analysis.paired.paired_checks`)."""
    if not results.exists():
        return None, {}
    from harness.analysis.paired import paired_checks
    from harness.compare.paired import paired_headline
    from harness.results import load_results

    checks = paired_checks(load_results(results))
    out: dict[str, dict[str, Any]] = {}
    order = {"regressed": 0, "inconclusive": 1, "improved": 2, "unchanged": 3}
    for check in sorted(checks, key=lambda c: order.get(c.verdict, 4)):
        if check.metric not in GATING or check.metric in out:
            continue
        effect = check.effect
        unit = "%" if check.scale == "ratio" else " pp"
        change = None if effect is None else round(effect * 100, 2)
        out[check.metric] = {
            "verdict": check.verdict,
            "change": change,
            "detail": "n/a" if change is None else f"{change:+.2f}{unit} ({check.reason})",
        }
    return paired_headline(checks), out


def run_once(
    repo: Path, case: Case, number: int, folder: Path, timeout: float, extra: Sequence[str]
) -> RunRecord:
    """One base-and-head run from inside the fixture repository; everything kept in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    markdown = folder / "summary.md"
    command = [
        *UPLOADBENCH, "run", SCENARIO,
        "--base", BASE, "--head", case.head,
        "--reports", str(folder / "reports"), "--against", "none",
        "--markdown", str(markdown),
        *extra,
    ]  # fmt: skip
    (folder / "command.txt").write_text(" ".join(command) + "\n")
    # wide lines: rich wraps tables and lines at the terminal's width, even into a pipe
    env = {**os.environ, "COLUMNS": "240", "NO_COLOR": "1"}
    started = time.monotonic()
    # a session of its own: at the timeout the whole run (mock, workers) is stopped as one
    proc = subprocess.Popen(
        command,
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        out, err = _stop(proc)
    wall = time.monotonic() - started
    (folder / "stdout.txt").write_text(out)
    (folder / "stderr.txt").write_text(err)
    headline, checks = read_verdict(folder / "reports" / "latest" / "results.json")
    return RunRecord(
        case=case.name,
        number=number,
        head=case.head,
        exit_code=None if timed_out else proc.returncode,
        wall_s=round(wall, 2),
        headline=headline,
        checks=checks,
        folder=str(folder),
        timed_out=timed_out,
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGINT to the run's process group (uploadbench keeps finished trials), then SIGKILL."""
    for sig, grace in ((signal.SIGINT, KILL_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    return proc.communicate()


def schedule(cases: Sequence[Case]) -> list[tuple[Case, int]]:
    """The runs, interleaved across cases: round r runs the r-th run of every case that has
    one, in the order the cases were given."""
    most = max(c.runs for c in cases)
    return [(c, r) for r in range(1, most + 1) for c in cases if r <= c.runs]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(case: Case, records: Sequence[RunRecord]) -> dict[str, Any]:
    mine = [r for r in records if r.case == case.name]
    codes = [r.exit_code for r in mine]
    walls = [r.wall_s for r in mine]

    def changes(metric: str) -> list[float]:
        return [c for r in mine if (c := r.checks.get(metric, {}).get("change")) is not None]

    flagged = codes.count(1)
    return {
        "case": case.name,
        "head": case.head,
        "slowdown": fixture_repo.FACTORS[case.head],
        "expect": "no flag" if case.null else "flag",
        "runs_planned": case.runs,
        "runs": len(mine),
        "exit_0": codes.count(0),
        "exit_1": flagged,
        "exit_3": codes.count(3),
        "other": len(mine) - codes.count(0) - flagged - codes.count(3),
        "timed_out": sum(r.timed_out for r in mine),
        "flag_rate": flagged / len(mine) if mine else None,
        "wall_s_median": _median(walls),
        "wall_s_max": max(walls) if walls else None,
        "throughput_change_pct_median": _median(changes("throughput_bytes_per_s")),
        "latency_p50_change_pct_median": _median(changes("latency_p50_s")),
    }


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + unit


def print_table(rows: Sequence[Mapping[str, Any]]) -> None:
    print(
        f"{'case':<8}{'head':<8}{'expect':<9}{'runs':>5}{'exit0':>7}{'exit1':>7}{'exit3':>7}"
        f"{'other':>7}{'flagged':>9}{'med s':>8}{'max s':>8}{'thrpt':>9}{'p50':>9}"
    )
    for row in rows:
        # a flag where nothing changed is a false alarm; no flag on a slowdown is a miss
        wrong = row["exit_1"] if row["expect"] == "no flag" else row["runs"] - row["exit_1"]
        rate = row["flag_rate"]
        mark = f" <- {wrong} {'false alarm' if row['expect'] == 'no flag' else 'missed'}"
        print(
            f"{row['case']:<8}{row['head']:<8}{row['expect']:<9}{row['runs']:>5}"
            f"{row['exit_0']:>7}{row['exit_1']:>7}{row['exit_3']:>7}{row['other']:>7}"
            f"{_fmt(None if rate is None else rate * 100, '.0f', '%'):>9}"
            f"{_fmt(row['wall_s_median'], '.1f'):>8}{_fmt(row['wall_s_max'], '.1f'):>8}"
            f"{_fmt(row['throughput_change_pct_median'], '+.1f', '%'):>9}"
            f"{_fmt(row['latency_p50_change_pct_median'], '+.1f', '%'):>9}"
            f"{mark if wrong else ''}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--case",
        action="append",
        type=parse_case,
        metavar="NAME:RUNS",
        help=f"aa, comment or a slow tag, and its run count (default: {' '.join(DEFAULT_CASES)})",
    )
    parser.add_argument("--repo", type=Path, help="build the fixture here (default: OUT/fixture)")
    parser.add_argument("--out", type=Path, help="keep every run here (default: a new temp dir)")
    parser.add_argument("--json", type=Path, help="write the summary and every run as JSON")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument(
        "--max-total", type=float, default=5400.0, help="no new run after this many seconds"
    )
    parser.add_argument("--max-pairs", type=int, help="passed on to uploadbench run")
    parser.add_argument(
        "--rounds", type=int, help="the fixture scenario's rounds per process (fixture_repo.py)"
    )
    args = parser.parse_args(argv)
    cases: list[Case] = args.case or [parse_case(c) for c in DEFAULT_CASES]
    if len({c.name for c in cases}) != len(cases):
        parser.error("each case at most once")

    out: Path = args.out or Path(tempfile.mkdtemp(prefix="uploadbench-sensitivity-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        fixture = fixture_repo.build(args.repo or out / "fixture", force=True, rounds=args.rounds)
    except (FileExistsError, RuntimeError, ValueError) as err:
        print(f"sensitivity: {err}", file=sys.stderr)
        return 2
    print(f"fixture: {fixture.path}; runs kept under {out}", file=sys.stderr)
    for tag, commit in fixture.commits.items():
        print(f"  {tag:<8} {commit}", file=sys.stderr)

    extra = ["--max-pairs", str(args.max_pairs)] if args.max_pairs else []
    plan = schedule(cases)
    records: list[RunRecord] = []
    started = time.monotonic()
    capped = False
    for i, (case, number) in enumerate(plan, start=1):
        if time.monotonic() - started >= args.max_total:
            capped = True
            print(f"--max-total reached: {len(plan) - i + 1} run(s) not started", file=sys.stderr)
            break
        folder = out / "runs" / f"{case.name}-{number:02d}"
        record = run_once(fixture.path, case, number, folder, args.timeout, extra)
        records.append(record)
        verdict = "timed out" if record.timed_out else f"exit {record.exit_code}"
        print(
            f"[{i}/{len(plan)}] {case.name} #{number}: {verdict}, {record.wall_s:.1f} s; "
            f"{record.headline or 'no verdict line'}",
            file=sys.stderr,
        )
    elapsed = time.monotonic() - started

    rows = [summarize(c, records) for c in cases]
    print(
        f"head against base {BASE}, {len(records)} run(s) in {elapsed:.0f} s on "
        f"{os.cpu_count()} CPUs (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})"
        + ("; STOPPED at --max-total" if capped else "")
    )
    print_table(rows)
    print(f"runs, reports and job summaries: {out / 'runs'}")
    if args.json:
        doc = {
            "fixture": {"path": str(fixture.path), "commits": dict(fixture.commits)},
            "base": BASE,
            "elapsed_s": round(elapsed, 1),
            "capped": capped,
            "cpus": os.cpu_count(),
            "cases": rows,
            "runs": [asdict(r) for r in records],
        }
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
