"""The mock provider's configuration: one frozen value, checked once."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.mockprovider.faults import FaultSpec, FaultValueError, validate_faults

__all__ = ["HASH_ALGOS", "MockConfig", "is_loopback"]

HASH_ALGOS = ("xxh3_128", "sha256")
MIB = 1024 * 1024


@dataclass(frozen=True)
class MockConfig:
    """How the mock behaves. Limits default to the providers' documented ones
    (reference/upload-apis-and-faults.md §1-2); raise them for big-file benchmarks."""

    keys: tuple[str, ...] = ("sk-test",)
    store: str = "hash"  # "hash" keeps digests and sizes only; "disk:DIR" also keeps content
    hash_algo: str = "xxh3_128"
    seed: int = 0
    faults: tuple[FaultSpec | Mapping[str, Any], ...] = ()
    host: str = "127.0.0.1"
    allow_non_loopback: bool = False
    buckets: tuple[str, ...] = ("uploads",)
    # Kimi: 100 MB per file, 1000 files per user; purposes of the current docs
    kimi_max_bytes: int = 100 * MIB
    kimi_max_files: int = 1000
    kimi_purposes: tuple[str, ...] = ("file-extract", "image", "video", "batch")
    # GLM: "File size exceeds 100MB" (HTTP 435); server-side purposes plus old SDK ones
    glm_max_bytes: int = 100 * MIB
    glm_max_files: int = 1000
    glm_purposes: tuple[str, ...] = (
        "batch",
        "file-extract",
        "code-interpreter",
        "agent",
        "voice-clone-input",
        "fine-tune",
        "retrieval",
    )
    # Supabase self-host UPLOAD_FILE_SIZE_LIMIT (500 MB); a bucket's file_size_limit lowers it
    supabase_max_bytes: int = 524_288_000
    # Storage answers HTTP 400 for every non-500 error, the real code only in the body
    supabase_legacy_status: bool = True
    tus_enforce_chunk_size: bool = False  # Supabase's 6 MiB rule for non-final PATCHes
    max_records: int = 100_000

    def __post_init__(self) -> None:
        if not self.keys or not all(isinstance(k, str) and k for k in self.keys):
            raise HarnessError("mock: keys must be a non-empty list of non-empty strings")
        if self.hash_algo not in HASH_ALGOS:
            raise HarnessError(
                f"mock: hash_algo must be one of {', '.join(HASH_ALGOS)}, got {self.hash_algo!r}"
            )
        if self.store != "hash" and not (self.store.startswith("disk:") and self.store[5:]):
            raise HarnessError(f"mock: store must be 'hash' or 'disk:DIR', got {self.store!r}")
        if not self.allow_non_loopback and not is_loopback(self.host):
            raise HarnessError(
                f"mock: refusing to bind {self.host!r}: not a loopback address "
                "(pass allow_non_loopback / --allow-non-loopback to override)"
            )
        try:
            specs = validate_faults(list(self.faults))
        except FaultValueError as err:
            raise HarnessError(f"mock: {err}") from None
        object.__setattr__(self, "faults", specs)

    @property
    def fault_specs(self) -> tuple[FaultSpec, ...]:
        return tuple(f for f in self.faults if isinstance(f, FaultSpec))

    @property
    def disk_dir(self) -> Path | None:
        return Path(self.store[5:]) if self.store.startswith("disk:") else None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback address (``localhost`` counts)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
