"""TLS in the socket-free parts: the scenario's ``tls`` field, ``{cafile}`` in command
templates, ``Target.ca_file`` through the worker, handshakes in the trial's mock block."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.checks import count_handshakes, mock_summary
from harness.errors import ScenarioError
from harness.scenario import scenario_from_dict
from harness.worker import CA_ENV, TrialSpec, prepare
from uploader import LocalFile, Target
from uploader.command import PLACEHOLDERS, render_command


def minimal(**extra: Any) -> dict[str, Any]:
    return {"name": "t", "files": {"count": 1, "sizes": ["1KiB"]}, **extra}


def test_tls_is_off_by_default_and_keeps_the_hash() -> None:
    plain = scenario_from_dict(minimal())
    assert plain.tls == "off"
    assert "tls" not in plain.definition
    assert scenario_from_dict(minimal(tls="off")).hash == plain.hash


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_tls_versions_enter_the_definition(version: str) -> None:
    s = scenario_from_dict(minimal(tls=version))
    assert (s.tls, s.definition["tls"]) == (version, version)
    assert s.hash != scenario_from_dict(minimal()).hash


@pytest.mark.parametrize("bad", ["1.1", "on", 1.3, True])
def test_other_tls_values_are_refused(bad: object) -> None:
    with pytest.raises(ScenarioError, match=r'tls.*"1.2", "1.3", "off"'):
        scenario_from_dict(minimal(tls=bad))


def _file() -> LocalFile:
    return LocalFile(Path("/data/a.bin"), 3, "h")


def test_cafile_placeholder_renders_the_ca_or_nothing() -> None:
    assert "cafile" in PLACEHOLDERS
    template = "curl -sf --cacert {cafile} -T {path} {url}"
    tls = Target("kimi", "https://127.0.0.1:1/kimi/v1", "k", ca_file="/run/ca.pem")
    plain = Target("kimi", "http://127.0.0.1:1/kimi/v1", "k")
    assert render_command(template, _file(), tls)[2:4] == ["--cacert", "/run/ca.pem"]
    # empty without TLS: curl reads no CA file for an http:// URL
    assert render_command(template, _file(), plain)[2:4] == ["--cacert", ""]


def test_target_repr_shows_the_ca_file_never_the_key() -> None:
    text = repr(Target("glm", "https://x", "secret-key", ca_file="/ca.pem"))
    assert "/ca.pem" in text
    assert "secret-key" not in text


def test_worker_puts_the_ca_on_target_and_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in CA_ENV:
        monkeypatch.delenv(name, raising=False)
    spec = TrialSpec(
        trial_id="t",
        scenario="s",
        provider="kimi",
        variant="async",
        concurrency=1,
        base_url="https://127.0.0.1:1/kimi/v1",
        api_key="k",
        files=(_file(),),
        ca_file="/run/ca.pem",
    )
    assert TrialSpec.from_mapping(json.loads(spec.to_json())).ca_file == "/run/ca.pem"
    prepared = prepare(spec)
    assert prepared.target.ca_file == "/run/ca.pem"
    assert {name: os.environ[name] for name in CA_ENV} == {
        "SSL_CERT_FILE": "/run/ca.pem",
        "REQUESTS_CA_BUNDLE": "/run/ca.pem",
    }


def test_mock_summary_carries_handshakes_beside_connections() -> None:
    stats = {"totals": {"provider_connections": 2, "provider_handshakes": 2, "tls_handshakes": 3}}
    assert count_handshakes(stats) == 2
    summary = mock_summary(stats)
    assert (summary["provider_connections"], summary["tls_handshakes"]) == (2, 2)
    assert count_handshakes({"totals": {}}) == 0  # plain HTTP or an older mock
