"""The ``[files]`` table: counts, listed sizes or a seeded size distribution, and sweeps."""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from harness.scenario.checker import Checker, show
from harness.scenario.model import FilesSpec

__all__ = ["CONTENT_KINDS", "DISTRIBUTIONS", "MAX_COUNT", "load_files"]

CONTENT_KINDS = ("random", "zeros", "text")
DISTRIBUTIONS = ("lognormal", "uniform")
MAX_COUNT = 100_000
_FILES_KEYS = ("count", "sizes", "content", "seed", "sweep")


def _unit_seed(seed: int, index: int) -> float:
    # A uniform draw in (0, 1) from sha256, not random.Random: stable across Python versions
    # and machines by construction, so the same seed gives the same sizes everywhere.
    digest = hashlib.sha256(f"uploadbench-sizes:{seed}:{index}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64


def load_files(c: Checker, raw: object) -> tuple[FilesSpec, dict[str, Any]]:
    files = c.table(raw, "files", _FILES_KEYS)
    if "count" not in files:
        raise c.fail("files.count", "required: the number of files (an integer >= 1)")
    count = c.integer(files["count"], "files.count", 1, MAX_COUNT)
    seed = c.integer(files.get("seed", 0), "files.seed", 0, 2**63 - 1)
    content = files.get("content", "random")
    if content not in CONTENT_KINDS:
        raise c.fail(
            "files.content", f"must be one of {', '.join(CONTENT_KINDS)}, got {show(content)}"
        )
    if "sizes" not in files:
        raise c.fail("files.sizes", "required: a list such as ['5MiB'] or a distribution table")
    raw_sizes = files["sizes"]
    sizes_def: Any
    if isinstance(raw_sizes, str | int) and not isinstance(raw_sizes, bool):
        raw_sizes = [raw_sizes]
    if isinstance(raw_sizes, list):
        if not raw_sizes:
            raise c.fail("files.sizes", "must list at least one size")
        listed = [c.size(v, f"files.sizes[{i}]") for i, v in enumerate(raw_sizes)]
        sizes = tuple(listed[i % len(listed)] for i in range(count))
        sizes_def = listed
    elif isinstance(raw_sizes, Mapping):
        sizes, sizes_def = _distribution(c, raw_sizes, count, seed)
    else:
        raise c.fail(
            "files.sizes",
            f"must be a list of sizes or a distribution table, got {show(raw_sizes)}",
        )
    sweep = files.get("sweep", False)
    if not isinstance(sweep, bool):
        raise c.fail("files.sweep", f"must be true or false, got {show(sweep)}")
    definition: dict[str, Any] = {
        "count": count,
        "sizes": sizes_def,
        "content": content,
        "seed": seed,
    }
    if sweep:
        _check_sweep(c, raw_sizes, sizes, count)
        # Written only when on: scenarios without a sweep keep the hashes (and the history)
        # they had before the key existed.
        definition["sweep"] = True
    spec = FilesSpec(count=count, sizes=sizes, content=content, seed=seed, sweep=sweep)
    return spec, definition


def _check_sweep(c: Checker, raw_sizes: object, sizes: Sequence[int], count: int) -> None:
    # A distribution draws a different size for almost every file: "one trial per size"
    # would then be one trial per file, which is not a sweep anyone means to run.
    if not isinstance(raw_sizes, list):
        raise c.fail("files.sweep", "needs files.sizes as a list of sizes, not a distribution")
    if count < len(raw_sizes):
        raise c.fail(
            "files.count",
            f"with sweep = true must be at least the number of sizes ({len(raw_sizes)}) so "
            f"every size has a file, got {count}",
        )
    if len(set(sizes)) < 2:
        raise c.fail("files.sweep", "needs at least two distinct sizes in files.sizes")


def _distribution(
    c: Checker, raw: Mapping[str, Any], count: int, seed: int
) -> tuple[tuple[int, ...], dict[str, Any]]:
    kind = raw.get("distribution")
    if kind not in DISTRIBUTIONS:
        raise c.fail(
            "files.sizes.distribution",
            f"must be one of {', '.join(DISTRIBUTIONS)}, got {show(kind)}",
        )
    if kind == "uniform":
        table = c.table(raw, "files.sizes", ("distribution", "min", "max"))
        for key in ("min", "max"):
            if key not in table:
                raise c.fail(f"files.sizes.{key}", "required for a uniform distribution")
        low = c.size(table["min"], "files.sizes.min")
        high = c.size(table["max"], "files.sizes.max")
        if high < low:
            raise c.fail("files.sizes.max", f"must be >= min ({low} B)")
        sizes = tuple(low + int(_unit_seed(seed, i) * (high - low + 1)) for i in range(count))
        return sizes, {"distribution": kind, "min": low, "max": high}
    table = c.table(raw, "files.sizes", ("distribution", "median", "sigma", "min", "max"))
    for key in ("median", "max"):
        if key not in table:
            raise c.fail(f"files.sizes.{key}", "required for a lognormal distribution")
    median = c.size(table["median"], "files.sizes.median", low=1)
    low = c.size(table.get("min", 1), "files.sizes.min", low=1)
    high = c.size(table["max"], "files.sizes.max", low=1)
    sigma = table.get("sigma", 1.0)
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not 0 < sigma <= 10:
        raise c.fail("files.sizes.sigma", f"must be a number in (0, 10], got {show(sigma)}")
    if not low <= median <= high:
        raise c.fail("files.sizes.median", f"must be between min ({low} B) and max ({high} B)")
    normal = statistics.NormalDist()
    sizes = tuple(
        min(high, max(low, round(median * math.exp(sigma * normal.inv_cdf(_unit_seed(seed, i))))))
        for i in range(count)
    )
    definition = {
        "distribution": kind,
        "median": median,
        "sigma": float(sigma),
        "min": low,
        "max": high,
    }
    return sizes, definition
