"""The registry's consumer on the real broker and database: links that wait for their commit,
type checks, alias moves and their events, and redelivery.

The whole registry app runs (its consumer included) on a per-test topic prefix and database;
commands and ``artifact.committed`` are published here as ingest and manifest would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiokafka import AIOKafkaConsumer, TopicPartition
from cairn_registry.adapters.artifacts import ArtifactVersions, PendingLinks
from cairn_registry.adapters.collections import CollectionStore, WriterCollectionStore
from cairn_registry.adapters.registries import RegistryStore
from cairn_registry.bootstrap import create_app
from cairn_registry.domain.plans import Plan
from cairn_registry.handlers.commands import CollectionWriter
from cairn_shared.auth.identity_store import IDENTITY_DATABASE, MongoIdentityStore
from cairn_shared.auth.roles import Role
from cairn_shared.events.artifacts import ArtifactCommitted
from cairn_shared.events.envelope import Cause, Envelope, EventData
from cairn_shared.events.registry import (
    ModelAliasChangeRequested,
    ModelLinkRequested,
    ModelUnlinkRequested,
)
from cairn_shared.events.topics import Topic, topic_name
from cairn_shared.ids import derive_id, new_id
from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.mongo import Database, Document
from cairn_shared.settings import Settings
from pymongo import AsyncMongoClient

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]
COLLECTION = "Quickstart Model Registry"


@dataclass(frozen=True)
class Person:
    name: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass(frozen=True)
class Team:
    """An entity with one user of each role (names unique: the identity database is shared)."""

    entity: str
    admin: Person
    member: Person
    viewer: Person
    restricted: Person
    outsider: Person


@pytest.fixture
async def team(mongo: AsyncMongoClient[Document], unique: str) -> Team:
    return await make_team(mongo, unique)


async def make_team(mongo: AsyncMongoClient[Document], unique: str) -> Team:
    store = MongoIdentityStore(mongo[IDENTITY_DATABASE])
    people: dict[str, Person] = {}
    for role in ("admin", "member", "viewer", "restricted", "outsider"):
        name = f"{role}-{unique}"
        await store.create_user(name)
        people[role] = Person(name, await store.create_api_key(name, "test"))
    entity = f"team-{unique}"
    await store.create_team(entity, owner=people["admin"].name)
    await store.set_role(entity, people["member"].name, Role.MEMBER)
    await store.set_role(entity, people["viewer"].name, Role.VIEWER)
    await store.set_role(entity, people["restricted"].name, Role.RESTRICTED_VIEWER)
    return Team(entity, **people)


@pytest.fixture
async def publisher(topics: Settings) -> AsyncIterator[KafkaEventPublisher]:
    publisher = KafkaEventPublisher(topics)
    await publisher.start()
    yield publisher
    await publisher.stop()


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, topics: Settings, mongo: AsyncMongoClient[Document]
) -> Client:
    """The registry app with its consumer running; the ``mongo`` fixture drops its database."""
    return await aiohttp_client(create_app(topics))


@pytest.fixture
def db(mongo: AsyncMongoClient[Document], settings: Settings) -> Database:
    return mongo[settings.database_name]


def committed(
    entity: str, index: int, *, artifact_type: str = "model", name: str = "net"
) -> Envelope:
    sequence = f"{entity}/proj/{name}"
    submission = f"sub-{entity}-{name}-{index}"
    event = ArtifactCommitted(
        sequence=sequence,
        name=name,
        artifact_type=artifact_type,
        version_id=derive_id(sequence, str(index)),
        version_index=index,
        manifest_digest=f"{index:064x}",
        size=100 + index,
        file_count=1,
        created=True,
        aliases=["latest"],
        metadata={"acc": 0.9 + index / 100, "val.loss": 1.0 / (index + 1)},
        run_id="run1",
        submission_id=submission,
        committed_at=datetime.now(UTC),
    )
    return _wrap(event, entity, subject=sequence, actor="manifest")


def link(
    entity: str,
    *,
    index: int | None = None,
    submission: str = "",
    aliases: Sequence[str] = (),
    admin: bool = False,
    actor: str = "someone",
    name: str = "net",
    collection: str = COLLECTION,
    registry: str = "model",
) -> Envelope:
    cid = f"{entity}/{registry}/{collection}"
    event = ModelLinkRequested(
        collection_id=cid,
        registry=registry,
        collection=collection,
        source_sequence=f"{entity}/proj/{name}",
        source_version_index=index,
        source_submission_id=submission,
        aliases=list(aliases),
        run_id="run1",
        requested_by_admin=admin,
    )
    return _wrap(event, entity, subject=cid, actor=actor)


def alias_change(
    entity: str, alias: str, index: int | None, *, admin: bool, actor: str
) -> Envelope:
    cid = f"{entity}/model/{COLLECTION}"
    event = ModelAliasChangeRequested(
        collection_id=cid,
        registry="model",
        collection=COLLECTION,
        alias=alias,
        link_index=index,
        requested_by_admin=admin,
    )
    return _wrap(event, entity, subject=cid, actor=actor)


def unlink(entity: str, index: int) -> Envelope:
    cid = f"{entity}/model/{COLLECTION}"
    event = ModelUnlinkRequested(
        collection_id=cid,
        registry="model",
        collection=COLLECTION,
        link_index=index,
        requested_by_admin=True,  # it may hold a protected alias
    )
    return _wrap(event, entity, subject=cid, actor="someone")


REQUESTS: dict[str, type[EventData]] = {
    "model.link.requested": ModelLinkRequested,
    "model.alias.change.requested": ModelAliasChangeRequested,
    "model.unlink.requested": ModelUnlinkRequested,
}


def _wrap(event: EventData, entity: str, *, subject: str, actor: str) -> Envelope:
    return Envelope.wrap(
        event,
        id=new_id(),
        source="/test",
        subject=subject,
        cause=Cause(actor, requestid=new_id()),
        entity=entity,
    )


async def result_of(db: Database, command_id: str, timeout_s: float = 60) -> Document:
    """The command's finished result; the first one waits for the consumer to join its group."""
    async with asyncio.timeout(timeout_s):
        while True:
            doc = await db["command_results"].find_one({"_id": command_id})
            if doc is not None:
                return doc
            await asyncio.sleep(0.05)


async def alias_holders(db: Database, alias: str) -> list[int]:
    """The link indexes holding ``alias``, over every collection of the database."""
    return [
        held["link_index"]
        async for collection in db["collections"].find()
        for held in collection.get("aliases", [])
        if held["alias"] == alias
    ]


async def until(check: Callable[[], Awaitable[object]], timeout_s: float = 60) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


async def publish_commits(publisher: KafkaEventPublisher, db: Database, *commits: Envelope) -> None:
    """Publish ``artifact.committed`` events and wait until the registry has recorded them: they
    travel on another topic than the commands, so without this a link may be handled first (it
    then waits for the commit and is re-issued, a second ``model.link.requested``)."""
    await publish(publisher, *commits)
    versions = ArtifactVersions(db)

    async def all_recorded() -> bool:
        for commit in commits:
            event = ArtifactCommitted.model_validate(commit.data)
            if await versions.get(event.sequence, event.version_index) is None:
                return False
        return True

    await until(all_recorded)


async def publish(publisher: KafkaEventPublisher, *envelopes: Envelope) -> None:
    await publisher.publish_many([(e, e.subject) for e in envelopes])


async def registry_events(settings: Settings) -> list[Envelope]:
    """Every event on the registry topic so far, read by a plain consumer (no group)."""
    topic = topic_name(Topic.REGISTRY, settings.kafka_topic_prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.kafka_partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Envelope] = []
        async with asyncio.timeout(30):
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend(Envelope.from_bytes(r.value) for r in records)
        return found
    finally:
        await consumer.stop()


async def linked_versions(
    publisher: KafkaEventPublisher,
    db: Database,
    entity: str,
    count: int,
    *,
    actor: str,
    collection: str = COLLECTION,
) -> None:
    """``count`` committed model versions, each linked: v0..v(count-1)."""
    await publish(publisher, *(committed(entity, i) for i in range(count)))
    for i in range(count):
        command = link(entity, index=i, actor=actor, collection=collection)
        await publish(publisher, command)
        assert (await result_of(db, command.id))["status"] == "done"


async def test_a_link_before_the_commit_completes_when_the_commit_arrives(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team, settings: Settings
) -> None:
    request = link(team.entity, submission=f"sub-{team.entity}-net-0", actor=team.member.name)
    await publish(publisher, request)
    await until(lambda: db["pending_links"].count_documents({}))  # the link waits
    status = await client.get(
        f"/v1/entities/{team.entity}/commands/{request.id}", headers=team.viewer.headers
    )
    assert (await status.json())["status"] == "pending"

    await publish(publisher, committed(team.entity, 0))

    result = await result_of(db, request.id)
    assert (result["status"], result["link_index"]) == ("done", 0)
    status = await client.get(
        f"/v1/entities/{team.entity}/commands/{request.id}", headers=team.viewer.headers
    )
    assert await status.json() == {
        "command_id": request.id,
        "status": "done",
        "link_index": 0,
        "version": "v0",
    }
    version = await client.get(
        f"/v1/entities/{team.entity}/registries/model/collections/{COLLECTION}/versions/latest",
        headers=team.viewer.headers,
    )
    body = await version.json()
    assert body["version"] == "v0"
    assert body["linked_by"] == team.member.name
    assert body["source"]["metadata"] == {"acc": 0.9, "val.loss": 1.0}
    assert await db["pending_links"].count_documents({}) == 0
    linked = [e for e in await registry_events(settings) if e.type == "model.linked"]
    assert [(e.actor, e.requestid) for e in linked] == [(team.member.name, request.requestid)]


async def test_a_link_of_a_type_the_registry_does_not_accept_is_rejected(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team, settings: Settings
) -> None:
    await publish_commits(
        publisher, db, committed(team.entity, 0, artifact_type="dataset", name="mnist")
    )
    request = link(team.entity, index=0, name="mnist", aliases=["staging"])
    await publish(publisher, request)

    result = await result_of(db, request.id)

    assert (result["status"], result["code"]) == ("rejected", "type_not_accepted")
    assert "*model*" in result["reason"]
    for name in ("collections", "links", "aliases", "history"):
        assert await db[name].count_documents({}) == 0, name
    assert [e.type for e in await registry_events(settings)] == ["model.link.requested"]


async def test_moving_production_leaves_one_holder_and_one_pair_of_events(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team, settings: Settings
) -> None:
    await linked_versions(publisher, db, team.entity, 3, actor=team.member.name)
    url = f"/v1/entities/{team.entity}/registries/model/collections/{COLLECTION}"
    first = await client.put(
        f"{url}/aliases/production", json={"version": "v1"}, headers=team.admin.headers
    )
    assert first.status == 200, await first.text()

    moved = await client.put(
        f"{url}/aliases/production", json={"version": "v2"}, headers=team.admin.headers
    )

    assert moved.status == 200, await moved.text()
    assert (await moved.json())["version"] == "v2"
    assert await alias_holders(db, "production") == [2]
    history = await (
        await client.get(f"{url}/history?alias=production", headers=team.viewer.headers)
    ).json()
    assert [(e["action"], e["version"], e["actor"]) for e in history["entries"]] == [
        ("alias_added", "v1", team.admin.name),
        ("alias_removed", "v1", team.admin.name),
        ("alias_added", "v2", team.admin.name),
    ]
    # The move's events carry the HTTP request's id: exactly one removed and one added.
    request_id = moved.headers["X-Request-Id"]
    events = [
        (e.type, e.data["alias"], e.data["version"], e.actor)
        for e in await registry_events(settings)
        if e.requestid == request_id and e.type in ("model.alias.added", "model.alias.removed")
    ]
    assert events == [
        ("model.alias.removed", "production", "v1", team.admin.name),
        ("model.alias.added", "production", "v2", team.admin.name),
    ]


async def test_redelivered_commands_change_nothing(
    client: Client, publisher: KafkaEventPublisher, db: Database, team: Team, settings: Settings
) -> None:
    await publish_commits(publisher, db, committed(team.entity, 0), committed(team.entity, 1))
    first = link(team.entity, index=0, aliases=["staging"])
    move = alias_change(team.entity, "staging", None, admin=False, actor="x")
    sentinel = link(team.entity, index=1)
    # Each command twice, as Kafka may deliver it after a crash before the offset commit.
    await publish(publisher, first, first, move, move, sentinel)
    await result_of(db, sentinel.id)

    assert await db["links"].count_documents({}) == 2
    # linked, latest, staging; staging removed; linked, latest removed, latest added
    assert await db["history"].count_documents({}) == 7
    events = [e for e in await registry_events(settings) if not e.type.endswith(".requested")]
    assert len({e.id for e in events}) == len(events) == 7
    assert await alias_holders(db, "staging") == []


class FailOnce:
    """A publisher that fails its first batch once armed: a crash after the plan was committed
    and before the offset commit (the documents may be written, or half-written)."""

    def __init__(self, inner: KafkaEventPublisher) -> None:
        self.inner = inner
        self.armed = False
        self.failed = False
        self.published: list[str] = []

    async def publish(self, envelope: Envelope, *, key: str) -> None:
        await self.inner.publish(envelope, key=key)

    async def publish_many(self, items: Sequence[tuple[Envelope, str]]) -> None:
        if self.armed and not self.failed:
            self.failed = True
            raise ConnectionError("broker went away")
        await self.inner.publish_many(items)
        self.published += [envelope.id for envelope, _ in items]


# Both ways a plan is applied: a link's documents before its events, an alias move's history
# while its events go out.
CRASHED_COMMANDS = {
    "link": (
        lambda entity: link(entity, index=1, aliases=["production"], admin=True),
        [
            ("linked", "", "v1"),
            ("alias_removed", "latest", "v0"),
            ("alias_added", "latest", "v1"),
            ("alias_removed", "production", "v0"),
            ("alias_added", "production", "v1"),
        ],
    ),
    "alias move": (
        lambda entity: alias_change(entity, "production", 1, admin=True, actor="someone"),
        [("alias_removed", "production", "v0"), ("alias_added", "production", "v1")],
    ),
}


@pytest.mark.parametrize("kind", CRASHED_COMMANDS)
async def test_a_command_retried_after_a_crash_re_applies_its_committed_plan(
    kind: str, topics: Settings, publisher: KafkaEventPublisher, db: Database, team: Team
) -> None:
    make, expected_history = CRASHED_COMMANDS[kind]
    store = WriterCollectionStore(db)  # the writer's own, which remembers what it wrote
    await store.setup()
    versions = ArtifactVersions(db)
    flaky = FailOnce(publisher)
    writer = CollectionWriter(store, RegistryStore(db), versions, PendingLinks(db), flaky)
    handlers = writer.handlers()
    for i in range(2):
        envelope = committed(team.entity, i)
        event = ArtifactCommitted.model_validate(envelope.data)
        await versions.record(event)
    first = [link(team.entity, index=0, aliases=["production"], admin=True)]
    if kind == "alias move":
        first.append(link(team.entity, index=1))
    for command in first:
        await handlers[command.type](command, REQUESTS[command.type].model_validate(command.data))
    move = make(team.entity)
    data = REQUESTS[move.type].model_validate(move.data)
    flaky.armed = True

    with pytest.raises(ConnectionError):
        await handlers[move.type](move, data)
    head = await db["collections"].find_one({"_id": move.subject})
    assert head is not None
    assert head["plan"]["command_id"] == move.id  # the plan, committed
    assert await db["command_results"].find_one({"_id": move.id}) is None  # but no result
    # The state moved already; a re-decision would see production on v1 and emit nothing.
    assert await alias_holders(db, "production") == [1]
    await handlers[move.type](move, data)  # the redelivery
    await handlers[move.type](move, data)  # and once more: nothing at all

    assert (await result_of(db, move.id))["status"] == "done"
    history = await db["history"].find({"command_id": move.id}).sort("seq").to_list(None)
    assert [(h["action"], h["alias"], h["version"]) for h in history] == expected_history
    planned = [envelope.id for envelope, _ in Plan.from_document(head["plan"]).envelopes()]
    assert flaky.failed
    assert len(planned) >= 2
    assert flaky.published[-len(planned) :] == planned  # sent once, by the redelivery
    await assert_remembers_the_database(store, db, team.entity)


async def test_the_writers_memory_follows_every_kind_of_command(
    publisher: KafkaEventPublisher, db: Database, team: Team
) -> None:
    store = WriterCollectionStore(db)
    await store.setup()
    versions = ArtifactVersions(db)
    writer = CollectionWriter(store, RegistryStore(db), versions, PendingLinks(db), publisher)
    handlers = writer.handlers()
    for i in range(3):
        await versions.record(ArtifactCommitted.model_validate(committed(team.entity, i).data))
    commands = [
        link(team.entity, index=0, aliases=["production"], admin=True),
        link(team.entity, index=1, aliases=["staging"]),
        alias_change(team.entity, "production", 1, admin=True, actor=team.admin.name),
        link(team.entity, index=2),
        unlink(team.entity, 1),  # the alias holder: its aliases go with it
        alias_change(team.entity, "staging", None, admin=False, actor=team.member.name),
    ]

    for command in commands:
        await handlers[command.type](command, REQUESTS[command.type].model_validate(command.data))
        assert (await result_of(db, command.id))["status"] == "done"
        await assert_remembers_the_database(store, db, team.entity)

    store.forget()  # as on a partition reassignment: read again, and still the same
    await assert_remembers_the_database(store, db, team.entity)


async def assert_remembers_the_database(
    store: WriterCollectionStore, db: Database, entity: str
) -> None:
    remembered = await store.state(entity, "model", COLLECTION, touching=[0, 1, 2])
    assert remembered == await CollectionStore(db).state(
        entity, "model", COLLECTION, touching=[0, 1, 2]
    )
    head = await db["collections"].find_one({"_id": remembered.collection_id})
    assert head is not None
    plan = await store.recorded_plan(remembered.collection_id, head["plan"]["command_id"])
    assert plan is not None
    assert plan.events == Plan.from_document(head["plan"]).events


async def test_registry_settings_read_by_one_replica_follow_a_change_made_by_another(
    db: Database, unique: str
) -> None:
    here, elsewhere = RegistryStore(db), RegistryStore(db)
    first = await here.get(unique, "model")  # created on first use, then remembered
    assert first is not None
    assert first.revision == 0

    for revision in (1, 2):
        changed = replace(first, revision=revision, protected_aliases=(f"gate-{revision}",))
        assert await elsewhere.save(changed)

        now = await here.get(unique, "model")

        assert now is not None
        assert (now.revision, now.protected_aliases) == (
            revision,
            (f"gate-{revision}",),
        )
    assert await here.get(unique, "no-such-registry") is None
