"""Calling another Cairn service directly, on behalf of the caller.

The caller's own ``Authorization`` header is forwarded, so the callee checks the caller's
identity and role itself: services trust the network no more than the gateway does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from cairn_shared.http.errors import ApiError, unavailable
from cairn_shared.http.keys import REQUEST_ID

HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)


class ServiceClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")

    async def call(self, request: web.Request, method: str, path: str, *, json: Any = None) -> Any:
        """The callee's JSON answer; its 4xx is passed on as it is, anything else is a 503."""
        headers = {"Authorization": request.headers.get("Authorization", "")}
        if request_id := request.get(REQUEST_ID):
            headers["X-Request-Id"] = request_id
        try:
            async with self._session.request(
                method, self._base + path, json=json, headers=headers
            ) as response:
                body = await response.json(content_type=None)
                if response.status < 400:
                    return body
                error = body.get("error", {}) if isinstance(body, dict) else {}
                if 400 <= response.status < 500:
                    raise ApiError(
                        response.status,
                        str(error.get("code", "upstream_error")),
                        str(error.get("message", "")),
                        details=error.get("details"),
                    )
                raise unavailable(f"{self._base} answered {response.status}; retry later")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise unavailable(
                f"cannot reach {self._base} ({type(exc).__name__}); retry later"
            ) from exc


async def http_session_context(app: web.Application) -> AsyncIterator[None]:
    """One pooled client session per process, for calls to other services."""
    timeout = aiohttp.ClientTimeout(total=30, connect=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[HTTP_SESSION] = session
        yield
