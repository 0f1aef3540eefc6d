"""The rollback triggers end to end: nights of one scenario into one reports folder, real
mock and workers. Night 1 is clean and builds history; a later night whose uploads raise an
exception type never seen before exits 1 and names it. The plugin
(``tests.factories.uploaders:RaisingUploader``) reads what to raise from the environment,
so every night runs the same scenario (same hash: comparable history)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.history import history_root, load_history
from tests.factories.runs import tiny, uploadbench
from tests.factories.uploaders import RAISE_ENV, RAISE_MODE_ENV

PLUGIN = "tests.factories.uploaders:RaisingUploader"
NAMED = f'\n[named_variants]\nmine = "{PLUGIN}"\n'


def _nights(tmp_path: Path) -> tuple[Path, tuple[str | Path, ...]]:
    scenario = tiny(tmp_path, "triggers", ["mine"], repeats=2, extra=NAMED)
    common = ("--reports", tmp_path / "reports", "--cache-dir", tmp_path / "cache", "--no-report")
    return scenario, common


def test_a_night_raising_a_new_exception_type_exits_1_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario, common = _nights(tmp_path)
    monkeypatch.delenv(RAISE_ENV, raising=False)
    first = uploadbench("run", scenario, *common, "--against", "none")
    assert first.returncode == 0, first.stdout + first.stderr

    monkeypatch.setenv(RAISE_ENV, "ValueError")
    second = uploadbench("run", scenario, *common, "--json")

    assert second.returncode == 1, second.stdout + second.stderr
    comparison = json.loads(second.stdout)["comparison"]
    [fired] = [
        c for c in comparison["checks"]
        if c["kind"] == "trigger" and c["metric"] == "error_kind" and c["verdict"] == "fail"
    ]  # fmt: skip
    assert fired["gating"]
    assert (fired["provider"], fired["variant"], fired["concurrency"]) == ("kimi", "mine", 2)
    assert "connection_error: ValueError" in fired["reason"]
    # the console says it in one line, naming the cell and the exception type
    text = uploadbench("compare", tmp_path / "reports" / "latest")
    assert text.returncode == 1
    [line] = [ln for ln in text.stdout.splitlines() if "new error kind" in ln]
    assert line.startswith("  fail: triggers / kimi / mine / c=2: new error kind")
    assert "connection_error: ValueError" in line
    # and history now knows the kind, so the next night can tell it from a new one
    kinds = [e.error_kinds for e in load_history(history_root(tmp_path / "reports")).entries]
    assert kinds[0] == {("kimi", "mine", 2): {}}
    assert kinds[1] == {("kimi", "mine", 2): {"connection_error: ValueError": 4}}

    # an exception out of upload_many is a harness error (exit 2 wins), its type still named
    monkeypatch.setenv(RAISE_ENV, "RuntimeError")
    monkeypatch.setenv(RAISE_MODE_ENV, "upload_many")
    third = uploadbench("run", scenario, *common)
    assert third.returncode == 2, third.stdout + third.stderr
    assert "new error kind harness_error: RuntimeError" in third.stdout
