"""Build the sensitivity fixture: a small git repository whose plugin is slower by an exact,
known factor at each tag, for ``uploadbench run --base REV --head REV`` experiments.

    python benchmarks/fixture_repo.py DEST [--force] [--rounds N]

DEST gets a repository with two files under test and one to keep it clean:

- ``slowplug.py``: ``slowplug:SlowUploader``, a small async uploader (one pooled aiohttp
  session, ``settings.concurrency`` files in flight, the request builders of
  ``uploader.protocol``). Its one constant ``SLOWDOWN`` makes it slower: after a file's
  request took ``t`` seconds it waits ``SLOWDOWN * t`` more, inside that file's timing and
  holding its concurrency slot, so the file's latency and the batch's wall time both grow
  by ``1 + SLOWDOWN`` (see the module's docstring for why that is exact);
- ``fixture.toml``: the scenario (Kimi only, the plugin as the named variant ``slowplug``,
  8 x 256 KiB at concurrency 4 with 80 ms provider latency);
- ``.gitignore``: ``__pycache__/`` and ``reports/``, so a run leaves the tree clean.

Commits and tags (each from ``A``, never a chain, so each differs from ``A`` by one line and
no slowdown carries into another):

| tag | what changed from ``A`` | SLOWDOWN |
| --- | --- | --- |
| ``A`` | (the plugin as is; branch ``main`` points here, and the working tree holds it) | 0.0 |
| ``comment`` | one comment line of ``slowplug.py`` (A/A with different bytes) | 0.0 |
| ``slow5``, ``slow10``, ``slow20`` | the ``SLOWDOWN = ...`` line | 0.05, 0.10, 0.20 |

Commit ids are reproducible: fixed author, committer and dates (``GIT_AUTHOR_DATE``,
``GIT_COMMITTER_DATE``), fixed messages, no global or system git configuration, no hooks,
no signing. The same script version gives the same ids on every machine; the ids are
printed. ``--force`` replaces a DEST that this script built (and refuses any other
non-empty folder).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FACTORS",
    "FIXTURE_FILES",
    "TAGS",
    "Fixture",
    "build",
    "plugin_source",
]

# The slowdown of each tag: SLOWDOWN in slowplug.py at that commit.
FACTORS: Mapping[str, float] = {
    "A": 0.0,
    "comment": 0.0,
    "slow5": 0.05,
    "slow10": 0.10,
    "slow20": 0.20,
}
TAGS: tuple[str, ...] = tuple(FACTORS)

# The comment line that the ``comment`` commit rewords (and nothing else).
COMMENT_A = "# How much slower than tag A this revision uploads: 0.10 = every upload 10% longer."
COMMENT_B = "# The slowdown of this revision against tag A, as a fraction: 0.10 = 10% longer."
FACTOR_LINE = "SLOWDOWN = {factor!r}"

# Fixed identity and dates: the same inputs give the same commit ids everywhere.
NAME = "uploadbench fixture"
EMAIL = "fixture@uploadbench.invalid"
DATES = {tag: f"2026-01-0{day}T12:00:00+00:00" for day, tag in enumerate(TAGS, start=1)}
MESSAGES = {
    "A": "slowplug: an async uploader and its scenario (the sensitivity fixture)",
    "comment": "slowplug: reword a comment (no change in behaviour)",
    "slow5": "slowplug: 5% slower (SLOWDOWN = 0.05)",
    "slow10": "slowplug: 10% slower (SLOWDOWN = 0.1)",
    "slow20": "slowplug: 20% slower (SLOWDOWN = 0.2)",
}

PLUGIN = '''\
"""slowplug: the uploader under test of uploadbench's sensitivity fixture
(benchmarks/fixture_repo.py in uploadbench builds this repository).

An async plugin (docs/plugins.md): one pooled aiohttp session, at most
``settings.concurrency`` files in flight, requests from ``uploader.protocol``'s builders
(Kimi/GLM ``POST {base_url}/files`` multipart, Supabase Storage raw body), no retries.

``SLOWDOWN`` makes it slower by an exact factor. After a file's request took ``t`` seconds
(read, send, answer), the file waits ``SLOWDOWN * t`` more before it counts as done: inside
its own timing (``ended_at`` is stamped after the wait) and holding its concurrency slot. So
each file's latency is ``(1 + SLOWDOWN) * t`` and each slot is busy ``1 + SLOWDOWN`` times
as long, which stretches the batch's wall time (and cuts throughput) by the same factor. The
wait is proportional to what was measured, not a fixed number of milliseconds, so it is the
same relative change on a fast or a slow machine; it is a sleep, not CPU work, so it does
not compete with the mock for the cores. It runs to a deadline: a timer that fires early is
waited out once more, one that fires late (the event loop's timers are good to about
0.1-1 ms) adds that much, which is why the fixture's requests take about 90 ms (the
scenario's 80 ms provider latency): the wait then overshoots by about 1% of ``t``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence

import aiohttp

from uploader import LocalFile, Outcome, OutcomeClass, Settings, Target, protocol

__all__ = ["SLOWDOWN", "SlowUploader"]

{comment}
{factor_line}


class SlowUploader:
    """``slowplug:SlowUploader``: the class the scenario names; the worker makes one."""

    async def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]:
        limit = asyncio.Semaphore(max(1, settings.concurrency))
        connector = aiohttp.TCPConnector(limit=max(1, settings.concurrency))
        # trust_env=False: never route the benchmark through a proxy from the environment
        async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
            done = await asyncio.gather(
                *(_upload_one(session, limit, file, target, settings) for file in files)
            )
        return list(done)


async def _upload_one(
    session: aiohttp.ClientSession,
    limit: asyncio.Semaphore,
    file: LocalFile,
    target: Target,
    settings: Settings,
) -> Outcome:
    async with limit:
        started = time.perf_counter()
        deadline = settings.min_timeout_s + file.size / settings.min_rate_bytes_per_s
        timeout = aiohttp.ClientTimeout(total=deadline, connect=settings.connect_timeout_s)
        try:
            status, body = await _send(session, file, target, timeout)
        except TimeoutError:
            return _outcome(file, started, "timeout", error="timed out")
        except (aiohttp.ClientError, OSError) as exc:
            # never the key in an error: it is written to results.json
            return _outcome(file, started, "connection_error", error=type(exc).__name__)
        await _slow_down(time.perf_counter() - started)
        if status >= 400:
            return _outcome(file, started, "http_error", status=status, error=f"HTTP {status}")
        try:
            file_id, stored = _parse(target, body)
        except protocol.ProtocolError as exc:
            return _outcome(file, started, "http_error", status=status, error=str(exc))
        if stored is not None and stored != file.size:
            error = f"provider stored {stored} of {file.size} bytes"
            return _outcome(file, started, "integrity_error", status=status, error=error)
        return _outcome(file, started, "ok", status=status, file_id=file_id, sent=file.size)


async def _slow_down(took: float) -> None:
    """Wait ``SLOWDOWN * took`` seconds, to a deadline."""
    if SLOWDOWN <= 0:
        return
    until = time.perf_counter() + SLOWDOWN * took
    await asyncio.sleep(SLOWDOWN * took)
    # uvloop rounds timers to the millisecond and may fire early: wait out the rest once
    left = until - time.perf_counter()
    if left > 0:
        await asyncio.sleep(left)


async def _send(
    session: aiohttp.ClientSession,
    file: LocalFile,
    target: Target,
    limits: aiohttp.ClientTimeout,
) -> tuple[int, bytes]:
    if target.provider == "supabase":
        req = protocol.supabase_object_upload(target, file.name, file.size, upsert=True)
    else:
        boundary = secrets.token_hex(16)
        req = protocol.openai_upload(target, file.name, file.size, boundary)
    data = req.body_bytes(file.path.read_bytes())  # small files: one buffer per request
    async with session.request(
        req.method, req.url, headers=dict(req.headers), data=data, timeout=limits
    ) as response:
        return response.status, await response.read()


def _parse(target: Target, body: bytes) -> tuple[str, int | None]:
    if target.provider == "supabase":
        return protocol.parse_supabase_object(body), None
    stored = protocol.parse_openai_file(body)
    return stored.file_id, stored.bytes


def _outcome(
    file: LocalFile,
    started: float,
    outcome: OutcomeClass,
    *,
    status: int | None = None,
    file_id: str | None = None,
    sent: int = 0,
    error: str | None = None,
) -> Outcome:
    return Outcome(
        name=file.name,
        size=file.size,
        outcome=outcome,
        started_at=started,
        ended_at=time.perf_counter(),
        status=status,
        file_id=file_id,
        bytes_sent=sent,
        error=error,
    )
'''

SCENARIO = """\
# uploadbench's sensitivity fixture (benchmarks/fixture_repo.py builds this repository).
# From this folder:  uploadbench run fixture.toml --base A --head slow10 --against none
# The tags differ from A only in slowplug.py's SLOWDOWN (slow5, slow10, slow20) or in one
# comment line (comment); the base-and-head run must flag the slow ones and not A/A.
name = "fixture"
description = "slowplug (this repository) on Kimi: 8 x 256 KiB, c=4, 80 ms provider latency"
variants = ["slowplug"]
baseline = "slowplug"
concurrency = 4
# Worker processes per revision; each runs `warmups` discarded rounds, then `rounds`
# measured ones (a round is one upload_many of the 8 files: about 0.2 s, and a worker
# process about 0.45 s to start, on a loaded 2-core machine). 6 x 2 processes x 12 rounds:
# about 40 s per base-and-head run, 60 pairs. Without `rounds` (one round per process) the
# 6 pairs are the paired verdict's minimum and can never be significant: every run exits 3.
repeats = 6
warmups = 2
{rounds}
deadline = "60s"
profile = false
thresholds = ["slowplug.success_rate >= 100%"]

[named_variants]
# imported from the revision under test (a git worktree of --base or --head)
slowplug = "slowplug:SlowUploader"

[files]
count = 8
sizes = ["256KiB"]
content = "random"
seed = 11

[[providers]]
kind = "kimi"

# About 100 ms per request, mostly the provider's wait: the slowdown's sleep is then large
# against the event loop's timer error (under 1 ms), and it does not compete for the CPU.
[[faults]]
type = "latency"
ms = "80ms"
target = { method = "POST", route = "/files" }
"""

# Measured rounds per worker process (--rounds N writes another number: a fixture with other
# commit ids, as reproducible).
DEFAULT_ROUNDS = 10

GITIGNORE = "__pycache__/\nreports/\n"

FIXTURE_FILES = ("slowplug.py", "fixture.toml", ".gitignore")


def plugin_source(factor: float, *, comment: str = COMMENT_A) -> str:
    """``slowplug.py`` with ``SLOWDOWN = factor`` and the given comment line above it."""
    return PLUGIN.replace("{comment}", comment).replace(
        "{factor_line}", FACTOR_LINE.format(factor=factor)
    )


def scenario_source(rounds: int | None = None) -> str:
    """``fixture.toml`` with ``rounds = N`` (default :data:`DEFAULT_ROUNDS`)."""
    return SCENARIO.replace("{rounds}", f"rounds = {rounds or DEFAULT_ROUNDS}")


def files_at(tag: str, rounds: int | None = None) -> dict[str, str]:
    """The repository's files at ``tag``."""
    comment = COMMENT_B if tag == "comment" else COMMENT_A
    return {
        "slowplug.py": plugin_source(FACTORS[tag], comment=comment),
        "fixture.toml": scenario_source(rounds),
        ".gitignore": GITIGNORE,
    }


@dataclass(frozen=True)
class Fixture:
    """A built fixture: its folder and each tag's commit id."""

    path: Path
    commits: Mapping[str, str]


# who commits, and nothing from the environment that could change a commit's bytes
_GIT_CONFIG = tuple(
    arg
    for setting in (
        f"user.name={NAME}",
        f"user.email={EMAIL}",
        "commit.gpgsign=false",
        "tag.gpgsign=false",
        "core.autocrlf=false",
        f"core.hooksPath={os.devnull}",
    )
    for arg in ("-c", setting)
)


def _git_env(date: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        # no user or system configuration: hooks, signing, templates cannot change the ids
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        env.pop(var, None)
    if date is not None:
        env["GIT_AUTHOR_DATE"] = date
        env["GIT_COMMITTER_DATE"] = date
    return env


def _git(repo: Path, *args: str, date: str | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["git", *_GIT_CONFIG, *args],
        cwd=repo,
        env=_git_env(date),
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
    return done.stdout.strip()


def _tree(repo: Path, files: Mapping[str, str]) -> str:
    """A tree object holding ``files`` (plumbing: no checkout, no index)."""
    entries = []
    for name in sorted(files):
        blob = _git(repo, "hash-object", "-w", "--stdin", stdin=files[name])
        entries.append(f"100644 blob {blob}\t{name}\n")
    return _git(repo, "mktree", stdin="".join(entries))


def _is_fixture(dest: Path) -> bool:
    return (dest / ".git").is_dir() and all((dest / name).is_file() for name in FIXTURE_FILES)


def build(dest: Path, *, force: bool = False, rounds: int | None = None) -> Fixture:
    """Build the fixture repository at ``dest``; ``force`` replaces an earlier fixture;
    ``rounds`` sets the scenario's measured rounds per process (default 10)."""
    if rounds is not None and rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    dest = dest.resolve()
    if dest.exists() and any(dest.iterdir()):
        if not force:
            raise FileExistsError(f"{dest} exists and is not empty (--force replaces a fixture)")
        if not _is_fixture(dest):
            raise FileExistsError(f"{dest} is not a fixture repository; not removing it")
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    _git(dest, "init", "-q", "--initial-branch=main")

    # A: the working tree, the index and branch main, by the ordinary commands
    for name, text in files_at("A", rounds).items():
        (dest / name).write_text(text, encoding="utf-8", newline="\n")
    _git(dest, "add", "--", *FIXTURE_FILES)
    _git(dest, "commit", "-q", "--no-verify", "-m", MESSAGES["A"], date=DATES["A"])
    commits = {"A": _git(dest, "rev-parse", "HEAD")}
    _git(dest, "tag", "A")

    # every other tag: one commit whose parent is A, by plumbing (the working tree stays A)
    for tag in TAGS[1:]:
        tree = _tree(dest, files_at(tag, rounds))
        commit = _git(
            dest, "commit-tree", tree, "-p", commits["A"], "-m", MESSAGES[tag], date=DATES[tag]
        )
        _git(dest, "tag", tag, commit)
        commits[tag] = commit
    return Fixture(dest, commits)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dest", type=Path, help="folder for the repository (created)")
    parser.add_argument(
        "--force", action="store_true", help="replace DEST if an earlier run of this built it"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        metavar="N",
        help="measured rounds per process in fixture.toml (default 10)",
    )
    args = parser.parse_args(argv)
    try:
        fixture = build(args.dest, force=args.force, rounds=args.rounds)
    except (FileExistsError, RuntimeError, ValueError) as err:
        print(f"fixture_repo: {err}", file=sys.stderr)
        return 2
    print(f"fixture repository: {fixture.path}")
    for tag, commit in fixture.commits.items():
        print(f"{tag:<8} {commit}  SLOWDOWN = {FACTORS[tag]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
