"""The SDK's HTTP client: one connection pool, the API key, retries, errors mapped to exceptions."""

from __future__ import annotations

import functools
import ssl
import time
from typing import Any
from urllib.parse import quote

import httpx

from cairn.errors import (
    AuthenticationError,
    CommError,
    NotFoundError,
    PermissionDeniedError,
)
from cairn.settings import ClientConfig

USER_AGENT = "cairn-sdk/0.1"
# Statuses worth another try: a gateway or service that is restarting, or Kafka being waited out.
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of the process's HTTP clients. httpx otherwise builds one per client,
    loading the CA bundle each time (about 40 ms, paid at every ``init``, ``Api()`` and first
    transfer). httpx's own defaults: certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``."""
    return httpx.create_ssl_context()


def segment(value: str) -> str:
    """A path segment, URL-encoded (project names may hold spaces)."""
    return quote(value, safe="")


class ApiClient:
    """Calls Cairn's gateway.

    Every request is retried on connection errors and 429/502/503/504: each Cairn route is
    idempotent (a retried run start or artifact submission publishes the same event id), so
    a retry never duplicates an effect.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        timeout_s: float = 30.0,
        attempts: int = 5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.attempts = max(1, attempts)
        headers = {"User-Agent": USER_AGENT}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._http = httpx.Client(
            base_url=config.base_url,
            headers=headers,
            timeout=timeout_s,
            transport=transport,
            verify=tls_context(),
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json: Any = None) -> Any:
        """Call the gateway; returns the decoded JSON body or raises a ``CommError``."""
        if not self.config.api_key:
            raise AuthenticationError(
                "no API key: set CAIRN_API_KEY or run `cairn login`", status=None
            )
        delay = 0.5
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                response = self._http.request(method, path, json=json)
            except httpx.HTTPError as exc:
                if last:
                    raise CommError(
                        f"cannot reach Cairn at {self.config.base_url} ({exc}); "
                        "check CAIRN_BASE_URL and that the server is up"
                    ) from exc
            else:
                if response.is_success:
                    return response.json() if response.content else None
                if last or response.status_code not in RETRY_STATUSES:
                    raise _error(response)
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)


def _error(response: httpx.Response) -> CommError:
    code, message, request_id = "", response.text[:500], ""
    details: dict[str, Any] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code", ""))
        message = str(error.get("message", message))
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        request_id = str(error.get("request_id", ""))
    status = response.status_code
    extra: dict[str, Any] = {
        "status": status,
        "code": code,
        "details": details,
        "request_id": request_id,
    }
    if status == 401:
        return AuthenticationError(f"{message} (check CAIRN_API_KEY or run `cairn login`)", **extra)
    if status == 403:
        return PermissionDeniedError(message, **extra)
    if status == 404:
        return NotFoundError(message, **extra)
    return CommError(f"HTTP {status}: {message}", **extra)
