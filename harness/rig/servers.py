"""The servers of a run: the mock provider, a scenario's fault proxy, and the control
client that resets the mock, installs faults and reads its per-trial stats.

The mock gets a fresh random API key per run, in its environment (any local user can read
a command line), and watches its parent so a harness killed by SIGKILL does not leave it
behind. With ``tls`` ("1.2" or "1.3") the mock serves HTTPS with a CA made for this start;
its certificate (PEM) is ``ca_file`` in the run's folder, which the control client, the
workers and the uploaders trust.
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from harness.errors import HarnessError
from harness.rig.process import ServerProcess, one_line

__all__ = ["CONTROL_TIMEOUT_S", "SERVER_START_TIMEOUT_S", "MockRig", "start_proxy"]

# Python start-up, imports and readiness of a helper server on a loaded 2-core box.
SERVER_START_TIMEOUT_S = 30.0
CONTROL_TIMEOUT_S = 30.0


class MockRig:
    """The run's mock provider in its own process, and the client that controls it."""

    def __init__(
        self,
        *,
        python: str,
        seed: int,
        hash_algo: str | None,
        log_dir: Path,
        tls: str = "off",
        ca_file: Path | None = None,
    ) -> None:
        self.key = secrets.token_hex(24)  # per run, never written anywhere
        self.tls = tls
        argv = [python, "-m", "harness.mockprovider", "--port", "0", "--seed", str(seed)]
        # the CA is made by the mock at its start and written before it prints its URL
        self.ca_file: Path | None = None
        if tls != "off":
            self.ca_file = ca_file or log_dir.parent / "mock-ca.pem"
            argv += ["--tls", tls, "--ca-file", str(self.ca_file)]
        # a harness killed by SIGKILL cannot stop its mock: the mock watches for that itself
        argv.append("--exit-with-parent")
        if hash_algo is not None:
            argv += ["--hash", hash_algo]
        env = {**os.environ, "UPLOADBENCH_MOCK_KEYS": self.key}
        self.mock = ServerProcess(
            argv,
            "mock provider",
            log_dir / "mock.log",
            timeout_s=SERVER_START_TIMEOUT_S,
            env=env,
        )
        try:
            verify: ssl.SSLContext | bool = True
            if self.ca_file is not None:
                verify = ssl.create_default_context(cafile=str(self.ca_file))
        except BaseException:
            self.mock.stop()
            raise
        self.client = httpx.Client(timeout=CONTROL_TIMEOUT_S, trust_env=False, verify=verify)

    @property
    def url(self) -> str:
        """The mock's root URL (providers below it, :mod:`harness.rig.layout`)."""
        return self.mock.url

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call a ``/__mock/`` route; :class:`HarnessError` if the mock is gone or refuses."""
        self.mock.check_alive()
        try:
            response = self.client.request(method, self.mock.url + path, json=body)
        except httpx.HTTPError as exc:
            self.mock.check_alive()
            raise HarnessError(f"mock provider control {method} {path} failed: {exc}") from None
        if response.status_code >= 400:
            raise HarnessError(
                f"mock provider refused {method} {path}: {response.status_code} "
                f"{one_line(response.text)}"
            )
        return response.json() if response.content else None

    def prepare_trial(self, fault_seed: int, faults: Sequence[Mapping[str, Any]]) -> None:
        """Forget the last trial's files and stats and install this trial's HTTP faults."""
        self.control("POST", "/__mock/reset")
        self.control("PUT", "/__mock/faults", {"seed": fault_seed, "faults": list(faults)})

    def stats(self) -> dict[str, Any]:
        """What the mock saw since the last reset (``totals`` and per-request records)."""
        stats = self.control("GET", "/__mock/stats")
        if not isinstance(stats, dict):
            raise HarnessError("mock provider stats are not a JSON object")
        return stats

    def stop(self) -> None:
        self.client.close()
        self.mock.stop()


def start_proxy(
    network_faults: Sequence[Mapping[str, Any]],
    mock_url: str,
    *,
    python: str,
    seed: int,
    log_dir: Path,
    network: Mapping[str, Any] | None = None,
) -> ServerProcess:
    """A fault proxy in front of the mock, applying a scenario's network faults and its
    network profile (``network``, normalised), if any."""
    argv = [
        python,
        "-m",
        "harness.faultproxy",
        "--upstream",
        # a TCP proxy: over TLS it carries the encrypted bytes, handshakes included
        mock_url.removeprefix("http://").removeprefix("https://"),
        "--faults",
        json.dumps(list(network_faults)),
        "--seed",
        str(seed),
    ]
    if network is not None:
        argv += ["--network", json.dumps(dict(network))]
    return ServerProcess(
        argv, "fault proxy", log_dir / "faultproxy.log", timeout_s=SERVER_START_TIMEOUT_S
    )
