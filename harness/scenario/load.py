"""Scenario files -> :class:`~harness.scenario.model.Scenario`: the top level, the normalised
definition and its hash, reading TOML files and folders."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.analysis.triggers import ROLLBACK_KEYS, RollbackRules
from harness.claims import CLAIM_KEYS  # the rows of the investigation's table
from harness.errors import ScenarioError
from harness.faults.network import network_capacity_warning
from harness.scenario.checker import TOP_KEYS, Checker, show
from harness.scenario.fault_tables import (
    load_http_faults,
    load_network_faults,
    load_network_profile,
)
from harness.scenario.files import load_files
from harness.scenario.model import ProviderSpec, Scenario
from harness.scenario.settings import load_settings
from harness.scenario.undecidable import undecidable_warnings
from harness.scenario.variants import (
    load_allow_data_loss,
    load_named_variants,
    load_threshold,
    load_variants,
    variant_name,
)
from harness.units import parse_duration
from uploader.api import PROVIDERS

TLS_CHOICES = ("1.2", "1.3", "off")  # the scenario's `tls` (harness.mockprovider.tls)

__all__ = [
    "CLAIM_KEYS",
    "definition_hash",
    "load_scenario",
    "load_scenarios",
    "scenario_from_dict",
]


# Bounds that catch typos and keep a scenario from running for days.
MAX_CONCURRENCY = 10_000
MAX_REPEATS = 10_000
# measured rounds per worker process: each is one upload_many of the whole file set
MAX_ROUNDS = 1_000
MAX_DEADLINE_S = 24 * 3600.0
_PROVIDER_KEYS = ("kind", "purpose", "bucket")
_DEFAULT_PURPOSE = "file-extract"
_DEFAULT_BUCKET = "uploads"


def _providers(c: Checker, raw: object) -> tuple[tuple[ProviderSpec, ...], list[dict[str, Any]]]:
    if isinstance(raw, Mapping):  # [providers] written as a single table
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise c.fail("providers", f"must be one or more [[providers]] tables, got {show(raw)}")
    specs: list[ProviderSpec] = []
    defs: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        where = f"providers[{i}]"
        table = c.table(item, where, _PROVIDER_KEYS)
        kind = table.get("kind")
        if kind not in PROVIDERS:
            raise c.fail(
                f"{where}.kind", f"must be one of {', '.join(PROVIDERS)}, got {show(kind)}"
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
    c = Checker(source)
    top = c.table(data, "", TOP_KEYS)
    if "name" not in top:
        raise c.fail("name", "required: text of 1..100 characters")
    name = c.text(top["name"], "name", 1, 100)
    description = c.text(top.get("description", ""), "description", 0, 2000)
    claim = top.get("claim")
    if claim is not None and claim not in CLAIM_KEYS:
        raise c.fail("claim", f"must be one of {', '.join(CLAIM_KEYS)}, got {show(claim)}")
    if "files" not in top:
        raise c.fail("files", "required: a [files] table with count and sizes")
    files, files_def = load_files(c, top["files"])
    providers, providers_def = _providers(c, top.get("providers", [{"kind": "supabase"}]))
    named = load_named_variants(c, top.get("named_variants", {}))
    variants, variant_specs = load_variants(c, top.get("variants", ["sync", "async"]), named)
    if "baseline" in top:
        baseline = variant_name(c, "baseline", top["baseline"], variants)
    else:
        baseline = "sync" if "sync" in variants else variants[0]
    allow_data_loss = load_allow_data_loss(c, top.get("allow_data_loss", []), variants)
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
    rounds = c.integer(top.get("rounds", 1), "rounds", 1, MAX_ROUNDS)
    deadline_s = float(c.convert("deadline", parse_duration, top.get("deadline", "120s")))
    if not 0 < deadline_s <= MAX_DEADLINE_S:
        raise c.fail(
            "deadline", f"must be more than 0 and at most 24h, got {show(top.get('deadline'))}"
        )
    profile = top.get("profile", True)
    if not isinstance(profile, bool):
        raise c.fail("profile", f"must be true or false, got {show(profile)}")
    settings = load_settings(c, top.get("settings", {}))
    kinds = [p.kind for p in providers]
    faults = load_http_faults(c, top.get("faults", []), kinds)
    network_faults = load_network_faults(c, top.get("network_faults", []))
    # a profile and network faults combine: the faults stack on the profile's link
    network = load_network_profile(c, top["network"]) if "network" in top else None
    tls = top.get("tls", "off")
    if tls not in TLS_CHOICES:
        raise c.fail("tls", f'must be one of "1.2", "1.3", "off", got {show(tls)}')
    raw_thresholds = top.get("thresholds", [])
    if isinstance(raw_thresholds, str):
        raw_thresholds = [raw_thresholds]
    if not isinstance(raw_thresholds, list):
        raise c.fail("thresholds", f"must be a list of strings, got {show(raw_thresholds)}")
    thresholds = tuple(
        load_threshold(c, f"thresholds[{i}]", text, variants)
        for i, text in enumerate(raw_thresholds)
    )
    rollback = RollbackRules.parse(
        c.table(top.get("rollback", {}), "rollback", ROLLBACK_KEYS), c.fail
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
    if rounds != 1:
        definition["rounds"] = rounds
    if network is not None:
        # only when set: a loopback scenario keeps its hash and history
        definition["network"] = network
    if tls != "off":
        # only over TLS: a plain-HTTP scenario keeps its hash and history
        definition["tls"] = tls
    if not rollback.is_default:
        # only when it changes a default: a scenario without one keeps its hash and history
        definition["rollback"] = rollback.to_definition()
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
        rounds=rounds,
        deadline_s=deadline_s,
        profile=profile,
        settings=settings,
        faults=tuple(faults),
        network_faults=tuple(network_faults),
        network=network,
        thresholds=thresholds,
        claim=claim,
        variant_specs=variant_specs,
        allow_data_loss=allow_data_loss,
        rollback=rollback,
        tls=tls,
        warnings=tuple(
            f"{source}: {line}"
            for line in [
                *undecidable_warnings(
                    named, variant_specs, thresholds, files, profile, concurrency
                ),
                # a link faster than the proxy measures the proxy, not the network
                *([] if network is None else filter(None, [network_capacity_warning(network)])),
            ]
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
