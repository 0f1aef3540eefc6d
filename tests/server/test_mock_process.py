"""The mock as its own process: readiness line, clean stop, refusals, flat memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import xxhash

MiB = 1024 * 1024


@contextmanager
def mock_process(
    *args: str, entry: tuple[str, ...] = ("harness.mockprovider",)
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``python -m harness.mockprovider`` (or ``entry``); yield it with its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *entry, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # printed only once the socket accepts
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def test_prints_url_when_ready_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"seed": 5, "faults": [{"type": "latency", "ms": 1}]}))
    with mock_process("--faults", str(faults), "--keys", "k1,k2") as (proc, url):
        assert httpx.get(url + "/__mock/health").json() == {"status": "ok"}
        installed = httpx.get(url + "/__mock/faults").json()
        assert installed["seed"] == 5
        assert installed["faults"] == [
            {"type": "latency", "probability": 1.0, "ms": 1.0, "jitter_ms": 0.0}
        ]
        assert (
            httpx.get(url + "/kimi/v1/files", headers={"Authorization": "Bearer k2"}).status_code
            == 200
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.read() == ""  # the URL is the only stdout line
        assert "Traceback" not in proc.stderr.read()


def test_uploadbench_mock_command_and_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "mock", "--port", "0", "--toml-faults-never"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2  # argparse usage error, one line, no traceback
    assert "Traceback" not in err
    with mock_process("--hash", "sha256", entry=("harness", "mock")) as (proc2, url):
        assert httpx.get(url + "/__mock/health").status_code == 200
        proc2.send_signal(signal.SIGINT)
        assert proc2.wait(timeout=20) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "not a loopback address"),
        (["--faults", "missing.json"], "missing.json: cannot read"),
    ],
)
def test_refusals_are_one_line_errors(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.mockprovider", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_faults_file_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "faults.toml"
    bad.write_text('[[faults]]\ntype = "http_error"\nstatus = 200\n')
    proc = subprocess.run(
        [sys.executable, "-m", "harness.mockprovider", "--faults", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "faults[0].status: must be an integer 400..599, got 200" in proc.stderr


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_memory_stays_flat_while_receiving_1_gib() -> None:
    total = 1024 * MiB
    block = os.urandom(MiB)  # one block sent 1024 times: nothing big on either side
    with mock_process("--max-bytes", "2G") as (proc, url):
        target = url + "/supabase/storage/v1/object/uploads/"
        headers = {"Authorization": "Bearer sk-test", "Content-Type": "application/octet-stream"}
        with httpx.Client(timeout=120) as client:
            # warm up buffers and code paths so the baseline is the steady state
            warm = client.post(target + "warm.bin", headers=headers, content=block * 8)
            assert warm.status_code == 200
            baseline = _rss_kib(proc.pid, "VmRSS")
            hasher = xxhash.xxh3_128()

            def body() -> Iterator[bytes]:
                for _ in range(total // MiB):
                    hasher.update(block)
                    yield block

            resp = client.post(
                target + "big.bin",
                headers={**headers, "Content-Length": str(total)},
                content=body(),
            )
            assert resp.status_code == 200, resp.text
            peak = _rss_kib(proc.pid, "VmHWM")
            record = client.get(url + "/__mock/stats").json()["requests"][-1]
    assert record["bytes"] == total
    assert record["content_hash"] == hasher.hexdigest()
    growth_mib = (peak - baseline) / 1024
    print(f"mock RSS: baseline {baseline // 1024} MiB, peak {peak // 1024} MiB")
    assert growth_mib < 64, f"mock RSS grew {growth_mib:.1f} MiB while receiving 1 GiB"
