"""The middleware chain: request id and canonical log line, JSON errors, then authentication."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from pydantic import ValidationError

from cairn_shared.auth.keys import key_from_authorization
from cairn_shared.http.auth_cache import AUTH_CACHE
from cairn_shared.http.errors import HTTP_CODES, ApiError, error_response
from cairn_shared.http.keys import PRINCIPAL, REQUEST_ID
from cairn_shared.http.metrics import METRICS
from cairn_shared.ids import new_id

log = structlog.get_logger(__name__)

HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
REQUEST_ID_HEADER = "X-Request-Id"


@web.middleware
async def request_context(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
    """Bind the request id for every log line and event it causes; one log line per request."""
    request_id = request.headers.get(REQUEST_ID_HEADER, "")[:128] or new_id()
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await handler(request)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = request.match_info.route.resource
            route_name = route.canonical if route is not None else "unmatched"
            request.app[METRICS].observe(request.method, route_name, status, elapsed)
            if request.path not in PUBLIC_PATHS:
                caller = request.get(PRINCIPAL)
                log.info(
                    "http.request",
                    method=request.method,
                    path=request.path,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    user=caller.user if caller is not None else None,
                )


CLIENT_GONE = 499


@web.middleware
async def json_errors(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
    """Every error leaves as JSON with a stable code; an unexpected one is logged, never leaked."""
    request_id = str(request.get(REQUEST_ID, ""))
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(
            exc.status, exc.code, exc.message, request_id=request_id, details=exc.details
        )
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        return error_response(
            400,
            "invalid_request",
            "the request body is not valid",
            request_id=request_id,
            details={"errors": errors},
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(
            exc.status,
            HTTP_CODES.get(exc.status, "http_error"),
            exc.reason,
            request_id=request_id,
            headers={k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}},
        )
    except ConnectionResetError:
        # The client went away while sending its body (a timeout on its side): nothing was
        # done and no one reads the answer. Not our error, so no traceback; 499 as nginx says.
        log.info("http.client_gone", path=request.path)
        return error_response(
            CLIENT_GONE, "client_gone", "the client closed the connection", request_id=request_id
        )
    except Exception:
        log.exception("http.unhandled_error", path=request.path)
        return error_response(
            500,
            "internal",
            "internal error; the request id identifies it in the logs",
            request_id=request_id,
        )


@web.middleware
async def authenticate(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
    """Every route but health and metrics needs a valid API key (401 otherwise)."""
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    key = key_from_authorization(request.headers.get("Authorization", ""))
    if key is None:
        raise ApiError(
            401,
            "unauthorized",
            "missing API key: send 'Authorization: Bearer <key>' (run `cairn login`)",
        )
    principal = await request.app[AUTH_CACHE].principal(key)
    if principal is None:
        raise ApiError(401, "unauthorized", "invalid or revoked API key")
    request[PRINCIPAL] = principal
    structlog.contextvars.bind_contextvars(user=principal.user)
    return await handler(request)
