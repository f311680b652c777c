"""The SDK's HTTP client: one connection pool, the API key, and errors mapped to exceptions."""

from __future__ import annotations

from typing import Any

import httpx

from cairn.config import ClientConfig
from cairn.errors import (
    AuthenticationError,
    CommError,
    NotFoundError,
    PermissionDeniedError,
)

USER_AGENT = "cairn-sdk/0.1"


class ApiClient:
    def __init__(self, config: ClientConfig, *, timeout_s: float = 30.0) -> None:
        self.config = config
        headers = {"User-Agent": USER_AGENT}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._http = httpx.Client(base_url=config.base_url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json: Any = None) -> Any:
        """Call the gateway; returns the decoded JSON body or raises a ``CommError``."""
        if not self.config.api_key:
            raise AuthenticationError(
                "no API key: set CAIRN_API_KEY or run `cairn login`", status=None
            )
        try:
            response = self._http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise CommError(
                f"cannot reach Cairn at {self.config.base_url} ({exc}); "
                "check CAIRN_BASE_URL and that the server is up"
            ) from exc
        if response.is_success:
            return response.json() if response.content else None
        raise _error(response)

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)


def _error(response: httpx.Response) -> CommError:
    code, message = "", response.text[:500]
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code", ""))
        message = str(body["error"].get("message", message))
    status = response.status_code
    if status == 401:
        return AuthenticationError(
            f"{message} (check CAIRN_API_KEY or run `cairn login`)", status=status, code=code
        )
    if status == 403:
        return PermissionDeniedError(message, status=status, code=code)
    if status == 404:
        return NotFoundError(message, status=status, code=code)
    return CommError(f"HTTP {status}: {message}", status=status, code=code)
