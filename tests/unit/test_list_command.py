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


def test_list_shows_every_network_preset_with_its_figures_and_the_tls_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness.commands.list import TLS_TEXT
    from harness.faults.network import NETWORK_KEYS, NETWORK_PRESETS
    from harness.scenario.load import TLS_CHOICES

    assert main(["list", str(SCENARIOS)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name, preset in NETWORK_PRESETS.items():
        (line,) = [x for x in lines if x.startswith(f"  {name}: RTT ")]
        assert f"RTT {preset.rtt_ms:g} ms" in line
        assert f"jitter {preset.jitter_ms:g} ms" in line
        assert ("up no limit" in line) == (preset.up_bytes_per_s is None)
        assert ("down no limit" in line) == (preset.down_bytes_per_s is None)
    assert "  lte: RTT 70 ms, up 5 Mbit/s, down 12 Mbit/s, jitter 10 ms" in lines
    assert "  slow-4g: RTT 150 ms, up 750 kbit/s, down 1.6 Mbit/s, jitter 0 ms" in lines
    for key in NETWORK_KEYS:
        assert f"      {key}: " in out
    # every choice the scenario loader accepts is listed, and nothing else
    assert set(TLS_TEXT) == set(TLS_CHOICES)
    for choice in TLS_CHOICES:
        assert f'  "{choice}": {TLS_TEXT[choice]}' in lines
