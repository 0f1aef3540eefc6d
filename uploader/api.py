"""The public shapes every uploader variant shares: what to upload, where, how, and what
happened. Plain frozen dataclasses, no I/O; the harness serialises them with
:func:`dataclasses.asdict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "OUTCOME_CLASSES",
    "PROVIDERS",
    "AsyncUploader",
    "Fixes",
    "LocalFile",
    "Outcome",
    "OutcomeClass",
    "ProviderKind",
    "Settings",
    "SyncUploader",
    "Target",
]

ProviderKind = Literal["kimi", "glm", "supabase"]
PROVIDERS: tuple[ProviderKind, ...] = ("kimi", "glm", "supabase")

OutcomeClass = Literal["ok", "timeout", "http_error", "connection_error", "integrity_error"]
OUTCOME_CLASSES: tuple[OutcomeClass, ...] = (
    "ok",
    "timeout",
    "http_error",
    "connection_error",
    "integrity_error",
)


@dataclass(frozen=True)
class Target:
    """Where files go. ``base_url`` is what a real client is configured with: the API root
    of Kimi (``https://api.moonshot.ai/v1``) or GLM, or the Supabase project URL.

    After each upload the seed system inserted a metadata row into ``table`` of a Supabase
    project (PostgREST, ``{project}/rest/v1/{table}``): ``metadata_project_url`` is that
    project. Left None, a Supabase target is its own project and Kimi or GLM have no table
    (no row is written). The harness sets it to the mock's Supabase project."""

    provider: ProviderKind
    base_url: str
    key: str
    purpose: str = "file-extract"  # Kimi / GLM
    bucket: str = "uploads"  # Supabase Storage
    table: str = "file_uploads"  # metadata rows written after each upload (rest/v1/{table})
    record_metadata: bool = True  # the seed system's blocking database insert
    metadata_project_url: str | None = None  # the Supabase project holding ``table``
    # A CA certificate (PEM) to trust for an https:// ``base_url``, e.g. the TLS mock's
    # per-run CA; None: the system's trust store (uploader.tls turns it into a context)
    ca_file: str | None = None

    def __repr__(self) -> str:  # never print the key
        return (
            f"Target(provider={self.provider!r}, base_url={self.base_url!r}, key='***', "
            f"purpose={self.purpose!r}, bucket={self.bucket!r}, ca_file={self.ca_file!r})"
        )


@dataclass(frozen=True)
class LocalFile:
    """A file on disk with its size and content hash (``hash_algo`` hex digest)."""

    path: Path
    size: int
    content_hash: str
    hash_algo: str = "xxh3_128"

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Fixes:
    """One switch per bottleneck of the investigation; all on is the reference."""

    async_file_io: bool = True  # 1: aiofiles instead of blocking reads in the loop
    streaming: bool = True  # 2: chunked streaming instead of reading the whole file
    offload_blocking: bool = True  # 3: metadata insert in a thread, not in the loop
    concurrency: bool = True  # 4: bounded concurrency instead of one file at a time
    pooling: bool = True  # 5: one pooled session instead of a connection per upload

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return ("async_file_io", "streaming", "offload_blocking", "concurrency", "pooling")


@dataclass(frozen=True)
class Settings:
    """How to upload. Timeouts and retries apply to variants that implement them."""

    concurrency: int = 4
    chunk_size: int = 256 * 1024
    read_ahead_chunks: int = 4
    max_attempts: int = 4
    backoff_base_s: float = 0.25
    backoff_cap_s: float = 8.0
    retry_after_cap_s: float = 30.0
    connect_timeout_s: float = 10.0
    # size-aware deadline: min_timeout_s + size / min_rate_bytes_per_s
    min_timeout_s: float = 10.0
    min_rate_bytes_per_s: float = 1024 * 1024
    stall_timeout_s: float = 5.0  # no upload progress for this long -> timeout
    tus_threshold_bytes: int = 6 * 1024 * 1024  # Supabase: TUS at or above this size
    tus_chunk_size: int = 6 * 1024 * 1024  # Supabase requires 6 MiB non-final chunks
    seed: int = 0  # jitter of the backoff
    fixes: Fixes = field(default_factory=Fixes)


@dataclass(frozen=True)
class Outcome:
    """What happened to one file. Times are seconds on the uploader's clock
    (``time.perf_counter`` unless a clock is injected)."""

    name: str
    size: int
    outcome: OutcomeClass
    started_at: float
    ended_at: float
    attempts: int = 1
    status: int | None = None  # last HTTP status seen, if any
    file_id: str | None = None  # provider file id or Supabase object key
    bytes_sent: int = 0  # bytes the server confirmed (or the client sent, if none)
    error: str | None = None  # one line, never contains the key

    @property
    def latency_s(self) -> float:
        return self.ended_at - self.started_at


@runtime_checkable
class SyncUploader(Protocol):
    """A blocking uploader: returns one :class:`Outcome` per file, in the input order."""

    def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]: ...


@runtime_checkable
class AsyncUploader(Protocol):
    """An asyncio uploader: returns one :class:`Outcome` per file, in the input order."""

    async def upload_many(
        self, files: Sequence[LocalFile], target: Target, settings: Settings
    ) -> list[Outcome]: ...
