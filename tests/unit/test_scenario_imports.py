"""Validating a scenario needs no server code: ``import harness.scenario`` loads no aiohttp
(issue 13). Checked in this interpreter with a fresh import behind an import blocker, so the
unit tests stay in-process and socket-free; sys.modules is restored afterwards."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

_BLOCKED = ("aiohttp", "harness.mockprovider", "harness.faultproxy")


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.attempts: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if any(fullname == b or fullname.startswith(b + ".") for b in _BLOCKED):
            self.attempts.append(fullname)
            raise ImportError(f"{fullname} must not be imported to validate a scenario")
        return None


def _ours(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in ("harness", "uploader", *_BLOCKED))


def test_loading_a_scenario_with_faults_imports_no_aiohttp_nor_the_servers() -> None:
    saved = dict(sys.modules)
    blocker = _Blocker()
    for name in [n for n in sys.modules if _ours(n)]:
        del sys.modules[name]
    sys.meta_path.insert(0, blocker)
    try:
        scenario = importlib.import_module("harness.scenario")
        loaded = scenario.scenario_from_dict(
            {
                "name": "faults",
                "files": {"count": 1, "sizes": ["1KiB"]},
                "faults": [{"type": "latency", "ms": "50ms"}],
                "network_faults": [{"type": "bandwidth", "bytes_per_s": "1MB/s"}],
            }
        )
        assert loaded.faults[0]["ms"] == 50
        assert not [n for n in sys.modules if n == "aiohttp" or n.startswith("aiohttp.")]
        assert blocker.attempts == []
    finally:
        sys.meta_path.remove(blocker)
        sys.modules.clear()
        sys.modules.update(saved)
