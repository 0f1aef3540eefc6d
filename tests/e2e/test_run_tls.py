"""``uploadbench run`` over TLS: a scenario with ``tls = "1.3"`` runs every kind of variant
(the sync baseline, the naive and the reference async uploaders, curl through ``{cafile}``)
against the TLS mock; the trial's ``mock`` block counts the handshakes beside connections."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.results import load_results
from tests.factories.runs import REPORTS_FLAG, trials_of, uploadbench

CURL = (
    'cmd:curl -sS -f -o /dev/null -X POST -T {path} -H \\"Expect:\\" -H \\"apikey: {key}\\" '
    '-H \\"Authorization: Bearer {key}\\" -H \\"Content-Type: application/octet-stream\\" '
    '-H \\"x-upsert: true\\" --cacert {cafile} {url}'
)

SCENARIO = """
name = "tls-e2e"
variants = ["sync", "naive-async", "async", "curl"]
baseline = "sync"
concurrency = 2
repeats = 1
warmups = 0
deadline = "60s"
profile = false
tls = "1.3"

[named_variants]
curl = "{curl}"

[files]
count = 3
sizes = ["64KiB"]
seed = 5

[[providers]]
kind = "supabase"
"""


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_a_tls_scenario_runs_every_variant(tmp_path: Path) -> None:
    path = tmp_path / "tls.toml"
    path.write_text(SCENARIO.replace("{curl}", CURL))
    out = tmp_path / "reports"
    done = uploadbench(
        "run",
        path,
        REPORTS_FLAG,
        out,
        "--against",
        "none",
        "--cache-dir",
        tmp_path / "cache",
        "--no-report",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = load_results("latest", reports_dir=out)
    assert doc["scenarios"][0]["definition"]["tls"] == "1.3"
    trials = trials_of(doc)
    assert {t["variant"] for t in trials} == {"sync", "naive-async", "async", "curl"}
    for trial in trials:
        assert trial["status"] == "ok", trial["error"]
        assert trial["metrics"]["success_rate"] == 1.0, trial["records"]
        mock = trial["mock"]
        # every connection the uploader opened over TLS began with a handshake
        assert mock["tls_handshakes"] == mock["provider_connections"] >= 1, trial["key"]
    # the per-run CA sits in the run's folder
    run_dir = out / doc["run_id"]
    assert (run_dir / "mock-ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_scenarios_of_different_tls_get_a_mock_each(tmp_path: Path) -> None:
    paths = []
    for name, tls in (("over-tls12", 'tls = "1.2"'), ("plain", "")):
        text = SCENARIO.replace('name = "tls-e2e"', f'name = "{name}"')
        text = text.replace(
            'variants = ["sync", "naive-async", "async", "curl"]', 'variants = ["async"]'
        )
        text = text.replace('baseline = "sync"\n', "").replace('tls = "1.3"', tls)
        text = text.replace('[named_variants]\ncurl = "{curl}"\n', "")
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        paths.append(path)
    out = tmp_path / "reports"
    done = uploadbench(
        "run",
        *paths,
        REPORTS_FLAG,
        out,
        "--against",
        "none",
        "--cache-dir",
        tmp_path / "c",
        "--no-report",
        "--order",
        "fixed",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = load_results("latest", reports_dir=out)
    by_scenario = {s["name"]: s["trials"] for s in doc["scenarios"]}
    assert [t["mock"]["tls_handshakes"] >= 1 for t in by_scenario["over-tls12"]] == [True]
    assert [t["mock"]["tls_handshakes"] for t in by_scenario["plain"]] == [0]
    assert all(t["metrics"]["success_rate"] == 1.0 for ts in by_scenario.values() for t in ts)
