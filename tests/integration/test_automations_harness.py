"""What the automations integration tests share: the service on the real Kafka and MongoDB
wire-protocol server, users from the identity store, a real local webhook receiver on
127.0.0.1 (allowlisted in these settings) and a publisher of the events the service consumes.

This module holds fixtures and helpers only; the test modules import them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cairn_automations.bootstrap import create_app
from cairn_shared.auth.identity_store import IDENTITY_DATABASE, MongoIdentityStore
from cairn_shared.events.envelope import Cause, Envelope, EventData
from cairn_shared.events.registry import ModelAliasAdded
from cairn_shared.ids import new_id
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.mongo import Document
from cairn_shared.settings import Settings
from cryptography.fernet import Fernet
from pydantic import SecretStr
from pymongo import AsyncMongoClient

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]
FAST_SCHEDULE = [0.0, 0.3, 0.3, 0.3, 0.3, 0.3]


@dataclass(frozen=True)
class User:
    name: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A webhook receiver: answers ``script`` statuses in turn, then ``then``."""

    server: TestServer
    received: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    then: int = 200
    delay_s: float = 0.0  # before each answer
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hook") -> str:
        return str(self.server.make_url(path))

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(dict(request.headers), body, time.perf_counter()))
        self.arrived.set()
        status = self.script.pop(0) if self.script else self.then
        await asyncio.sleep(self.delay_s)
        return web.Response(status=status, text=f"answered {status}")

    async def wait_for(self, count: int, timeout_s: float = 30) -> list[Received]:
        async with asyncio.timeout(timeout_s):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received


@dataclass
class Service:
    """The automations app, restartable: ``stop()`` then ``start()`` is a new process's worth
    of state (consumer group member, scheduler, caches), on the same database and topics."""

    factory: ClientFactory
    settings: Settings
    owner: User
    client: Client | None = None

    async def start(self) -> Client:
        self.client = await self.factory(create_app(self.settings))
        return self.client

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    def url(self, route: str, entity: str | None = None) -> str:
        return f"/v1/entities/{entity or self.owner.name}/{route}"

    async def call(
        self, method: str, path: str, body: object = None, user: User | None = None
    ) -> tuple[int, Any]:
        assert self.client is not None
        who = user or self.owner
        response = (
            await self.client.request(method, path, json=body, headers=who.headers)
            if body is not None
            else await self.client.request(method, path, headers=who.headers)
        )
        if response.status == 204:
            return 204, None
        return response.status, await response.json()

    async def ok(self, method: str, path: str, body: object = None, status: int = 200) -> Any:
        got, answer = await self.call(method, path, body)
        assert got == status, answer
        return answer


async def make_user(identity: MongoIdentityStore, name: str) -> User:
    await identity.create_user(name)
    return User(name, await identity.create_api_key(name, "test"))


def automations_settings(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "webhook_allow_networks": ["127.0.0.0/8"],
        "webhook_allow_http": True,
        "webhook_retry_schedule_s": FAST_SCHEDULE,
        "webhook_retry_jitter": 0.0,
        "webhook_timeout_s": 5.0,
        "automations_scan_interval_s": 0.2,
        "automations_cache_ttl_s": 0.5,
        "secrets_key": SecretStr(Fernet.generate_key().decode()),
    }
    return settings.model_copy(update={**values, **overrides})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = web.Application()
    server = TestServer(app, host="127.0.0.1")
    hook = Receiver(server)
    app.router.add_post("/hook", hook.handle)
    await server.start_server()
    yield hook
    await server.close()


@pytest.fixture
async def publisher(topics: Settings) -> AsyncIterator[KafkaEventPublisher]:
    publisher = KafkaEventPublisher(topics)
    await publisher.start()
    yield publisher
    await publisher.stop()


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def service(
    aiohttp_client: ClientFactory,
    topics: Settings,
    mongo: AsyncMongoClient[Document],
    unique: str,
    overrides: dict[str, Any],
) -> AsyncIterator[Service]:
    identity = MongoIdentityStore(mongo[IDENTITY_DATABASE])
    owner = await make_user(identity, f"au-{unique}")
    svc = Service(aiohttp_client, automations_settings(topics, **overrides), owner)
    await svc.start()
    yield svc
    await svc.stop()


async def setup_webhook(
    svc: Service,
    receiver: Receiver,
    *,
    event: dict[str, Any],
    payload: Any = None,
    name: str = "notify",
    headers: dict[str, str] | None = None,
) -> str:
    """An integration pointing at ``receiver`` and an automation using it; the signing secret."""
    created = await svc.ok(
        "POST",
        svc.url("integrations"),
        {"name": f"{name}-hook", "url": receiver.url(), "headers": headers or {}},
        status=201,
    )
    automation: dict[str, Any] = {
        "name": name,
        "event": event,
        "action": {"integration": f"{name}-hook", "payload": payload},
    }
    await svc.ok("POST", svc.url("automations"), automation, status=201)
    return str(created["signing_secret"])


def alias_event(entity: str, alias: str = "production", **changes: Any) -> Envelope:
    """``model.alias.added`` in ``entity``'s registered model "Quickstart Model Registry"."""
    data: EventData = ModelAliasAdded.example().model_copy(
        update={
            "collection_id": f"{entity}/model/Quickstart Model Registry",
            "source_sequence": f"{entity}/Models_Quickstart/model_3f2a9c1d",
            "alias": alias,
            **changes,
        }
    )
    return wrap(data, entity, key=f"{entity}/model/Quickstart Model Registry")


def wrap(data: EventData, entity: str, *, key: str, project: str = "") -> Envelope:
    return Envelope.wrap(
        data,
        id=new_id(),
        source="/cairn/registry",
        subject=key,
        cause=Cause(actor=entity),
        entity=entity,
        project=project,
    )


PRODUCTION_FILTER = {
    "types": ["model.alias.added"],
    "scope": {"type": "registered_model", "collection": "Quickstart Model Registry"},
    "alias_pattern": "^production$",
}
