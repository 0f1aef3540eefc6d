"""Classify providers' error answers: the real status, retryable or not, and how long the
server asks us to wait. Pure functions; the caller passes the wall-clock time needed to read
an HTTP-date ``Retry-After``.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from uploader.api import ProviderKind
from uploader.protocol.responses import header

__all__ = [
    "ErrorInfo",
    "classify_response",
    "one_line",
    "parse_retry_after",
    "safe_error",
    "scrub",
]

# Kimi puts the wait only in the message: "... please try again after 3 seconds".
_KIMI_WAIT_RE = re.compile(r"after\s+(\d+(?:\.\d+)?)\s*(?:s\b|sec|second)", re.IGNORECASE)
# Quota / balance errors never clear by waiting: retrying them is the "death loop".
_NON_RETRYABLE_CODES = frozenset({"exceeded_current_quota_error", "1113", "insufficient_quota"})
# Supabase's real conflict: the object exists. Retrying the same request cannot succeed.
_DUPLICATE_CODES = frozenset({"Duplicate", "ResourceAlreadyExists"})
_MAX_MESSAGE = 200


@dataclass(frozen=True)
class ErrorInfo:
    """One classified error answer."""

    status: int  # HTTP status on the wire
    real_status: int  # Supabase sends 400 for most errors with the real one in the body
    retryable: bool
    retry_after_s: float | None  # what the server asked for, if anything
    code: str | None  # provider's error type / code
    message: str  # one line, short


def one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    """Collapse whitespace and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def scrub(text: str, secret: str) -> str:
    """``text`` with ``secret`` replaced, for messages that might echo the request."""
    return text.replace(secret, "***") if secret else text


def safe_error(text: str | None, secret: str) -> str | None:
    """An outcome's error: one line, ``secret`` (the API key) never in it."""
    return None if text is None else one_line(scrub(text, secret))


def parse_retry_after(headers: Mapping[str, str], now_unix: float) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP-date)."""
    millis = header(headers, "retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = header(headers, "Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now_unix)


def _error_fields(body: bytes) -> tuple[dict[str, object] | None, bool]:
    """The JSON error object (or None) and whether the body looked like an HTML page."""
    stripped = body.lstrip()[:200].lower()
    if stripped.startswith((b"<!doctype", b"<html", b"<")):
        return None, True
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, False
    return (data if isinstance(data, dict) else None), False


def _retryable_status(status: int) -> bool:
    return status in (408, 409, 425, 429) or status >= 500


def classify_response(
    provider: ProviderKind,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now_unix: float,
) -> ErrorInfo:
    """Classify a non-2xx answer of ``provider``.

    Order: ``x-should-retry`` wins (the OpenAI-style SDKs' convention); then the provider's
    code (quota errors and Supabase Duplicate never retry); then the real status: 408, 409,
    425, 429 and 5xx retry, other 4xx do not. HTML gateway pages are classified by status.
    """
    data, is_html = _error_fields(body)
    real_status = status
    code: str | None = None
    message = ""
    if data is not None:
        inner = data.get("error")
        if isinstance(inner, dict):  # Kimi / GLM / OpenAI shape
            raw_code = inner.get("code") if inner.get("code") is not None else inner.get("type")
            code = None if raw_code is None else str(raw_code)
            message = str(inner.get("message", ""))
        else:  # Supabase Storage shape: {"statusCode": "409", "error", "code", "message"}
            raw_code = data.get("code") if data.get("code") is not None else inner
            code = None if raw_code is None else str(raw_code)
            message = str(data.get("message", ""))
            body_status = data.get("statusCode")
            if body_status is not None and str(body_status).strip().isdigit():
                real_status = int(str(body_status).strip())
    elif is_html:
        message = f"HTTP {status} from a non-JSON (HTML) page"
    else:
        message = body[:_MAX_MESSAGE].decode("utf-8", "replace")

    retry_after = parse_retry_after(headers, now_unix)
    if retry_after is None and provider == "kimi" and message:
        match = _KIMI_WAIT_RE.search(message)
        if match:
            retry_after = float(match.group(1))

    should_retry = header(headers, "x-should-retry")
    if should_retry in ("true", "false"):
        retryable = should_retry == "true"
    elif code in _NON_RETRYABLE_CODES or code in _DUPLICATE_CODES:
        retryable = False
    else:
        retryable = _retryable_status(real_status)
    text = one_line(message or f"HTTP {status}")
    return ErrorInfo(status, real_status, retryable, retry_after, code, text)
