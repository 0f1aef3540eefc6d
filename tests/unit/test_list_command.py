"""``uploadbench list``: scenarios, variants, both fault catalogs and every metric of the one
metric table, on stdout."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.faults import FAULT_TYPES, NETWORK_FAULT_TYPES, RENAMED
from harness.metrics import METRIC_TABLE

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_list_prints_catalogs_and_metrics_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", str(SCENARIOS)]) == 0
    out, err = capsys.readouterr()
    assert "limits  (" in out
    for kind, params in (*FAULT_TYPES.items(), *NETWORK_FAULT_TYPES.items()):
        assert f"  {kind}" in out
        for name in params:
            assert f"      {name}: " in out
    for metric in METRIC_TABLE:
        assert f"  {metric.name}" in out
        assert metric.definition in out
    for old, new in RENAMED.items():
        assert f"{old} -> {new}" in out
    assert "[named_variants]" in out
    assert "Traceback" not in err


def test_list_counts_an_invalid_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "old.toml").write_text(
        'name = "old"\n[files]\ncount = 1\nsizes = [1]\n'
        '[[network_faults]]\ntype = "latency"\nlatency_ms = 5\n',
        encoding="utf-8",
    )
    assert main(["list", str(tmp_path)]) == 2  # bad input
    out = capsys.readouterr().out
    assert "INVALID" in out
    assert "network_faults[0].latency_ms: renamed to ms" in out
