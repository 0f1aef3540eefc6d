"""ResultsStore.reopen (``run --resume``) and a results folder that cannot be written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import ResultsError
from harness.results import ResultsStore, load_results


def trial(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "variant": "sync",
        "concurrency": 1,
        "repeat": 0,
        "profiled": False,
        "status": "ok",
        "metrics": {},
    }


def unfinished(tmp_path: Path) -> ResultsStore:
    store = ResultsStore(tmp_path, "20261128T120000Z-abcdef", started_at="x", environment={})
    store.add_scenario("s", "h1", {}, "sync")
    store.add_trial("s", trial("a"))
    return store


def test_reopen_keeps_the_trials_and_adds_the_rest(tmp_path: Path) -> None:
    first = unfinished(tmp_path)
    store = ResultsStore.reopen(first.path)
    assert store.run_id == first.run_id
    assert store.scenario_hash("s") == "h1"
    assert store.scenario_hash("other") is None
    assert store.trial_keys("s") == {"a"}
    store.add_scenario("s", "h1", {}, "sync")  # declared again by the resumed run: no-op
    store.add_trial("s", trial("b"))
    store.finish("y")
    doc = load_results(first.path)
    assert doc["complete"] is True
    assert [t["key"] for t in doc["scenarios"][0]["trials"]] == ["a", "b"]


def test_reopen_refuses_a_complete_run_and_a_corrupt_file(tmp_path: Path) -> None:
    store = unfinished(tmp_path)
    store.finish("y")
    with pytest.raises(ResultsError, match="nothing to resume"):
        ResultsStore.reopen(store.path)
    store.path.write_text("{not json")
    with pytest.raises(ResultsError, match=str(store.path)):
        ResultsStore.reopen(store.path)


def test_an_unwritable_folder_is_a_results_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ResultsError, match="cannot write") as err:
        ResultsStore(blocker / "reports", "r1", started_at="x", environment={})
    assert str(blocker) in str(err.value)
