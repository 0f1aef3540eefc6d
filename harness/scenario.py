"""Scenario files: TOML -> a validated, frozen :class:`Scenario` with a stable hash.

Every problem becomes one :class:`~harness.errors.ScenarioError` naming the file, the field
(``files.count``, ``faults[1].ms``) and what is allowed. The normalised definition (defaults
filled in, units converted, aliases resolved) is hashed, so the same scenario written
differently has the same hash and any change gives another. ``scenarios/README.md``
documents every field.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.errors import ScenarioError
from harness.faults import FaultValueError, validate_fault, validate_network_fault
from harness.metrics import PROFILED_METRICS
from harness.thresholds import Threshold, parse_threshold
from harness.units import parse_duration, parse_size
from uploader.api import PROVIDERS, Settings
from uploader.variants import BUILTIN_VARIANTS, parse_variant

__all__ = [
    "CLAIM_KEYS",
    "CONTENT_KINDS",
    "SEQUENTIAL_SPECS",
    "SETTINGS_FIELDS",
    "FilesSpec",
    "ProviderSpec",
    "Scenario",
    "is_variant_name",
    "load_scenario",
    "load_scenarios",
    "scenario_from_dict",
]

CONTENT_KINDS = ("random", "zeros", "text")
# The rows of the investigation's table (harness.report.data.CLAIMS) a scenario may measure.
CLAIM_KEYS = (
    "memory_50mb",
    "throughput_10_files",
    "latency_per_upload",
    "timeout_rate",
    "connection_overhead",
)
DISTRIBUTIONS = ("lognormal", "uniform")

# Bounds that catch typos and keep a scenario from filling the disk or running for days.
MAX_COUNT = 100_000
MAX_FILE_SIZE = 16 * 1024**3
MAX_CONCURRENCY = 10_000
MAX_REPEATS = 10_000
MAX_DEADLINE_S = 24 * 3600.0

_TOP_KEYS = (
    "name",
    "description",
    "claim",
    "files",
    "providers",
    "named_variants",
    "variants",
    "baseline",
    "allow_data_loss",
    "concurrency",
    "repeats",
    "warmups",
    "deadline",
    "profile",
    "settings",
    "faults",
    "network_faults",
    "thresholds",
)
_FILES_KEYS = ("count", "sizes", "content", "seed", "sweep")
_PROVIDER_KEYS = ("kind", "purpose", "bucket")
_DEFAULT_PURPOSE = "file-extract"
_DEFAULT_BUCKET = "uploads"


def _settings_kinds() -> dict[str, str]:
    # Derived from uploader.Settings so a new field is accepted without touching this file;
    # the kind decides which units a value may carry. concurrency is the scenario's matrix
    # axis and fixes come from the variant spec, so neither is a setting here.
    kinds: dict[str, str] = {}
    for f in fields(Settings):
        if f.name in ("concurrency", "fixes"):
            continue
        if f.name.endswith("_bytes_per_s"):
            kinds[f.name] = "rate"
        elif f.name.endswith("_bytes") or f.name.endswith("chunk_size"):
            kinds[f.name] = "size"
        elif f.name.endswith("_s"):
            kinds[f.name] = "duration"
        elif f.type in (int, "int"):
            kinds[f.name] = "int"
        else:
            kinds[f.name] = "float"
    return kinds


SETTINGS_FIELDS: dict[str, str] = _settings_kinds()


def _setting_aliases() -> dict[str, str]:
    # stall_timeout = "5s" reads better than stall_timeout_s = 5; tus_threshold = "6MiB" too
    aliases: dict[str, str] = {}
    for name in SETTINGS_FIELDS:
        for suffix in ("_bytes_per_s", "_bytes", "_s"):
            if name.endswith(suffix):
                aliases[name[: -len(suffix)]] = name
                break
    return aliases


_SETTING_ALIASES = _setting_aliases()


@dataclass(frozen=True)
class FilesSpec:
    """The files of a scenario: ``sizes`` has one resolved size per file (``count`` items).
    With ``sweep`` each trial uploads the files of one size only (:attr:`sweep_sizes`)."""

    count: int
    sizes: tuple[int, ...]
    content: str
    seed: int
    sweep: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes)

    @property
    def sweep_sizes(self) -> tuple[int, ...]:
        """The distinct sizes, ascending, when ``sweep``; ``()`` otherwise."""
        return tuple(sorted(set(self.sizes))) if self.sweep else ()


@dataclass(frozen=True)
class ProviderSpec:
    """A provider to upload to; ``purpose`` is set for Kimi/GLM, ``bucket`` for Supabase."""

    kind: str
    purpose: str | None = None
    bucket: str | None = None


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. ``definition`` is the normalised, JSON-serialisable form and
    ``hash`` the sha256 of its canonical JSON."""

    name: str
    description: str
    hash: str
    definition: dict[str, Any] = field(repr=False)
    path: Path | None
    files: FilesSpec
    providers: tuple[ProviderSpec, ...]
    variants: tuple[str, ...]
    baseline: str
    concurrency: tuple[int, ...]
    repeats: int
    warmups: int
    deadline_s: float
    profile: bool
    settings: dict[str, Any]
    faults: tuple[dict[str, Any], ...]
    network_faults: tuple[dict[str, Any], ...]
    thresholds: tuple[Threshold, ...]
    claim: str | None = None
    # name -> spec of every variant (a builtin's name is its spec; a scenario may name a
    # cmd: or plugin spec once and use the name everywhere). Empty means "each name is its
    # own spec" (scenarios loaded before named variants existed).
    variant_specs: Mapping[str, str] = field(default_factory=dict)
    # variants whose lost or corrupted files do not fail the run (meant to be broken)
    allow_data_loss: tuple[str, ...] = ()
    # problems that do not stop a run but leave something undecidable, one line each
    warnings: tuple[str, ...] = ()

    def spec_of(self, variant: str) -> str:
        """The spec (``async``, ``cmd:...``, ``pkg.mod:attr``) a variant name runs."""
        return self.variant_specs.get(variant, variant)

    def concurrencies_of(self, variant: str) -> tuple[int, ...]:
        """The concurrency values a variant runs with: ``(1,)`` for a sequential spec
        (``sync``, whatever the scenario calls it), the scenario's axis otherwise."""
        return _concurrencies(self.spec_of(variant), self.concurrency)

    def __hash__(self) -> int:  # the dict fields are not hashable; the content hash is
        return hash(self.hash)


class _Checker:
    """Raises a ScenarioError for one source file; helpers return converted values."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, where, problem)

    def table(self, value: object, where: str, allowed: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"must be a table, got {_show(value)}")
        for key in value:
            if key not in allowed:
                dotted = f"{where}.{_key(key)}" if where else _key(key)
                hint = ""
                if where and key in _TOP_KEYS:
                    # TOML puts every key after a [table] header into that table
                    table = where.split("[")[0].split(".")[0]
                    hint = f" ('{key}' is a top-level key: move it above the first [{table}])"
                raise self.fail(dotted, f"unknown key; allowed: {', '.join(allowed)}{hint}")
        return value

    def integer(self, value: object, where: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            bound = f">= {low}" if high >= 2**62 else f"between {low} and {high}"
            raise self.fail(where, f"must be an integer {bound}, got {_show(value)}")
        return value

    def text(self, value: object, where: str, low: int, high: int) -> str:
        if not isinstance(value, str) or not low <= len(value) <= high:
            raise self.fail(where, f"must be text of {low}..{high} characters, got {_show(value)}")
        return value

    def convert(self, where: str, parse: Callable[[Any], Any], value: object) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None

    def size(self, value: object, where: str, low: int = 0) -> int:
        size: int = self.convert(where, parse_size, value)
        if not low <= size <= MAX_FILE_SIZE:
            raise self.fail(where, f"must be between {low} B and 16GiB, got {_show(value)}")
        return size


def _key(key: object) -> str:
    # a quoted TOML key may hold a newline or an escape sequence: the message stays one line
    if isinstance(key, str) and key and key.isprintable() and len(key) <= 60:
        return key
    return _show(key)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unit_seed(seed: int, index: int) -> float:
    # A uniform draw in (0, 1) from sha256, not random.Random: stable across Python versions
    # and machines by construction, so the same seed gives the same sizes everywhere.
    digest = hashlib.sha256(f"uploadbench-sizes:{seed}:{index}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64


def _files(c: _Checker, raw: object) -> tuple[FilesSpec, dict[str, Any]]:
    files = c.table(raw, "files", _FILES_KEYS)
    if "count" not in files:
        raise c.fail("files.count", "required: the number of files (an integer >= 1)")
    count = c.integer(files["count"], "files.count", 1, MAX_COUNT)
    seed = c.integer(files.get("seed", 0), "files.seed", 0, 2**63 - 1)
    content = files.get("content", "random")
    if content not in CONTENT_KINDS:
        raise c.fail(
            "files.content", f"must be one of {', '.join(CONTENT_KINDS)}, got {_show(content)}"
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
            f"must be a list of sizes or a distribution table, got {_show(raw_sizes)}",
        )
    sweep = files.get("sweep", False)
    if not isinstance(sweep, bool):
        raise c.fail("files.sweep", f"must be true or false, got {_show(sweep)}")
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


def _check_sweep(c: _Checker, raw_sizes: object, sizes: Sequence[int], count: int) -> None:
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
    c: _Checker, raw: Mapping[str, Any], count: int, seed: int
) -> tuple[tuple[int, ...], dict[str, Any]]:
    kind = raw.get("distribution")
    if kind not in DISTRIBUTIONS:
        raise c.fail(
            "files.sizes.distribution",
            f"must be one of {', '.join(DISTRIBUTIONS)}, got {_show(kind)}",
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
        raise c.fail("files.sizes.sigma", f"must be a number in (0, 10], got {_show(sigma)}")
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


def _providers(c: _Checker, raw: object) -> tuple[tuple[ProviderSpec, ...], list[dict[str, Any]]]:
    if isinstance(raw, Mapping):  # [providers] written as a single table
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise c.fail("providers", f"must be one or more [[providers]] tables, got {_show(raw)}")
    specs: list[ProviderSpec] = []
    defs: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        where = f"providers[{i}]"
        table = c.table(item, where, _PROVIDER_KEYS)
        kind = table.get("kind")
        if kind not in PROVIDERS:
            raise c.fail(
                f"{where}.kind", f"must be one of {', '.join(PROVIDERS)}, got {_show(kind)}"
            )
        if any(s.kind == kind for s in specs):
            # trial keys name the provider kind, so a second one would collide
            raise c.fail(f"{where}.kind", f"{kind!r} is listed twice; each provider at most once")
        purpose = bucket = None
        if kind == "supabase":
            if "purpose" in table:
                raise c.fail(f"{where}.purpose", "applies to kimi and glm only")
            bucket = c.text(table.get("bucket", _DEFAULT_BUCKET), f"{where}.bucket", 1, 63)
        else:
            if "bucket" in table:
                raise c.fail(f"{where}.bucket", "applies to supabase only")
            purpose = c.text(table.get("purpose", _DEFAULT_PURPOSE), f"{where}.purpose", 1, 64)
        specs.append(ProviderSpec(kind=kind, purpose=purpose, bucket=bucket))
        defs.append(
            {k: v for k, v in (("kind", kind), ("purpose", purpose), ("bucket", bucket)) if v}
        )
    return tuple(specs), defs


# A name a scenario gives a variant: no "." or "/", so a threshold splits at its first "."
# as a person reads it; builtin specs (async[pooling=off]) are names of themselves.
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NAME_RULE = "1..64 letters, digits, '_' or '-'"
# Specs that run sequentially by definition: one run per repeat at concurrency 1, whatever
# the scenario's concurrency axis and whatever name the scenario gives them.
SEQUENTIAL_SPECS = frozenset({"sync"})


def is_variant_name(variant: str) -> bool:
    """Whether ``variant`` can be written in a threshold, ``baseline`` or ``allow_data_loss``
    (an unnamed ``cmd:`` or plugin spec cannot: it holds ``.`` or ``/``)."""
    return "." not in variant and "/" not in variant


def _named_variants(c: _Checker, raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise c.fail("named_variants", f'must be a table of NAME = "SPEC" lines, got {_show(raw)}')
    named: dict[str, str] = {}
    for key, value in raw.items():
        where = f"named_variants.{_key(key)}"
        if not isinstance(key, str) or not _NAME_RE.fullmatch(key):
            raise c.fail(where, f"a variant name is {_NAME_RULE} (no '.' or '/')")
        if key in BUILTIN_VARIANTS:
            raise c.fail(where, f"{key!r} is a builtin variant; choose another name")
        if not isinstance(value, str):
            raise c.fail(
                where,
                f"must be a variant spec such as 'cmd:curl ...' or 'pkg.mod:attr', "
                f"got {_show(value)}",
            )
        spec = c.convert(where, parse_variant, value).spec
        for other, other_spec in named.items():
            if other_spec == spec:
                raise c.fail(where, f"names the same spec as {other!r}")
        named[key] = spec
    return named


def _variants(
    c: _Checker, raw: object, named: Mapping[str, str]
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The variant names in order and name -> spec for each."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise c.fail("variants", f"must be a list of variant names or specs, got {_show(raw)}")
    specs: dict[str, str] = {}
    name_of = {spec: name for name, spec in named.items()}
    for i, item in enumerate(raw):
        where = f"variants[{i}]"
        if not isinstance(item, str):
            raise c.fail(where, f"must be a variant name or spec (text), got {_show(item)}")
        if item in named:
            name, spec = item, named[item]
        else:
            if _NAME_RE.fullmatch(item) and item not in BUILTIN_VARIANTS:
                raise c.fail(
                    where,
                    f"{item!r} is neither a builtin variant ({', '.join(BUILTIN_VARIANTS)}) "
                    "nor a name given in [named_variants]",
                )
            spec = c.convert(where, parse_variant, item).spec
            if spec in name_of:
                other = name_of[spec]
                raise c.fail(
                    where,
                    f"{_show(spec)} is named {other!r} in [named_variants]: list it as {other!r}",
                )
            name = spec
        if name in specs:
            raise c.fail(where, f"{name!r} is listed twice")
        specs[name] = spec
    return tuple(specs), specs


def _name_in(c: _Checker, where: str, value: object, names: Sequence[str]) -> str:
    """``value`` must be one of the scenario's variants, written as a name."""
    allowed = ", ".join(repr(n) for n in names if is_variant_name(n))
    if not isinstance(value, str) or value not in names:
        raise c.fail(where, f"must be one of the variants ({allowed}), got {_show(value)}")
    if not is_variant_name(value):
        raise c.fail(
            where,
            f"must be a variant's name, not a spec: give {_show(value)} a name in "
            '[named_variants] (e.g. curl = "cmd:...") and write that name here',
        )
    return value


def _allow_data_loss(c: _Checker, raw: object, names: Sequence[str]) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise c.fail("allow_data_loss", f"must be a list of variant names, got {_show(raw)}")
    out: list[str] = []
    for i, item in enumerate(items):
        where = f"allow_data_loss[{i}]"
        name = _name_in(c, where, item, names)
        if name in out:
            raise c.fail(where, f"{name!r} is listed twice")
        out.append(name)
    return tuple(out)


def _concurrencies(spec: str, concurrency: tuple[int, ...]) -> tuple[int, ...]:
    return (1,) if spec in SEQUENTIAL_SPECS else concurrency


def _settings(c: _Checker, raw: object) -> dict[str, Any]:
    allowed = sorted({*SETTINGS_FIELDS, *_SETTING_ALIASES})
    if not isinstance(raw, Mapping):
        raise c.fail("settings", f"must be a table, got {_show(raw)}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"settings.{_key(key)}"
        if key == "concurrency":
            raise c.fail(where, "set the top-level 'concurrency' (a matrix axis) instead")
        name = _SETTING_ALIASES.get(key, key)
        if name not in SETTINGS_FIELDS:
            raise c.fail(where, f"unknown key; allowed: {', '.join(allowed)}")
        if name in out:
            raise c.fail(where, f"given twice (as {name} too)")
        kind = SETTINGS_FIELDS[name]
        if kind == "int":
            out[name] = c.integer(value, where, 0, 2**63 - 1)
        elif kind == "size":
            out[name] = c.size(value, where, low=1)
        elif kind == "rate":  # bytes per second; "1MiB" or "1MiB/s"
            text = value[:-2] if isinstance(value, str) and value.endswith("/s") else value
            out[name] = float(c.size(text, where, low=1))
        elif kind == "duration":
            out[name] = float(c.convert(where, parse_duration, value))
        else:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise c.fail(where, f"must be a number, got {_show(value)}")
            out[name] = float(value)
    return dict(sorted(out.items()))


def _http_faults(c: _Checker, raw: object, providers: Sequence[str]) -> list[dict[str, Any]]:
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise c.fail("faults", f"must be a list of [[faults]] tables, got {_show(raw)}")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        where = f"faults[{i}]"
        if not isinstance(item, Mapping):
            raise c.fail(where, f"must be a table with a 'type', got {_show(item)}")
        _json_only(c, where, item)
        try:
            spec = validate_fault(item)
        except FaultValueError as exc:
            raise c.fail(f"{where}.{exc.field}" if exc.field else where, exc.problem) from None
        if spec.provider is not None and spec.provider not in providers:
            raise c.fail(
                f"{where}.target.provider",
                f"{spec.provider!r} is not a provider of this scenario ({', '.join(providers)})",
            )
        # the canonical form has every default filled in, so the hash does not depend on
        # whether a default was written out
        out.append(spec.to_dict())
    return out


def _json_only(c: _Checker, where: str, item: Mapping[str, Any]) -> None:
    try:
        # TOML allows dates, nan and inf; results.json and PUT /__mock/faults do not
        json.dumps(item, allow_nan=False)
    except (TypeError, ValueError):
        raise c.fail(where, "values must be text, numbers, booleans, lists or tables") from None


def _network_faults(c: _Checker, raw: object) -> list[dict[str, Any]]:
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise c.fail(
            "network_faults", f"must be a list of [[network_faults]] tables, got {_show(raw)}"
        )
    out = []
    for i, item in enumerate(raw):
        where = f"network_faults[{i}]"
        try:
            out.append(validate_network_fault(item))
        except FaultValueError as exc:
            raise c.fail(f"{where}.{exc.field}" if exc.field else where, exc.problem) from None
    return out


def _threshold(c: _Checker, where: str, text: object, variants: Sequence[str]) -> Threshold:
    if isinstance(text, str):
        for variant in variants:
            if not is_variant_name(variant) and variant in text:
                raise c.fail(
                    where,
                    f"a threshold names variants by name: give {_show(variant)} a name in "
                    "[named_variants] (e.g. curl = \"cmd:...\") and write 'curl.METRIC ...'",
                )
    threshold: Threshold = c.convert(where, lambda t: parse_threshold(t, variants), text)
    return threshold


def _warnings(
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
        if t.baseline is not None and specs[t.baseline] not in SEQUENTIAL_SPECS:
            # a sequential baseline at c=1 stands in at every concurrency; any other
            # baseline is compared at the concurrencies both variants run
            mine = _concurrencies(specs[t.variant], concurrency)
            theirs = _concurrencies(specs[t.baseline], concurrency)
            if not set(mine) & set(theirs):
                out.append(
                    f"{where}: {t.variant} runs at c={','.join(map(str, mine))} and "
                    f"{t.baseline} at c={','.join(map(str, theirs))}, never at the same "
                    "concurrency; this threshold can never be decided"
                )
    return out


def _canonical(value: Any) -> Any:
    # 2.0 and 2 are the same number to a scenario; JSON would spell them differently
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def definition_hash(definition: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON (sorted keys, no spaces, whole floats as ints)."""
    text = json.dumps(
        _canonical(definition), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def scenario_from_dict(
    data: Mapping[str, Any], source: str = "<scenario>", path: Path | None = None
) -> Scenario:
    """Validate a parsed scenario; ``source`` names it in error messages."""
    c = _Checker(source)
    top = c.table(data, "", _TOP_KEYS)
    if "name" not in top:
        raise c.fail("name", "required: text of 1..100 characters")
    name = c.text(top["name"], "name", 1, 100)
    description = c.text(top.get("description", ""), "description", 0, 2000)
    claim = top.get("claim")
    if claim is not None and claim not in CLAIM_KEYS:
        raise c.fail("claim", f"must be one of {', '.join(CLAIM_KEYS)}, got {_show(claim)}")
    if "files" not in top:
        raise c.fail("files", "required: a [files] table with count and sizes")
    files, files_def = _files(c, top["files"])
    providers, providers_def = _providers(c, top.get("providers", [{"kind": "supabase"}]))
    named = _named_variants(c, top.get("named_variants", {}))
    variants, variant_specs = _variants(c, top.get("variants", ["sync", "async"]), named)
    if "baseline" in top:
        baseline = _name_in(c, "baseline", top["baseline"], variants)
    else:
        baseline = "sync" if "sync" in variants else variants[0]
    allow_data_loss = _allow_data_loss(c, top.get("allow_data_loss", []), variants)
    raw_conc = top.get("concurrency", [4])
    conc_list = raw_conc if isinstance(raw_conc, list) else [raw_conc]
    if not conc_list:
        raise c.fail("concurrency", "must be an integer >= 1 or a non-empty list of them")
    concurrency = tuple(
        c.integer(
            v,
            f"concurrency[{i}]" if isinstance(raw_conc, list) else "concurrency",
            1,
            MAX_CONCURRENCY,
        )
        for i, v in enumerate(conc_list)
    )
    if len(set(concurrency)) != len(concurrency):
        raise c.fail("concurrency", f"lists a value twice: {list(concurrency)}")
    repeats = c.integer(top.get("repeats", 5), "repeats", 1, MAX_REPEATS)
    warmups = c.integer(top.get("warmups", 1), "warmups", 0, MAX_REPEATS)
    deadline_s = float(c.convert("deadline", parse_duration, top.get("deadline", "120s")))
    if not 0 < deadline_s <= MAX_DEADLINE_S:
        raise c.fail(
            "deadline", f"must be more than 0 and at most 24h, got {_show(top.get('deadline'))}"
        )
    profile = top.get("profile", True)
    if not isinstance(profile, bool):
        raise c.fail("profile", f"must be true or false, got {_show(profile)}")
    settings = _settings(c, top.get("settings", {}))
    kinds = [p.kind for p in providers]
    faults = _http_faults(c, top.get("faults", []), kinds)
    network_faults = _network_faults(c, top.get("network_faults", []))
    raw_thresholds = top.get("thresholds", [])
    if isinstance(raw_thresholds, str):
        raw_thresholds = [raw_thresholds]
    if not isinstance(raw_thresholds, list):
        raise c.fail("thresholds", f"must be a list of strings, got {_show(raw_thresholds)}")
    thresholds = tuple(
        _threshold(c, f"thresholds[{i}]", text, variants) for i, text in enumerate(raw_thresholds)
    )
    definition: dict[str, Any] = {
        "name": name,
        "description": description,
        "files": files_def,
        "providers": providers_def,
        "variants": list(variants),
        "baseline": baseline,
        "concurrency": list(concurrency),
        "repeats": repeats,
        "warmups": warmups,
        "deadline_s": deadline_s,
        "profile": profile,
        "settings": settings,
        "faults": faults,
        "network_faults": network_faults,
        "thresholds": [t.canonical for t in thresholds],
    }
    if claim is not None:
        # only when set: scenarios without a claim keep the hashes their history is under
        definition["claim"] = claim
    # Likewise only when they say something: a scenario whose every name is its own spec,
    # with no variant allowed to lose data, keeps the hash it had before these keys existed.
    if any(name != spec for name, spec in variant_specs.items()):
        definition["variant_specs"] = dict(variant_specs)
    if allow_data_loss:
        definition["allow_data_loss"] = list(allow_data_loss)
    # Round-trip through JSON so `definition` is exactly what results.json will hold.
    definition = json.loads(json.dumps(definition))
    return Scenario(
        name=name,
        description=description,
        hash=definition_hash(definition),
        definition=definition,
        path=path,
        files=files,
        providers=providers,
        variants=variants,
        baseline=baseline,
        concurrency=concurrency,
        repeats=repeats,
        warmups=warmups,
        deadline_s=deadline_s,
        profile=profile,
        settings=settings,
        faults=tuple(faults),
        network_faults=tuple(network_faults),
        thresholds=thresholds,
        claim=claim,
        variant_specs=variant_specs,
        allow_data_loss=allow_data_loss,
        warnings=tuple(
            f"{source}: {line}"
            for line in _warnings(named, variant_specs, thresholds, files, profile, concurrency)
        ),
    )


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate one TOML file; raises :class:`ScenarioError`."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(source, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, "", f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(source, "", "not valid TOML: nested too deeply") from None
    return scenario_from_dict(data, source=source, path=path)


def load_scenarios(paths: Iterable[Path | str]) -> list[Scenario]:
    """Load files and directories (every ``*.toml`` below a directory, sorted by path).
    Scenario names must be unique across the set: they key the results."""
    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(path.rglob("*.toml"), key=lambda p: p.relative_to(path).as_posix())
            if not found:
                raise ScenarioError(str(path), "", "no *.toml scenario files in this directory")
        elif path.exists():
            found = [path]
        else:
            raise ScenarioError(str(path), "", "no such file or directory")
        for file in found:
            scenario = load_scenario(file)
            if scenario.name in seen:
                raise ScenarioError(
                    str(file),
                    "name",
                    f"{scenario.name!r} is also the name of {seen[scenario.name]}",
                )
            seen[scenario.name] = str(file)
            scenarios.append(scenario)
    return scenarios
