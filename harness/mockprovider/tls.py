"""TLS for the mock: a certificate authority and a server certificate made per start.

:func:`make_tls` makes a fresh CA (``trustme``) and a certificate it signs for
``127.0.0.1`` (IP SAN) and ``localhost``, and a server context pinned to one TLS version
(``minimum_version = maximum_version``). Clients trust the CA's PEM file (``ca_file``),
never an insecure mode: a client without it fails with a certificate error.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["TLS_VERSIONS", "MockTls", "TlsVersion", "client_context", "make_tls"]

TlsVersion = Literal["1.2", "1.3"]
TLS_VERSIONS: tuple[str, ...] = ("1.2", "1.3")
_PINNED = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class MockTls:
    """The server's context and the CA certificate (PEM) that clients trust."""

    version: str
    server_context: ssl.SSLContext
    ca_pem: bytes

    def write_ca(self, path: Path | str) -> Path:
        """Write the CA certificate (PEM) to ``path``, creating its folder."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.ca_pem)
        return path


def make_tls(version: str = "1.3") -> MockTls:
    """A fresh CA and server certificate; the context accepts exactly TLS ``version``."""
    if version not in _PINNED:
        raise ValueError(f"TLS version must be one of {', '.join(TLS_VERSIONS)}, got {version!r}")
    import trustme  # only a TLS mock needs it

    ca = trustme.CA(organization_name="uploadbench mock CA")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = context.maximum_version = _PINNED[version]
    cert.configure_cert(context)
    return MockTls(version=version, server_context=context, ca_pem=ca.cert_pem.bytes())


def client_context(ca_file: str | Path | None) -> ssl.SSLContext | None:
    """A verifying client context that trusts ``ca_file`` (None: no CA file given)."""
    if not ca_file:
        return None
    return ssl.create_default_context(cafile=str(ca_file))
