"""Sending webhooks over one aiohttp session, behind the SSRF guard.

The guard runs after DNS resolution, inside the connector's resolver: only the addresses that
pass are handed on, and the connection goes to exactly those, so a name that resolves to a
public address when checked and to a private one when used (DNS rebinding) gets nowhere. IP
literals skip resolvers in aiohttp, so the sender checks them itself. Redirects are not
followed: a 3xx is a failed attempt. Each target (``host:port``) has its own concurrency limit,
so one slow receiver does not hold up the others.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from cairn_automations.domain.address_policy import AddressPolicy, Target, TargetRefusedError

EXCERPT_BYTES = 1024
USER_AGENT = "Cairn-Webhooks/1.0"


@dataclass(frozen=True)
class WebhookResponse:
    status: int | None  # None: no HTTP answer (refused, unreachable, timed out)
    latency_ms: float
    excerpt: str = ""  # the first KiB of the body
    retry_after: str | None = None
    error: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    started_at: datetime | None = None  # when the request went out


class RefusedAddressError(OSError):
    """Raised by the resolver; aiohttp reports resolver ``OSError``s as DNS errors."""


class GuardedResolver(AbstractResolver):
    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner  # the default one needs a running loop: made on first use

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = DefaultResolver()
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._allows(r["host"])]
        if not allowed:
            addresses = ", ".join(sorted({r["host"] for r in results})) or "nothing"
            raise RefusedAddressError(
                f"{host} resolves to {addresses}: not a public address; an operator may "
                "allowlist its network with CAIRN_WEBHOOK_ALLOW_NETWORKS"
            )
        return allowed

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()

    def _allows(self, address: str) -> bool:
        try:
            self._policy.check_ip(address.split("%", 1)[0])
        except (TargetRefusedError, ValueError):
            return False
        return True


class WebhookSender:
    def __init__(self, policy: AddressPolicy, *, timeout_s: float, per_target: int) -> None:
        self._policy = policy
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._per_target = per_target
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._session: aiohttp.ClientSession | None = None
        self._resolver = GuardedResolver(policy)

    @property
    def policy(self) -> AddressPolicy:
        return self._policy

    async def check(self, url: str) -> Target:
        """``TargetRefusedError`` unless ``url`` passes the policy and its host resolves to at
        least one allowed address (checked when an integration is saved; again at each send)."""
        target = self._policy.check_url(url)
        if target.ip is not None:
            return target
        try:
            async with asyncio.timeout(5):
                await self._resolver.resolve(target.host, target.port, socket.AF_UNSPEC)
        except RefusedAddressError as exc:
            raise TargetRefusedError(str(exc)) from None
        except (OSError, TimeoutError) as exc:
            raise TargetRefusedError(f"cannot resolve {target.host}: {exc}") from None
        return target

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            resolver=self._resolver,
            limit=0,  # the per-target semaphores limit concurrency
            ttl_dns_cache=10,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, trust_env=False, headers={"User-Agent": USER_AGENT}
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self._resolver.close()

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        """POST ``body``; every failure is a ``WebhookResponse`` with ``error``, never raised."""
        started = time.perf_counter()
        try:
            target = self._policy.check_url(url)
        except TargetRefusedError as exc:
            return WebhookResponse(status=None, latency_ms=0.0, error=f"refused: {exc}")
        limit = self._limits.setdefault(target.key, asyncio.Semaphore(self._per_target))
        async with limit:
            started, started_at = time.perf_counter(), datetime.now(UTC)
            try:
                response = await self._post(target.url, headers, body, started)
                return replace(response, started_at=started_at)
            except TimeoutError:
                error = f"timed out after {self._timeout.total:g} s"
            except aiohttp.ClientConnectorDNSError as exc:
                error = f"refused: {exc.os_error}" if _refused(exc) else f"DNS: {exc.os_error}"
            except (aiohttp.ClientError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
        return WebhookResponse(
            status=None, latency_ms=_ms(started), error=error, started_at=started_at
        )

    async def _post(
        self, url: str, headers: Mapping[str, str], body: bytes, started: float
    ) -> WebhookResponse:
        if self._session is None:
            raise RuntimeError("the webhook sender is not started")
        async with self._session.post(
            url, data=body, headers=dict(headers), allow_redirects=False, timeout=self._timeout
        ) as response:
            excerpt = await _read_excerpt(response)
            error = ""
            if 300 <= response.status < 400:
                where = response.headers.get("Location", "?")
                error = f"redirect to {where[:200]} not followed"
            return WebhookResponse(
                status=response.status,
                latency_ms=_ms(started),
                excerpt=excerpt,
                retry_after=response.headers.get("Retry-After"),
                error=error,
                headers={k: v[:256] for k, v in list(response.headers.items())[:30]},
            )


async def _read_excerpt(response: aiohttp.ClientResponse) -> str:
    data = b""
    while len(data) < EXCERPT_BYTES:
        chunk = await response.content.read(EXCERPT_BYTES - len(data))
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", errors="replace")


def _refused(exc: aiohttp.ClientConnectorDNSError) -> bool:
    return isinstance(exc.os_error, RefusedAddressError)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
