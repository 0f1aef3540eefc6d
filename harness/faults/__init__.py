"""The fault catalogs, pure (no sockets, no aiohttp): which faults exist, their parameters,
defaults and validation. The scenario loader validates with them; the mock provider
(:mod:`harness.mockprovider`) and the fault proxy (:mod:`harness.faultproxy`) use them and
keep the behaviour (applying a fault to a request or a connection).

- :mod:`harness.faults.common`: the shared vocabulary (``probability``, ``ms``/``*_ms``/``*_s``,
  ``*_bytes``/``bytes_per_s``), old names refused with the new one, unit strings;
- :mod:`harness.faults.http`: HTTP faults (``[[faults]]``, the mock);
- :mod:`harness.faults.network`: network faults (``[[network_faults]]``, the proxy).
"""

from harness.faults.common import RENAMED, FaultValueError
from harness.faults.http import (
    COMMON_FAULT_PARAMS,
    FAULT_TYPES,
    FaultSpec,
    validate_fault,
    validate_faults,
)
from harness.faults.network import (
    COMMON_NETWORK_PARAMS,
    DIRECTIONS,
    NETWORK_FAULT_TYPES,
    network_fault_summary,
    validate_network_fault,
)

__all__ = [
    "COMMON_FAULT_PARAMS",
    "COMMON_NETWORK_PARAMS",
    "DIRECTIONS",
    "FAULT_TYPES",
    "NETWORK_FAULT_TYPES",
    "RENAMED",
    "FaultSpec",
    "FaultValueError",
    "network_fault_summary",
    "validate_fault",
    "validate_faults",
    "validate_network_fault",
]
