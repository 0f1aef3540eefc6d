"""The mock provider: one aiohttp app on 127.0.0.1 imitating Kimi (``/kimi/v1``), GLM
(``/glm/api/paas/v4``) and Supabase (``/supabase``: Storage, TUS, PostgREST), with
HTTP-level faults and ``/__mock/`` control routes. The fault catalog (types, parameters,
validation) is :mod:`harness.faults`, re-exported here; the mock applies it.

Use::

    cfg = MockConfig(keys=("sk-test",))
    async with MockServer(cfg, port=0) as srv:  # ready when entered
        srv.url  # "http://127.0.0.1:PORT"
    with MockServer.in_thread(cfg) as srv:  # its own loop, for sync clients
        ...
"""

from harness.faults import (
    COMMON_FAULT_PARAMS,
    FAULT_TYPES,
    FaultSpec,
    FaultValueError,
    validate_fault,
    validate_faults,
)
from harness.mockprovider.app import PREFIXES, create_app
from harness.mockprovider.config import HASH_ALGOS, MockConfig
from harness.mockprovider.server import MockServer

__all__ = [
    "COMMON_FAULT_PARAMS",
    "FAULT_TYPES",
    "HASH_ALGOS",
    "PREFIXES",
    "FaultSpec",
    "FaultValueError",
    "MockConfig",
    "MockServer",
    "create_app",
    "validate_fault",
    "validate_faults",
]
