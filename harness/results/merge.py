"""Joining the shards of one run (``uploadbench run --shard K/N`` on N machines) into one
results document."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, cast

from harness.errors import ResultsError
from harness.results.contract import SCHEMA_VERSION, ResultsDoc, ScenarioDoc
from harness.results.load import check_document

__all__ = ["merge_results"]


def merge_results(
    docs: Sequence[Mapping[str, Any]],
    *,
    run_id: str | None = None,
    allow_mixed_environments: bool = False,
) -> ResultsDoc:
    """Join shards of one run into one document.

    Refuses scenarios of the same name with different hashes, the same trial twice, and,
    unless ``allow_mixed_environments``, shards whose environment fingerprints differ (their
    timings would not be comparable). Trials keep the plan's order (``index``). The result
    is ``complete`` only if every shard 1..N is present and complete; ``shard`` is null and
    ``merged_from`` lists the inputs."""
    if not docs:
        raise ResultsError("nothing to merge")
    for doc in docs:
        check_document(doc, f"run {doc.get('run_id', '?')}")
    fingerprints = {doc["environment"].get("fingerprint") for doc in docs}
    if len(fingerprints) > 1 and not allow_mixed_environments:
        raise ResultsError(
            "shards ran in different environments (fingerprints "
            f"{', '.join(sorted(str(f) for f in fingerprints))}); their timings are not comparable"
        )
    shard_ns = {doc["shard"]["n"] for doc in docs if doc.get("shard")}
    if len(shard_ns) > 1:
        raise ResultsError(f"shards split the run differently (N = {sorted(shard_ns)})")
    ids = {doc["run_id"] for doc in docs}
    merged_id = run_id or (ids.pop() if len(ids) == 1 else min(ids))

    scenarios: dict[str, ScenarioDoc] = {}
    seen_keys: dict[str, str] = {}
    for doc in docs:
        for scenario in doc["scenarios"]:
            name = scenario["name"]
            target = scenarios.get(name)
            if target is None:
                fields = {k: copy.deepcopy(v) for k, v in scenario.items() if k != "trials"}
                target = cast(ScenarioDoc, {**fields, "trials": []})
                scenarios[name] = target
            elif target["hash"] != scenario["hash"]:
                raise ResultsError(
                    f"scenario {name!r} differs between shards (hash {target['hash']} in one, "
                    f"{scenario['hash']} in {doc['run_id']}); re-run them from the same file"
                )
            for trial in scenario["trials"]:
                owner = seen_keys.get(trial["key"])
                if owner is not None:
                    raise ResultsError(
                        f"trial {trial['key']!r} is in both {owner} and {doc['run_id']}"
                    )
                seen_keys[trial["key"]] = doc["run_id"]
                target["trials"].append(copy.deepcopy(trial))
    for target in scenarios.values():
        target["trials"].sort(key=lambda t: (t.get("index", 0), t["key"]))

    shards_seen = {doc["shard"]["k"] for doc in docs if doc.get("shard")}
    all_shards = bool(shard_ns) and shards_seen == set(range(1, next(iter(shard_ns)) + 1))
    unsharded = any(doc.get("shard") is None for doc in docs)
    first = docs[0]
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": merged_id,
        "started_at": min(doc["started_at"] for doc in docs),
        "finished_at": max((doc.get("finished_at") or "" for doc in docs), default="") or None,
        "complete": (all_shards or unsharded) and all(doc.get("complete") for doc in docs),
        "shard": None,
        # each shard's own span: the run's time is their sum (sample efficiency)
        "merged_from": [
            {
                "run_id": doc["run_id"],
                "shard": doc.get("shard"),
                "started_at": doc["started_at"],
                "finished_at": doc.get("finished_at"),
            }
            for doc in docs
        ],
        "environment": copy.deepcopy(first["environment"]),
        "scenarios": list(scenarios.values()),
    }
