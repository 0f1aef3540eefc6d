"""One trial under ``memray.Tracker``: heap peak, memory over time, top sites, flame graph.

``python -m harness.profile`` reads the same trial spec JSON on stdin as
``python -m harness.worker``, runs :func:`harness.worker.run_trial` once in this process
under memray, and writes the worker's result JSON on stdout with ``metrics.heap_peak_bytes``
set and a ``profile`` object added. memray slows uploads 1.25-1.8x, so every timing metric of
a profiled trial is set to null: no latency or throughput statistic can include it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import sysconfig
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import memray

from harness.errors import HarnessError, UploadbenchError

__all__ = [
    "MAX_TIMELINE_POINTS",
    "MEMORY_METRICS",
    "TOP_ALLOCATIONS",
    "CaptureSummary",
    "analyse_capture",
    "downsample_max",
    "external_resources",
    "main",
    "profile_trial",
    "scrub_record",
    "scrub_timing",
    "trial_stem",
    "write_flamegraph",
]

# The only metrics a profiled trial may carry; everything else is timing or depends on it
# (a timeout under memray's slowdown is not a timeout of the uploader).
MEMORY_METRICS: tuple[str, ...] = ("heap_peak_bytes", "rss_peak_bytes")
_RECORD_TIMES = frozenset({"start", "end", "latency_s", "started_at", "ended_at"})
MAX_TIMELINE_POINTS = 200
TOP_ALLOCATIONS = 10

# AGGREGATED_ALLOCATIONS: the reference measured 1.25x overhead against 1.42x for
# ALL_ALLOCATIONS and a third of the capture size, and it still holds everything we read:
# the exact peak, the memory snapshots, the high-water-mark records and the flame graph.
# What it gives up (--temporal, `memray stats`, a usable file after an OOM kill) we do not use.
_FILE_FORMAT = memray.FileFormat.AGGREGATED_ALLOCATIONS
_SNAPSHOT_INTERVAL_MS = 10


@dataclass(frozen=True)
class CaptureSummary:
    """What a capture says about memory. Bytes throughout; ``memory_over_time`` is
    ``[seconds since tracking started, tracked heap bytes]`` pairs."""

    heap_peak_bytes: int
    rss_peak_bytes: int | None
    memory_over_time: list[list[float]]
    top_allocations: list[dict[str, Any]]


def downsample_max(
    points: Sequence[tuple[float, int]], max_points: int = MAX_TIMELINE_POINTS
) -> list[list[float]]:
    """At most ``max_points`` points, each the highest of its run of consecutive inputs, so
    peaks survive thinning (averaging would flatten them)."""
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    if len(points) <= max_points:
        return [[t, float(v)] for t, v in points]
    out: list[list[float]] = []
    n = len(points)
    for i in range(max_points):
        bucket = points[i * n // max_points : (i + 1) * n // max_points]
        t, v = max(bucket, key=lambda p: p[1])
        out.append([t, float(v)])
    return out


def _short_path(path: str) -> str:
    # Full interpreter paths differ per machine and drown the report; the package path is
    # what a reader looks up.
    for marker in ("site-packages/", "dist-packages/"):
        if marker in path:
            return path.split(marker, 1)[1]
    for root in {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"), str(Path.cwd())}:
        with contextlib.suppress(ValueError):
            return Path(path).relative_to(root).as_posix()
    return path


def _location(stack: Sequence[tuple[str, str, int]]) -> str:
    if not stack:
        return "<no Python frame>"
    func, file, line = stack[0]  # innermost first
    return f"{_short_path(file)}:{line} {func}"


def _top_sites(records: Iterable[Any], top_n: int) -> list[dict[str, Any]]:
    sites: dict[str, list[int]] = {}
    for record in records:
        site = sites.setdefault(_location(record.stack_trace(max_stacks=1)), [0, 0])
        site[0] += int(record.size)
        site[1] += int(record.n_allocations)
    ranked = sorted(sites.items(), key=lambda item: (-item[1][0], item[0]))[:top_n]
    return [{"location": loc, "bytes": b, "count": c} for loc, (b, c) in ranked]


def analyse_capture(
    capture: Path, *, max_points: int = MAX_TIMELINE_POINTS, top_n: int = TOP_ALLOCATIONS
) -> CaptureSummary:
    """Read a memray capture: exact heap peak from the metadata, the sampled RSS peak and
    heap over time from the snapshots, and the top allocation sites live at the peak."""
    try:
        with memray.FileReader(capture, report_progress=False) as reader:
            metadata = reader.metadata
            start_ms = metadata.start_time.timestamp() * 1000.0
            snapshots = list(reader.get_memory_snapshots())
            records = reader.get_high_watermark_allocation_records(merge_threads=True)
            top = _top_sites(records, top_n)
    except (OSError, RuntimeError) as exc:
        raise HarnessError(f"cannot read memray capture {capture}: {exc}") from exc
    timeline = [(max(0.0, (s.time - start_ms) / 1000.0), int(s.heap)) for s in snapshots]
    return CaptureSummary(
        heap_peak_bytes=int(metadata.peak_memory),
        rss_peak_bytes=max((int(s.rss) for s in snapshots), default=None),
        memory_over_time=downsample_max(timeline, max_points),
        top_allocations=top,
    )


def write_flamegraph(capture: Path, html: Path) -> None:
    """memray's own flame graph of the high-water mark, with ``--no-web`` so its scripts
    are inlined and the file opens offline (the default loads them from a CDN)."""
    from memray.commands import main as memray_main

    argv = ["flamegraph", "--no-web", "--force", "--output", str(html), str(capture)]
    # memray prints progress on stdout, which is our result channel
    with contextlib.redirect_stdout(sys.stderr):
        try:
            code = memray_main(argv)
        except SystemExit as exc:  # argparse inside memray exits on bad arguments
            code = exc.code if isinstance(exc.code, int) else 1
    if code != 0 or not html.is_file():
        raise HarnessError(f"memray flamegraph failed for {capture} (exit {code})")
    # a memray release that stopped inlining would break every offline report silently
    remote = external_resources(html.read_text(encoding="utf-8", errors="replace"))
    if remote:
        raise HarnessError(f"flame graph {html} is not self-contained: it loads {remote[0]}")


_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"(?:url\(|@import)\s*['\"]?\s*((?:[a-z][a-z0-9+.-]*:)?//[^'\")\s]*)", re.I)
# Attributes a browser fetches on load. <a href> is a link the reader may follow, not a load.
_FETCHED = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "source": ("src", "srcset"),
    "audio": ("src",),
    "video": ("src", "poster"),
    "track": ("src",),
    "input": ("src",),
}


class _ResourceFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if value and name in _FETCHED.get(tag, ()) and _REMOTE.match(value):
                self.urls.append(value)
            elif value and name == "style":
                self.urls.extend(_CSS_URL.findall(value))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls.extend(_CSS_URL.findall(data))


def external_resources(html: str) -> list[str]:
    """URLs a browser would fetch from the network when opening ``html`` (scripts, styles,
    images, frames, CSS ``url()``/``@import``); empty for a self-contained file."""
    finder = _ResourceFinder()
    finder.feed(html)
    finder.close()
    return finder.urls


def trial_stem(spec: Mapping[str, Any]) -> str:
    """A file-name stem unique to the trial within its run."""
    raw = spec.get("trial_id")
    if not raw:
        parts = [spec.get(key) for key in ("scenario", "variant", "concurrency", "repeat")]
        raw = "-".join(str(p) for p in parts if p is not None) or "trial"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(raw)).strip("._") or "trial"


def scrub_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A per-upload record with its times nulled: they were taken under memray."""
    return {key: (None if key in _RECORD_TIMES else value) for key, value in record.items()}


def scrub_timing(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Every metric but the memory ones set to null (keys kept so the shape stays fixed)."""
    return {key: (value if key in MEMORY_METRICS else None) for key, value in metrics.items()}


def profile_trial(
    spec: Mapping[str, Any],
    run_trial: Callable[[Mapping[str, Any]], dict[str, Any]],
    *,
    max_points: int = MAX_TIMELINE_POINTS,
) -> dict[str, Any]:
    """Run ``run_trial(spec)`` under memray and return its result, profiled.

    Writes ``<stem>.bin`` and ``<stem>.html`` into ``spec["profile_dir"]``; the paths in the
    result are relative to ``spec["run_dir"]`` when given, else to the profile folder.
    """
    if not spec.get("profile_dir"):
        raise HarnessError("trial spec has no 'profile_dir' for the memory profile")
    profile_dir = Path(spec["profile_dir"])
    base = Path(spec.get("run_dir") or profile_dir)
    try:
        profile_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot create profile folder {profile_dir}: {exc}") from exc
    stem = trial_stem(spec)
    capture = profile_dir / f"{stem}.bin"
    html = profile_dir / f"{stem}.html"

    destination = memray.FileDestination(capture, overwrite=True, compress_on_exit=True)
    tracker = memray.Tracker(
        destination=destination,
        native_traces=False,
        follow_fork=False,
        memory_interval_ms=_SNAPSHOT_INTERVAL_MS,
        file_format=_FILE_FORMAT,
    )
    with tracker:
        result = run_trial(spec)

    summary = analyse_capture(capture, max_points=max_points)
    write_flamegraph(capture, html)

    metrics = scrub_timing(result.get("metrics") or {})
    metrics["heap_peak_bytes"] = summary.heap_peak_bytes
    if metrics.get("rss_peak_bytes") is None:
        metrics["rss_peak_bytes"] = summary.rss_peak_bytes
    return {
        **result,
        "profiled": True,
        "metrics": metrics,
        "records": [scrub_record(r) for r in result.get("records") or ()],
        "profile": {
            "heap_peak_bytes": summary.heap_peak_bytes,
            "rss_peak_bytes": summary.rss_peak_bytes,
            "flamegraph": _relative(html, base),
            "capture": _relative(capture, base),
            "memory_over_time": summary.memory_over_time,
            "top_allocations": summary.top_allocations,
        },
    }


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _preload(spec: Mapping[str, Any]) -> None:
    """Import the variant's code before tracking starts: modules stay alive for the whole
    trial, so imports made inside the tracker (supabase, httpx, aiohttp: megabytes) would sit
    in every heap peak and blur the comparison of uploaders."""
    from uploader.loading import load_variant
    from uploader.variants import parse_variant

    # a bad variant is reported by run_trial itself, with the worker's own wording
    with contextlib.suppress(ValueError, ImportError):
        load_variant(parse_variant(str(spec.get("variant", ""))))


def main() -> int:
    """``python -m harness.profile``: trial spec JSON on stdin, result JSON on stdout;
    exit 0, or 2 with a one-line message on stderr (the worker's protocol)."""
    from harness.worker import run_trial

    # Keep the real stdout for the result: fd 1 goes to stderr so the uploader (a cmd:
    # variant's command, a chatty library) and memray's progress output cannot corrupt it.
    result_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        try:
            spec = json.loads(sys.stdin.read())
        except json.JSONDecodeError as exc:
            raise HarnessError(f"trial spec is not JSON: {exc.msg}") from None
        if not isinstance(spec, dict):
            raise HarnessError("trial spec must be a JSON object")
        _preload(spec)
        result = profile_trial(spec, run_trial)
    except UploadbenchError as err:
        print(f"harness.profile: error: {err}", file=sys.stderr)
        return err.exit_code
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(result, allow_nan=False) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
