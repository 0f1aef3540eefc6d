"""Each provider's own error bodies and statuses (reference/upload-apis-and-faults.md §1-2).

Pure builders: they return a ``web.Response`` and touch no state, so handlers, the fault
middleware and tests share one definition of what Kimi, GLM and Supabase answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web

__all__ = [
    "GATEWAY_HTML",
    "ProviderError",
    "SubApi",
    "fault_error",
    "glm_error",
    "json_response",
    "kimi_error",
    "rate_limited",
    "rest_error",
    "storage_error",
    "sub_api",
    "tus_error",
    "unauthorized",
    "unknown_route",
]

SubApi = str  # "kimi" | "glm" | "storage" | "tus" | "rest" | "mock"


class ProviderError(Exception):
    """Raised by handlers to answer with a provider-shaped error."""

    def __init__(self, response: web.Response) -> None:
        # The connection is kept open even when the body was not read: aiohttp drains the
        # rest for a while, so the client gets this answer instead of a reset mid-upload.
        super().__init__(response.status)
        self.response = response


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Compact JSON (``web.json_response`` pretty-prints nothing either, but sets the type)."""
    return web.Response(
        body=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def sub_api(provider: str, route_path: str) -> SubApi:
    """Which error dialect a path speaks."""
    if provider != "supabase":
        return provider
    path = route_path.lstrip("/")
    if path.startswith("rest/"):
        return "rest"
    if path.startswith("storage/v1/upload/resumable"):
        return "tus"
    return "storage"


def kimi_error(
    status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Kimi: ``{"error": {"type", "message"}}`` (OpenAI-compatible, no param/code)."""
    return json_response({"error": {"type": kind, "message": message}}, status, headers)


def glm_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """GLM: a business code as a string in ``{"error": {"code", "message"}}``."""
    return json_response({"error": {"code": code, "message": message}}, status, headers)


# Storage sends HTTP 400 for every service error but these (error-handler.ts).
_STORAGE_REAL_STATUS = frozenset({403, 416, 429, 500})


def storage_error(
    status: int,
    error: str,
    code: str,
    message: str,
    *,
    legacy: bool = True,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """Supabase Storage: ``{"statusCode": "<real>", "error", "code", "message"}``; the HTTP
    status is 400 in the server's default (legacy) mode unless the code is a real one."""
    http_status = status if (not legacy or status in _STORAGE_REAL_STATUS) else 400
    body = {"statusCode": str(status), "error": error, "code": code, "message": message}
    return json_response(body, http_status, headers)


def tus_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """TUS answers use real statuses (clients branch on 404/409/412/415), storage-shaped."""
    all_headers = {"Tus-Resumable": "1.0.0", **(headers or {})}
    body = {"statusCode": str(status), "error": code, "code": code, "message": message}
    return json_response(body, status, all_headers)


def rest_error(
    status: int, code: str, message: str, details: str | None = None, hint: str | None = None
) -> web.Response:
    """PostgREST: ``{"code", "details", "hint", "message"}``."""
    body = {"code": code, "details": details, "hint": hint, "message": message}
    return json_response(body, status)


def unauthorized(api: SubApi, legacy: bool = True) -> web.Response:
    """A missing or unknown key, in each dialect."""
    if api == "kimi":
        return kimi_error(401, "invalid_authentication_error", "Invalid Authentication")
    if api == "glm":
        return glm_error(401, "1002", "Invalid Authentication Token, please check your API key")
    if api == "rest":
        # Kong in front of PostgREST answers bad keys itself
        return json_response(
            {
                "message": "Invalid API key",
                "hint": "Double check your Supabase `anon` or `service_role` API key.",
            },
            401,
        )
    if api == "tus":
        return tus_error(403, "InvalidJWT", "Invalid JWT")
    return storage_error(400, "InvalidJWT", "InvalidJWT", "Invalid JWT", legacy=legacy)


def unknown_route(
    api: SubApi, method: str, path: str, legacy: bool = True, status: int = 404
) -> web.Response:
    """No such route (404) or no such method on it (405)."""
    message = f"Route {method}:{path} not found"
    if status == 405:
        message = f"Method {method} is not allowed on {path}"
    if api == "kimi":
        kind = "resource_not_found_error" if status == 404 else "invalid_request_error"
        return kimi_error(status, kind, message)
    if api == "glm":
        return glm_error(status, str(status), message)
    if api == "rest":
        return rest_error(status, "PGRST125" if status == 404 else "PGRST117", message)
    if api == "tus":
        return tus_error(status, "NotFound" if status == 404 else "MethodNotAllowed", message)
    if api == "storage":
        error = "Not Found" if status == 404 else "Method Not Allowed"
        return storage_error(status, error, error.replace(" ", ""), message, legacy=legacy)
    return json_response({"error": message}, status)


GATEWAY_HTML = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)

_KIMI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_authentication_error",
    403: "permission_denied_error",
    404: "resource_not_found_error",
    429: "rate_limit_reached_error",
}
_GLM_CODES = {400: "1210", 401: "1001", 404: "404", 429: "1302", 434: "1220", 435: "435"}


def _retry_headers(retry_after_s: float | None) -> dict[str, str]:
    if retry_after_s is None:
        return {}
    value = f"{retry_after_s:g}" if retry_after_s != int(retry_after_s) else str(int(retry_after_s))
    return {"Retry-After": value}


def fault_error(
    api: SubApi, status: int, body: str, retry_after_s: float | None, legacy: bool = True
) -> web.Response:
    """The ``http_error`` fault: a provider-shaped JSON error, a gateway HTML page or nothing."""
    headers = _retry_headers(retry_after_s)
    reason = _reason(status)
    if body == "html":
        page = GATEWAY_HTML.format(status=status, reason=reason)
        return web.Response(text=page, status=status, content_type="text/html", headers=headers)
    if body == "empty":
        return web.Response(status=status, headers=headers)
    message = f"injected fault: {status} {reason}"
    if api == "kimi":
        kind = _KIMI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        return kimi_error(status, kind, message, headers)
    if api == "glm":
        return glm_error(status, _GLM_CODES.get(status, str(status)), message, headers)
    if api == "rest":
        resp = rest_error(status, f"PGRST{status}", message)
        resp.headers.update(headers)
        return resp
    if api == "tus":
        return tus_error(status, reason.replace(" ", ""), message, headers)
    if api == "storage":
        # an injected status is sent as is: the fault says what the client should see
        return storage_error(
            status, reason, reason.replace(" ", ""), message, legacy=False, headers=headers
        )
    return json_response({"error": message}, status, headers)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return {435: "File Too Large", 434: "No Permission", 460: "Checksum Mismatch"}.get(
            status, "Error"
        )


def rate_limited(
    api: SubApi, style: str, retry_after_s: float | None, limit: int | None = None
) -> web.Response:
    """A 429 in the given provider style (``rate_limit`` and ``concurrency_cap`` faults)."""
    headers = _retry_headers(retry_after_s)
    wait = retry_after_s if retry_after_s is not None else 1
    wait_text = f"{wait:g}"
    if style in ("kimi_concurrency", "kimi_rpm"):
        # Kimi's help centre documents these; the wait itself is only in the message text
        headers.update(
            {
                "X-RateLimit-Limit": str(limit or (1 if style == "kimi_concurrency" else 3)),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": wait_text,
            }
        )
    if style == "kimi_concurrency":
        return kimi_error(
            429,
            "rate_limit_reached_error",
            f"Your account org-mock<ak-mock> request reached organization max concurrency: "
            f"{limit or 1}, please try again after {wait_text} seconds",
            headers,
        )
    if style == "kimi_rpm":
        return kimi_error(
            429,
            "rate_limit_reached_error",
            f"Your account org-mock<ak-mock> request reached organization max RPM: {limit or 3}, "
            f"please try again after {wait_text} seconds",
            headers,
        )
    if style == "kimi_overloaded":
        return kimi_error(
            429,
            "engine_overloaded_error",
            "The engine is currently overloaded, please try again later",
            headers,
        )
    if style == "kimi_quota":
        return kimi_error(
            429,
            "exceeded_current_quota_error",
            "You exceeded your current token quota: <org-mock> 0, please check your account "
            "balance",
            headers,
        )
    if style == "glm_1302":
        return glm_error(
            429, "1302", "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。", headers
        )
    if style == "glm_1113":
        return glm_error(429, "1113", "您的账户已欠费，请充值后重试。", headers)
    if api == "tus":
        return tus_error(429, "SlowDown", "Too many connections issued to the database", headers)
    return storage_error(
        429,
        "too_many_connections",
        "SlowDown",
        "Too many connections issued to the database",
        headers=headers,
    )
