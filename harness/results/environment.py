"""The environment fingerprint of a run: machine, Python and the versions of the packages
that shape what is measured. History compares only runs with the same ``fingerprint``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from harness.results.contract import Environment

__all__ = ["KEY_PACKAGES", "OTHER_PACKAGES", "environment"]


# Versions that change what is measured: they enter the fingerprint, so history only
# compares runs made with the same client and server stacks.
KEY_PACKAGES: tuple[str, ...] = (
    "aiohttp",
    "aiofiles",
    "httpx",
    "supabase",
    "storage3",
    "xxhash",
    "uvloop",
    "memray",
)
# Reported but not fingerprinted: they shape analysis, not measurements.
OTHER_PACKAGES: tuple[str, ...] = ("uploadbench", "numpy", "scipy", "pandas", "psutil", "rich")


def _package_versions(names: Iterable[str]) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "cpu model"):
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _memory_bytes() -> int | None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None
    return int(psutil.virtual_memory().total)


def _git(args: Sequence[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def environment(*, repo_dir: Path | None = None, uvloop: bool = False) -> Environment:
    """Describe this machine and software stack (runs ``git`` in ``repo_dir``, default the
    checkout this package lives in). ``uvloop`` says whether workers run on uvloop.

    ``fingerprint`` hashes what must match before two runs' timings are compared: Python
    major.minor and implementation, CPU model and count, and the :data:`KEY_PACKAGES`
    versions. The hostname is stored only as a hash."""
    repo = repo_dir if repo_dir is not None else Path(__file__).resolve().parents[2]
    key_versions = _package_versions(KEY_PACKAGES)
    packages = {**key_versions, **_package_versions(OTHER_PACKAGES)}
    commit = _git(["rev-parse", "HEAD"], repo)
    status = _git(["status", "--porcelain", "--untracked-files=no"], repo) if commit else None
    cpu_model = _cpu_model()
    cpu_count = os.cpu_count() or 1
    implementation = platform.python_implementation()
    fingerprint_source = json.dumps(
        {
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "implementation": implementation,
            "cpu_model": cpu_model,
            "cpu_count": cpu_count,
            "packages": key_versions,
            "uvloop": uvloop,
        },
        sort_keys=True,
    )
    return {
        "python": platform.python_version(),
        "implementation": implementation,
        "platform": platform.platform(),
        "packages": {name: version for name, version in packages.items() if version is not None},
        "cpu_model": cpu_model,
        "cpu_count": cpu_count,
        "memory_bytes": _memory_bytes(),
        "git_commit": commit.strip() if commit else None,
        "git_dirty": bool(status and status.strip()),
        "hostname_hash": hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12],
        "uvloop": uvloop,
        "fingerprint": hashlib.sha256(fingerprint_source.encode()).hexdigest()[:16],
    }
