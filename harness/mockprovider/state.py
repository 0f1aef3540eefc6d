"""Everything the mock remembers between requests, owned by one event loop."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from harness.mockprovider.body import Blob, BlobStore, BlobWriter, BodyStream
from harness.mockprovider.config import MockConfig
from harness.mockprovider.faults import FaultPlan, FaultSpec
from harness.mockprovider.stats import RequestRecord, Stats

__all__ = [
    "CTX_KEY",
    "STATE_KEY",
    "Bucket",
    "FileEntry",
    "MockState",
    "RequestContext",
    "StoredObject",
    "TusUpload",
    "ctx_of",
]


@dataclass
class FileEntry:
    """A Kimi or GLM file."""

    id: str
    filename: str
    purpose: str
    created_at: int
    blob: Blob


@dataclass
class Bucket:
    id: str
    name: str
    public: bool
    file_size_limit: int | None
    allowed_mime_types: list[str] | None
    created_at: str
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "owner": "",
            "public": self.public,
            "type": "STANDARD",
            "file_size_limit": self.file_size_limit,
            "allowed_mime_types": self.allowed_mime_types,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class StoredObject:
    bucket: str
    name: str
    id: str
    blob: Blob
    content_type: str
    cache_control: str
    metadata: dict[str, Any] | None
    created_at: str
    updated_at: str

    def file_metadata(self) -> dict[str, Any]:
        return {
            "eTag": f'"{self.blob.content_hash}"',
            "size": self.blob.size,
            "mimetype": self.content_type,
            "cacheControl": self.cache_control,
            "lastModified": self.updated_at,
            "contentLength": self.blob.size,
            "httpStatusCode": 200,
        }


@dataclass
class TusUpload:
    id: str
    bucket: str
    name: str
    length: int | None  # None until a PATCH declares it (Upload-Defer-Length)
    writer: BlobWriter
    upsert: bool
    content_type: str
    cache_control: str
    metadata: dict[str, Any] | None
    offset: int = 0
    busy: bool = False  # a PATCH is in flight (Supabase's advisory lock)
    done: bool = False


@dataclass
class RequestContext:
    """Per request: the record being filled and the gated body."""

    state: MockState
    rec: RequestRecord
    body: BodyStream
    provider: str
    api: str


STATE_KEY: web.AppKey[MockState] = web.AppKey("uploadbench_mock_state")
CTX_KEY: web.RequestKey[RequestContext] = web.RequestKey("uploadbench_mock_ctx", RequestContext)


def ctx_of(request: web.Request) -> RequestContext:
    return request[CTX_KEY]


class MockState:
    """Stored files, buckets, objects, TUS uploads and rows; stats; the fault plan."""

    def __init__(
        self,
        config: MockConfig,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.stats = Stats(config.max_records)
        self.fault_seed = config.seed
        self.plan = FaultPlan(config.fault_specs, config.seed)
        self._ids = random.Random(f"uploadbench-ids:{config.seed}")
        self.blobs = BlobStore(config.hash_algo, config.disk_dir, self.new_hex)
        self.files: dict[str, dict[str, FileEntry]] = {"kimi": {}, "glm": {}}
        self.buckets: dict[str, Bucket] = {}
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.tus: dict[str, TusUpload] = {}
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.next_row_id: dict[str, int] = {}
        # signed-URL tokens: token -> (kind "upload"/"sign", bucket, name, upsert)
        self.tokens: dict[str, tuple[str, str, str, bool]] = {}
        self._connections: dict[int, int] = {}
        self._next_connection = 0
        self.route_templates: dict[object, str] = {}
        self._create_default_buckets()

    # -- ids and times -------------------------------------------------------------
    def new_hex(self) -> str:
        return f"{self._ids.getrandbits(128):032x}"

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def random_choice(self, alphabet: str, n: int) -> str:
        return "".join(self._ids.choice(alphabet) for _ in range(n))

    def iso_now(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.clock())) + ".000Z"

    # -- connections ---------------------------------------------------------------
    def connection_opened(self, protocol: object) -> int:
        self._next_connection += 1
        self._connections[id(protocol)] = self._next_connection
        self.stats.connections_accepted += 1
        return self._next_connection

    def connection_closed(self, protocol: object) -> None:
        self._connections.pop(id(protocol), None)

    def connection_id(self, protocol: object) -> int:
        """The id of the connection a request came on (sequential from 1)."""
        found = self._connections.get(id(protocol))
        return found if found is not None else self.connection_opened(protocol)

    # -- faults --------------------------------------------------------------------
    def install_faults(self, specs: tuple[FaultSpec, ...], seed: int) -> None:
        self.fault_seed = seed
        self.plan = FaultPlan(specs, seed)

    # -- reset ---------------------------------------------------------------------
    def _create_default_buckets(self) -> None:
        now = self.iso_now()
        for name in self.config.buckets:
            self.buckets[name] = Bucket(name, name, False, None, None, now, now)

    async def reset(self) -> None:
        """Forget requests, totals, files, buckets, objects, uploads and rows; re-seed the
        fault generators so the next trial sees the same fault sequence."""
        self.stats.reset()
        for upload in self.tus.values():
            await upload.writer.discard()
        await self.blobs.clear()
        for files in self.files.values():
            files.clear()
        self.buckets.clear()
        self.objects.clear()
        self.tus.clear()
        self.tables.clear()
        self.next_row_id.clear()
        self.tokens.clear()
        self.plan = FaultPlan(self.plan.specs, self.fault_seed)
        self._create_default_buckets()
