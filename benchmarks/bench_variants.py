"""Side-by-side benchmark of the built-in uploader variants (issue 3).

10 files of 5 MiB to the mock provider answering every upload 500 ms late: wall time of
``sync``, ``naive-async`` and ``async``, and the event-loop lag p99 while ``naive-async``
and ``async`` run (a heartbeat task in the same loop). Not a test: figures depend on the
machine; compare the ratios printed side by side in one run.

    .venv/bin/python benchmarks/bench_variants.py [--files 10] [--size-mib 5] [--latency-ms 500]
        [--concurrency 10] [--provider kimi] [--switches]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import xxhash

from harness.mockprovider import MockConfig, MockServer
from harness.rig.layout import metadata_project_url, provider_url
from uploader.api import Fixes, LocalFile, Outcome, Settings, Target
from uploader.naive import NaiveAsyncUploader
from uploader.reference import ReferenceUploader
from uploader.sync_baseline import SyncBaselineUploader

HEARTBEAT_S = 0.005  # 5 ms: fine enough to see a blocked loop, cheap enough not to matter


class Heartbeat:
    """Samples event-loop lag: how late a ``HEARTBEAT_S`` sleep wakes up."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._before = loop.time()
            await asyncio.sleep(HEARTBEAT_S)
            self.lags.append(max(0.0, loop.time() - self._before - HEARTBEAT_S))
            self._before = None

    async def __aenter__(self) -> Heartbeat:
        self._before: float | None = None
        self._task = asyncio.create_task(self._beat())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        if self._before is not None:
            # A beat still waiting was delayed by everything since it started: when the
            # loop was blocked for the whole run, this is the only sample there is.
            late = asyncio.get_running_loop().time() - self._before - HEARTBEAT_S
            self.lags.append(max(0.0, late))
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def p99(self) -> float:
        if len(self.lags) < 2:
            # One sample means the loop was blocked the whole time: that sample is the lag.
            return self.lags[0] if self.lags else float("nan")
        return statistics.quantiles(self.lags, n=100, method="inclusive")[98]


def _serve(config: MockConfig, conn: Connection) -> None:
    with MockServer.in_thread(config, port=0) as srv:
        conn.send(srv.url)
        conn.recv()  # until the parent says stop


@contextlib.contextmanager
def mock_process(config: MockConfig) -> Iterator[str]:
    """The mock in a child process, so its body hashing does not take our GIL and show up
    as event-loop lag of the uploader being measured."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(config, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(60):
            raise SystemExit("mock provider did not start within 60 s")
        yield str(parent.recv())
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.kill()


def make_files(root: Path, count: int, size: int) -> list[LocalFile]:
    files = []
    block = os.urandom(size)
    for i in range(count):
        data = i.to_bytes(8, "big") + block[8:]
        path = root / f"bench-{i:03d}.bin"
        path.write_bytes(data)
        files.append(LocalFile(path, size, xxhash.xxh3_128(data).hexdigest()))
    return files


def check(name: str, outcomes: Sequence[Outcome]) -> None:
    bad = [o for o in outcomes if o.outcome != "ok"]
    if bad:
        raise SystemExit(f"{name}: {len(bad)} uploads failed, first: {bad[0].error}")


async def timed_async(
    run: Callable[[], Awaitable[list[Outcome]]],
) -> tuple[float, float, list[Outcome]]:
    async with Heartbeat() as beat:
        start = time.perf_counter()
        outcomes = await run()
        wall = time.perf_counter() - start
    return wall, beat.p99(), outcomes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--size-mib", type=float, default=5.0)
    parser.add_argument("--latency-ms", type=float, default=500.0)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--provider", choices=("kimi", "glm", "supabase"), default="kimi")
    parser.add_argument(
        "--switches", action="store_true", help="also run async with each fix switched off"
    )
    args = parser.parse_args(argv)
    size = int(args.size_mib * 1024 * 1024)
    settings = Settings(concurrency=args.concurrency)
    upload_route = {"kimi": "/files", "glm": "/files", "supabase": "storage/v1/object/*"}
    faults = [
        {
            "type": "latency",
            "ms": args.latency_ms,
            "target": {"provider": args.provider, "route": upload_route[args.provider]},
        }
    ]
    results: dict[str, tuple[float, float | None]] = {}
    with tempfile.TemporaryDirectory(prefix="uploadbench-") as tmp:
        files = make_files(Path(tmp), args.files, size)
        with mock_process(MockConfig(keys=("sk-test",), faults=tuple(faults))) as url:
            target = Target(
                args.provider,
                provider_url(url, args.provider),
                "sk-test",
                metadata_project_url=metadata_project_url(url),
            )

            def reset() -> None:
                httpx.post(f"{url}/__mock/reset").raise_for_status()

            reset()
            start = time.perf_counter()
            outcomes = SyncBaselineUploader().upload_many(files, target, settings)
            results["sync"] = (time.perf_counter() - start, None)
            check("sync", outcomes)
            variants: list[tuple[str, NaiveAsyncUploader | ReferenceUploader]] = [
                ("naive-async", NaiveAsyncUploader()),
                ("async", ReferenceUploader()),
            ]
            if args.switches:
                variants += [
                    (f"async[{fix}=off]", ReferenceUploader(Fixes(**{fix: False})))
                    for fix in Fixes.names()
                ]
            for name, uploader in variants:
                reset()

                async def run(
                    u: NaiveAsyncUploader | ReferenceUploader = uploader,
                ) -> list[Outcome]:
                    return await u.upload_many(files, target, settings)

                wall, lag, outcomes = asyncio.run(timed_async(run))
                check(name, outcomes)
                results[name] = (wall, lag)
    print(
        f"{args.files} files x {args.size_mib:g} MiB to {args.provider}, "
        f"{args.latency_ms:g} ms provider latency, concurrency {args.concurrency}"
    )
    print(f"{'variant':<30} {'wall_s':>8} {'vs sync':>8} {'loop_lag_p99_ms':>16}")
    sync_wall = results["sync"][0]
    for name, (wall, lag) in results.items():
        lag_text = "-" if lag is None else f"{lag * 1000:.1f}"
        print(f"{name:<30} {wall:8.2f} {sync_wall / wall:7.1f}x {lag_text:>16}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
