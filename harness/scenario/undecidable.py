"""Warnings for what a run can never decide (or never runs): one line each, naming the
field; ``uploadbench validate`` prints them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.metrics import METRIC_TABLE, PROFILED_METRICS
from harness.scenario.model import SEQUENTIAL_SPECS, FilesSpec, concurrencies_for
from harness.thresholds import Threshold

__all__ = ["undecidable_warnings"]

# The event loop's metrics exist only where a loop runs the uploads: the worker leaves them
# null for the sequential builtin and for a cmd: variant, whatever the run does.
_LOOP_METRICS = frozenset(m.name for m in METRIC_TABLE if m.needs_event_loop)


def _has_no_loop(spec: str) -> bool:
    return spec in SEQUENTIAL_SPECS or spec.startswith("cmd:")


def undecidable_warnings(
    named: Mapping[str, str],
    specs: Mapping[str, str],
    thresholds: Sequence[Threshold],
    files: FilesSpec,
    profile: bool,
    concurrency: tuple[int, ...],
) -> list[str]:
    """One line per thing that does not stop a run but can never be decided or never runs."""
    out: list[str] = [
        f"named_variants.{name}: not listed in variants, so it never runs"
        for name in named
        if name not in specs
    ]
    for i, t in enumerate(thresholds):
        where = f"thresholds[{i}] ({t.text})"
        if t.metric == "memory_slope" and not files.sweep:
            out.append(
                f"{where}: memory_slope needs a size sweep ([files] sweep = true with several "
                "sizes); this threshold can never be decided"
            )
        if (t.metric == "memory_slope" or t.metric in PROFILED_METRICS) and not profile:
            out.append(
                f"{where}: {t.metric} comes from profiled trials and profile = false; "
                "this threshold can never be decided"
            )
        if t.metric in _LOOP_METRICS:
            for name in (t.variant, t.baseline):
                if name is not None and _has_no_loop(specs[name]):
                    out.append(
                        f"{where}: {t.metric} is measured on an event loop and {name} "
                        f"({specs[name]}) runs none; this threshold can never be decided"
                    )
        if t.baseline is not None and specs[t.baseline] not in SEQUENTIAL_SPECS:
            # a sequential baseline at c=1 stands in at every concurrency; any other
            # baseline is compared at the concurrencies both variants run
            mine = concurrencies_for(specs[t.variant], concurrency)
            theirs = concurrencies_for(specs[t.baseline], concurrency)
            if not set(mine) & set(theirs):
                out.append(
                    f"{where}: {t.variant} runs at c={','.join(map(str, mine))} and "
                    f"{t.baseline} at c={','.join(map(str, theirs))}, never at the same "
                    "concurrency; this threshold can never be decided"
                )
    return out
