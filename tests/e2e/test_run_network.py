"""A scenario with a network profile runs its uploads through the fault proxy."""

from __future__ import annotations

import json
from pathlib import Path

from harness.results import load_results
from tests.factories.runs import run_alone, trials_of

SCENARIO = """\
name = "networked"
variants = ["async"]
baseline = "async"
concurrency = 2
repeats = 1
warmups = 0
deadline = "60s"
profile = false
# faster than the proxy carries: the run must say so
network = { rtt = "4ms", up = "10Gbit/s", down = "100Mbit/s", jitter = "1ms" }

[files]
count = 2
sizes = ["64KiB"]
seed = 3

[[providers]]
kind = "kimi"
"""


def test_a_network_profile_routes_uploads_through_the_proxy(tmp_path: Path) -> None:
    scenario = tmp_path / "networked.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "reports"
    done = run_alone(scenario, out, tmp_path / "c")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "uploadbench: warning: networked: network asks for up 10000 Mbit/s" in done.stderr
    doc = load_results("latest", reports_dir=out)
    definition = doc["scenarios"][0]["definition"]
    assert definition["network"]["name"] == "custom"
    assert definition["network"]["rtt_ms"] == 4
    (trial,) = trials_of(doc)
    assert trial["status"] == "ok"
    assert trial["metrics"]["success_rate"] == 1.0
    assert trial["metrics"]["integrity_errors"] == 0
    proxy_log = (out / "latest" / "logs" / "faultproxy.log").read_text()
    stats = json.loads(proxy_log.strip().splitlines()[-1])
    assert stats["network"] == "custom"
    assert stats["connections"] >= 1
    assert stats["bytes_up"] >= 2 * 64 * 1024
