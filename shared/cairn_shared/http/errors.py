"""JSON error bodies: ``{"error": {"code": ..., "message": ..., "request_id": ...}}``."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class ApiError(Exception):
    """An error the client can act on; ``code`` is stable and machine-readable."""

    def __init__(
        self, status: int, code: str, message: str, *, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def bad_request(message: str, **details: Any) -> ApiError:
    return ApiError(400, "bad_request", message, details=details)


def not_found(message: str, **details: Any) -> ApiError:
    return ApiError(404, "not_found", message, details=details)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def conflict(message: str, **details: Any) -> ApiError:
    return ApiError(409, "conflict", message, details=details)


def unavailable(message: str) -> ApiError:
    return ApiError(503, "unavailable", message)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    request_id: str = "",
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    if request_id:
        body["request_id"] = request_id
    return web.json_response({"error": body}, status=status, headers=headers)


# Names for the HTTP errors aiohttp raises itself (routing, body size, methods).
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "too_many_requests",
    503: "unavailable",
}
