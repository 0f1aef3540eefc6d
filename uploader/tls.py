"""Trusting the target's CA: :attr:`uploader.Target.ca_file` as the SSL context each HTTP
library takes. No CA file means the library's own default (the system's trust store)."""

from __future__ import annotations

import ssl

from uploader.api import Target

__all__ = ["httpx_verify", "ssl_context"]


def ssl_context(target: Target) -> ssl.SSLContext | None:
    """A verifying client context that trusts ``target.ca_file``; None without one."""
    if not target.ca_file:
        return None
    return ssl.create_default_context(cafile=target.ca_file)


def httpx_verify(target: Target) -> ssl.SSLContext | bool:
    """httpx's ``verify=``: the target's CA, or True (httpx's default) without one. A new
    context per call, as httpx makes one per client with its default."""
    return ssl_context(target) or True
