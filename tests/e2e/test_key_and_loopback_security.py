"""Security: the run's API key is written nowhere, ``cmd:`` variants run without a shell,
the mock binds loopback only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from harness.errors import HarnessError
from harness.mockprovider import MockConfig, MockServer
from tests.factories.runs import REPORTS_FLAG
from uploader import LocalFile, Settings, Target
from uploader.command import CommandUploader

ROOT = Path(__file__).resolve().parents[2]
SPY = "tests.factories.uploaders"
KEY_SINK_ENV = "UPLOADBENCH_TEST_KEY_SINK"  # tests.factories.uploaders.KEY_SINK_ENV

SCENARIO = """
name = "keyscan <i>ks</i>"
description = {description}
variants = {variants}
baseline = "async"
concurrency = 2
repeats = 1
warmups = 0
deadline = "60s"
profile = false

[files]
count = 2
sizes = ["16KiB"]
seed = 5

[[providers]]
kind = "kimi"
"""


# Markup a scenario author (or a variant's command line) might smuggle into the report.
HOSTILE_TEXT = "<script>alert('desc')</script><img src=x onerror=alert(1)>"


def _run(
    tmp_path: Path, variants: list[str], *extra: str
) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    scenario = tmp_path / "keyscan.toml"
    scenario.write_text(
        SCENARIO.format(variants=json.dumps(variants), description=json.dumps(HOSTILE_TEXT))
    )
    out = tmp_path / "reports"
    sink = tmp_path / "keys.txt"
    env = {**_clean_env(), KEY_SINK_ENV: str(sink)}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(scenario), REPORTS_FLAG, str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        timeout=180,
        check=False,
        env=env,
    )
    return done, out


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != KEY_SINK_ENV}


def _keys_seen(tmp_path: Path) -> set[str]:
    sink = tmp_path / "keys.txt"
    return set(sink.read_text().split()) if sink.exists() else set()


def _files_holding(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path.relative_to(root)}" for n in needles if n in data]
    return hits


def _needles(key: str) -> list[bytes]:
    # the whole key, and its first half (a truncated message still leaks half a secret)
    return [key.encode(), key[: len(key) // 2].encode()]


def test_the_api_key_is_in_no_output_of_a_real_run(tmp_path: Path) -> None:
    variants = [
        "async",
        f"{SPY}:KeySpy",
        # the key in a command's argv, and a command that prints it before failing
        'cmd:curl -sS -f -H "Authorization: Bearer {key}" -F purpose=file-extract '
        "-F file=@{path} {url}",
        'cmd:sh -c "echo key $0 >&2; exit 3 # <script>alert(2)</script>" {key}',
    ]
    done, out = _run(tmp_path, variants, "--json", "--cache-dir", str(tmp_path / "cache"))
    keys = _keys_seen(tmp_path)
    assert len(keys) == 1, (keys, done.stderr[-2000:])
    key = keys.pop()
    assert len(key) >= 32  # a real secret, not a placeholder
    written = [p for p in out.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"results.json", "index.html"} <= names, (names, done.stderr[-2000:])
    assert any("history" in p.parts for p in written), names
    assert any("logs" in p.parts for p in written), names
    for needle in _needles(key):
        assert needle not in done.stdout, "key on stdout"
        assert needle not in done.stderr, "key on stderr"
    assert _files_holding(out, _needles(key)) == []
    assert _files_holding(tmp_path / "cache", _needles(key)) == []
    # the hostile description and command line are text on the page, never markup
    page = next(p for p in written if p.name == "index.html").read_text()
    assert "alert(" in page  # they are shown ...
    for markup in ("<script>alert", "<img src=x", "<i>ks</i>"):
        assert markup not in page  # ... escaped


def test_a_careless_uploader_cannot_leak_the_key_into_results_or_logs(tmp_path: Path) -> None:
    variants = ["async", f"{SPY}:KeySpy", f"{SPY}:KeyLeaker"]
    done, out = _run(tmp_path, variants, "--no-report", "--cache-dir", str(tmp_path / "cache"))
    keys = _keys_seen(tmp_path)
    assert len(keys) == 1, (keys, done.stderr[-2000:])
    key = keys.pop()
    doc = json.loads(next(out.rglob("results.json")).read_text())
    leaker = [t for s in doc["scenarios"] for t in s["trials"] if t["variant"].endswith("Leaker")]
    assert leaker[0]["status"] == "harness_error"
    for needle in _needles(key):
        assert needle not in done.stdout
        assert needle not in done.stderr
    assert _files_holding(out, _needles(key)) == []


# -- cmd: variants run without a shell ---------------------------------------------------
HOSTILE_NAMES = [
    "with space.bin",
    "semi;touch MARKER;.bin",
    'dq"uote.bin',
    "sq'uote.bin",
    "sub$(touch MARKER).bin",
    "tick`touch MARKER`.bin",
    "pipe|touch MARKER.bin",
    "amp&&touch MARKER.bin",
    "glob*?[x].bin",
    "-rf.bin",
    "nl\ntouch MARKER.bin",
    "dollar$HOME.bin",
]

ARGV_LOGGER = "import json, sys; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + chr(10))"


def _hostile_files(folder: Path) -> list[LocalFile]:
    folder.mkdir()
    files = []
    for i, name in enumerate(HOSTILE_NAMES):
        path = folder / name
        path.write_bytes(bytes([i]) * (100 + i))
        files.append(LocalFile(path=path, size=100 + i, content_hash=""))
    return files


@pytest.mark.parametrize(
    "template",
    [
        # each placeholder as a whole argument
        "{python} -c {script} {log} {path} {name} {url}",
        # placeholders inside quoted arguments with text around them
        '{python} -c {script} {log} "--file={path}" "name is {name}"',
    ],
)
async def test_hostile_file_names_cannot_inject_a_command(
    tmp_path: Path, mock_server: MockServer, template: str
) -> None:
    files = _hostile_files(tmp_path / "files")
    log = tmp_path / "argv.log"
    rendered = (
        template.replace("{python}", sys.executable)
        .replace("{script}", json.dumps(ARGV_LOGGER))
        .replace("{log}", str(log))
    )
    uploader = CommandUploader(rendered)
    target = Target(provider="supabase", base_url=mock_server.url + "/supabase", key="sk-test")
    outcomes = await uploader.upload_many(files, target, Settings(concurrency=4))
    assert [o.outcome for o in outcomes] == ["ok"] * len(files), [o.error for o in outcomes]
    # nothing ran but the program named: no marker file anywhere the names point at
    assert not list(tmp_path.rglob("MARKER*"))
    assert not list(Path.cwd().glob("MARKER*"))
    # every name reached the program as one argument, byte for byte
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    if "--file=" in template:
        got = sorted(args[0] for args in seen)
        assert got == sorted(f"--file={f.path}" for f in files)
        assert sorted(args[1] for args in seen) == sorted(f"name is {f.name}" for f in files)
    else:
        assert sorted(args[0] for args in seen) == sorted(str(f.path) for f in files)
        assert sorted(args[1] for args in seen) == sorted(f.name for f in files)


async def test_hostile_file_names_upload_through_curl_as_data(
    tmp_path: Path, mock_server: MockServer
) -> None:
    """The same names through curl to the mock: stored under their own names, no marker."""
    files = _hostile_files(tmp_path / "files")
    uploader = CommandUploader(
        'curl -sS -f -X POST -H "Authorization: Bearer {key}" '
        '-H "Content-Type: application/octet-stream" --data-binary @{path} {url}'
    )
    target = Target(provider="supabase", base_url=mock_server.url + "/supabase", key="sk-test")
    outcomes = await uploader.upload_many(files, target, Settings(concurrency=4))
    assert not list(tmp_path.rglob("MARKER*"))
    by_name = {o.name: o for o in outcomes}
    stored = {name for _, name in mock_server.state.objects}
    for f in files:
        if by_name[f.name].outcome == "ok":
            assert f.name in stored, (f.name, stored)
    # names the mock refuses as object keys are refused, not run: most go through
    assert sum(o.outcome == "ok" for o in outcomes) >= len(files) - 2, [
        (o.name, o.error) for o in outcomes
    ]


# -- the mock binds loopback only ----------------------------------------------------------
@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "", "10.0.0.1", "example.com", "127.0.0.1.nip.io", "0"]
)
def test_the_mock_refuses_a_non_loopback_host(host: str) -> None:
    with pytest.raises(HarnessError, match="not a loopback address"):
        MockConfig(host=host)


async def test_the_mock_listens_on_loopback_only(mock_server: MockServer) -> None:
    """What the kernel says this process listens on at the mock's port."""
    listening = [
        c.laddr
        for c in psutil.Process().net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == mock_server.port
    ]
    assert [addr.ip for addr in listening] == ["127.0.0.1"]


def test_the_mock_process_refuses_a_public_bind_without_the_flag() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "mock", "--host", "0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "not a loopback address" in lines[0]
    assert "--allow-non-loopback" in lines[0]


def test_the_mock_takes_its_key_from_the_environment_not_the_command_line() -> None:
    """``$UPLOADBENCH_MOCK_KEYS``: a secret in argv is readable by every local user (ps)."""
    secret = "sk-env-" + "9" * 32
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.mockprovider", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**_clean_env(), "UPLOADBENCH_MOCK_KEYS": secret},
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # printed only once the socket accepts
        assert secret not in " ".join(psutil.Process(proc.pid).cmdline())
        with httpx.Client(base_url=url, trust_env=False, timeout=30) as client:
            ok = client.get("/kimi/v1/files", headers={"Authorization": f"Bearer {secret}"})
            default = client.get("/kimi/v1/files", headers={"Authorization": "Bearer sk-test"})
        assert ok.status_code == 200
        assert default.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
