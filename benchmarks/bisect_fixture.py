"""Does ``uploadbench bisect`` find the commit that made it 15% slower?

    python benchmarks/bisect_fixture.py [--runs 10] [--commits 16] [--slowdown 0.15]
                                        [--seed 1] [--out DIR] [--json FILE]

Each run builds a fresh git repository of ``--commits`` first-parent commits holding the
sensitivity fixture's plugin (``benchmarks/fixture_repo.py``: ``slowplug.py``, whose
``SLOWDOWN`` delays each file by an exact share of its upload time) and scenario. Every
commit changes one comment line (so every step compares different bytes); the commit at a
random index k (1..commits-1, drawn from ``--seed`` and the run's number) also sets
``SLOWDOWN`` to ``--slowdown``, which stays from then on. Then it runs
``uploadbench bisect <first> <last> fixture.toml`` inside the repository and checks the
answer: the right commit, or an honest range that contains it, and never a wrong commit.

It prints one line per run and a summary (right, ranges, wrong, median and maximum wall
seconds per bisect) and writes every run's ``bisect.json`` path into ``--json``. Bounded:
each bisect has a 20-minute timeout. No exit-code target beyond 1 when any answer was
wrong: it measures.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_repo

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 1200.0
# A bisect step runs base and head side by side: 4 processes x 10 rounds = 40 pairs each.
SCENARIO_REPEATS = "repeats = 4"


def build(dest: Path, commits: int, slow_at: int, slowdown: float) -> list[str]:
    """The repository at ``dest``; its commit ids, oldest first."""
    dest.mkdir(parents=True)
    git = fixture_repo._git
    git(dest, "init", "-q", "-b", "main")
    scenario = fixture_repo.scenario_source(10).replace("repeats = 6", SCENARIO_REPEATS)
    (dest / "fixture.toml").write_text(scenario)
    (dest / ".gitignore").write_text(fixture_repo.GITIGNORE)
    ids = []
    for i in range(commits):
        factor = slowdown if i >= slow_at else 0.0
        comment = f"# revision {i}: {'slower' if i >= slow_at else 'as fast as the first'}"
        (dest / "slowplug.py").write_text(fixture_repo.plugin_source(factor, comment=comment))
        git(dest, "add", "-A")
        what = f"step {i}" + (f": {slowdown:.0%} slower" if i == slow_at else "")
        git(dest, "commit", "-q", "-m", what, date=f"2026-01-01T00:{i:02d}:00Z")
        ids.append(git(dest, "rev-parse", "HEAD"))
    return ids


def one(out: Path, run: int, commits: int, slowdown: float, seed: int) -> dict[str, Any]:
    slow_at = random.Random(f"{seed}|{run}").randrange(1, commits)
    repo = out / f"repo-{run:02d}"
    ids = build(repo, commits, slow_at, slowdown)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "harness", "bisect", ids[0], ids[-1], "fixture.toml",
         "--reports", str(out / f"reports-{run:02d}")],
        cwd=repo, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
        env={"PYTHONPATH": str(ROOT), **_env()},
    )  # fmt: skip
    seconds = time.monotonic() - started
    reports = sorted((out / f"reports-{run:02d}" / "bisect").glob("*/bisect.json"))
    data = json.loads(reports[-1].read_text()) if reports else {}
    truth = ids[slow_at]
    candidates = data.get("candidates") or []
    if data.get("found"):
        outcome = "right" if data.get("first_bad") == truth else "wrong"
    elif truth in candidates:
        outcome = "range"
    else:
        outcome = "wrong"
    return {
        "run": run,
        "slow_at": slow_at,
        "truth": truth,
        "exit": done.returncode,
        "outcome": outcome,
        "found": data.get("first_bad"),
        "candidates": len(candidates),
        "steps": len(data.get("steps") or []),
        "seconds": seconds,
        "report": str(reports[-1]) if reports else None,
        "stderr_tail": done.stderr[-500:] if done.returncode == 2 else "",
    }


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--commits", type=int, default=16)
    parser.add_argument("--slowdown", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="keep everything here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write every run's outcome here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bisect-fixture-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for run in range(args.runs):
            row = one(out, run, args.commits, args.slowdown, args.seed)
            rows.append(row)
            print(
                f"[{run + 1}/{args.runs}] slow at commit {row['slow_at']:2d}: {row['outcome']}"
                f" ({row['steps']} steps, {row['seconds']:.0f} s, exit {row['exit']})"
                + (f" {row['stderr_tail']}" if row["stderr_tail"] else ""),
                flush=True,
            )
        seconds = [r["seconds"] for r in rows]
        counts = {k: sum(r["outcome"] == k for r in rows) for k in ("right", "range", "wrong")}
        print(
            f"{args.runs} bisects of {args.commits} commits, {args.slowdown:.0%} slowdown: "
            f"{counts['right']} right, {counts['range']} honest ranges, {counts['wrong']} wrong; "
            f"wall per bisect median {statistics.median(seconds):.0f} s, max {max(seconds):.0f} s"
        )
        if args.json:
            args.json.write_text(json.dumps({"counts": counts, "runs": rows}, indent=1) + "\n")
        return 1 if counts["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
