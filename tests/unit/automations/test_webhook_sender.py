"""The webhook sender against a real local receiver: SSRF guard after resolution, no
redirects, response excerpts, timeouts and per-target concurrency."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from cairn_automations.adapters.webhook_sender import (
    GuardedResolver,
    RefusedAddressError,
    WebhookSender,
)
from cairn_automations.domain.address_policy import AddressPolicy, TargetRefusedError

LOCAL = AddressPolicy.of(["127.0.0.0/8"], allow_http=True)


class FixedResolver(AbstractResolver):
    """Answers every name with the given addresses (a DNS rebinding attacker's server)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


async def test_the_resolver_drops_non_public_addresses() -> None:
    guard = GuardedResolver(AddressPolicy(), FixedResolver("10.0.0.1", "8.8.8.8"))

    assert [r["host"] for r in await guard.resolve("mixed.example")] == ["8.8.8.8"]
    with pytest.raises(RefusedAddressError, match=r"rebind\.example resolves to 127\.0\.0\.1"):
        await GuardedResolver(AddressPolicy(), FixedResolver("127.0.0.1")).resolve("rebind.example")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[TestServer, list[web.Request]]]:
    seen: list[web.Request] = []
    gate = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        seen.append(request)
        await request.read()
        return web.Response(status=204)

    async def big(_request: web.Request) -> web.Response:
        return web.Response(text="x" * 5000, status=500, headers={"Retry-After": "7"})

    async def moved(_request: web.Request) -> web.Response:
        raise web.HTTPFound("http://127.0.0.1:1/elsewhere")

    async def slow(_request: web.Request) -> web.Response:
        await gate.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/big", big)
    app.router.add_post("/moved", moved)
    app.router.add_post("/slow", slow)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, seen
    gate.set()
    await server.close()


SenderFactory = Callable[..., Awaitable[WebhookSender]]


@pytest.fixture
async def make_sender() -> AsyncIterator[SenderFactory]:
    made: list[WebhookSender] = []

    async def make(
        policy: AddressPolicy = LOCAL, timeout_s: float = 5, per_target: int = 4
    ) -> WebhookSender:
        sender = WebhookSender(policy, timeout_s=timeout_s, per_target=per_target)
        await sender.start()
        made.append(sender)
        return sender

    yield make
    for sender in made:
        await sender.close()


async def test_a_webhook_is_posted_with_its_headers(
    receiver: tuple[TestServer, list[web.Request]], make_sender: SenderFactory
) -> None:
    server, seen = receiver
    sender = await make_sender()

    response = await sender.send(str(server.make_url("/hook")), {"webhook-id": "m1"}, b"{}")

    assert response.status == 204
    assert response.error == ""
    assert seen[0].headers["webhook-id"] == "m1"
    assert seen[0].headers["User-Agent"].startswith("Cairn-Webhooks")


async def test_loopback_is_refused_unless_allowlisted(
    receiver: tuple[TestServer, list[web.Request]], make_sender: SenderFactory
) -> None:
    server, seen = receiver
    sender = await make_sender(AddressPolicy(allow_http=True))

    by_ip = await sender.send(str(server.make_url("/hook")), {}, b"{}")
    by_name = await sender.send(f"http://localhost:{server.port}/hook", {}, b"{}")

    assert by_ip.status is None
    assert "not a public address" in by_ip.error
    assert by_name.status is None
    assert by_name.error.startswith("refused:")
    assert seen == []
    with pytest.raises(TargetRefusedError):
        await sender.check(f"http://localhost:{server.port}/hook")


async def test_redirects_are_not_followed_and_excerpts_are_short(
    receiver: tuple[TestServer, list[web.Request]], make_sender: SenderFactory
) -> None:
    server, _ = receiver
    sender = await make_sender()

    moved = await sender.send(str(server.make_url("/moved")), {}, b"{}")
    big = await sender.send(str(server.make_url("/big")), {}, b"{}")

    assert moved.status == 302
    assert "not followed" in moved.error
    assert big.status == 500
    assert len(big.excerpt) == 1024
    assert big.retry_after == "7"


async def test_a_slow_receiver_times_out(
    receiver: tuple[TestServer, list[web.Request]], make_sender: SenderFactory
) -> None:
    server, _ = receiver
    sender = await make_sender(timeout_s=0.2)

    response = await sender.send(str(server.make_url("/slow")), {}, b"{}")

    assert response.status is None
    assert response.error == "timed out after 0.2 s"


async def test_a_slow_target_does_not_hold_up_another(
    receiver: tuple[TestServer, list[web.Request]], make_sender: SenderFactory
) -> None:
    server, _ = receiver
    other_app = web.Application()
    other_app.router.add_post("/ok", _ok)
    other = TestServer(other_app, host="127.0.0.1")
    await other.start_server()
    sender = await make_sender(timeout_s=2, per_target=1)
    try:
        slow = [
            asyncio.create_task(sender.send(str(server.make_url("/slow")), {}, b""))
            for _ in range(3)
        ]
        await asyncio.sleep(0.05)
        fast = await asyncio.wait_for(sender.send(str(other.make_url("/ok")), {}, b""), 1)
        assert fast.status == 200
        assert not any(task.done() for task in slow)
    finally:
        for task in slow:
            task.cancel()
        await asyncio.gather(*slow, return_exceptions=True)
        await other.close()


async def _ok(_request: web.Request) -> web.Response:
    return web.Response(text="ok")
