"""Wires registry: its routes, the Kafka publisher, and the consumer that owns collections.

The consumer (group ``registry``) reads ``cairn.registry`` for commands, each applied by the
owner of the collection's partition, and ``cairn.artifacts`` for ``artifact.committed``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from cairn_shared.events.topics import Topic
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.http.keys import MONGO, PUBLISHER, SETTINGS
from cairn_shared.kafka.consumer import ConsumerRunner
from cairn_shared.service import consumer_context
from cairn_shared.settings import Settings

from cairn_registry.adapters.artifacts import ArtifactVersions, PendingLinks
from cairn_registry.adapters.collections import CollectionStore, WriterCollectionStore
from cairn_registry.adapters.reads import CollectionReads
from cairn_registry.adapters.registries import RegistryStore
from cairn_registry.entrypoints.http import changes, collections, registries
from cairn_registry.entrypoints.http.app_keys import COLLECTIONS, READS, REGISTRIES, WAITER
from cairn_registry.entrypoints.http.waiter import CommandWaiter
from cairn_registry.handlers.artifacts import artifact_handlers
from cairn_registry.handlers.commands import CollectionWriter

CONSUMER_GROUP = "registry"


def create_app(settings: Settings) -> web.Application:
    return create_base_app(
        settings,
        routes=[*registries.routes, *collections.routes, *changes.routes],
        contexts=[publisher_context, repositories_context, consumer_context(registry_consumer)],
        probes={"kafka": kafka_probe},
    )


async def repositories_context(app: web.Application) -> AsyncIterator[None]:
    db = app[MONGO][app[SETTINGS].database_name]
    store = CollectionStore(db)
    app[COLLECTIONS] = store
    app[READS] = CollectionReads(store)
    app[REGISTRIES] = RegistryStore(db)
    app[WAITER] = CommandWaiter(app[READS])
    yield
    await app[WAITER].close()


def registry_consumer(app: web.Application) -> ConsumerRunner:
    settings = app[SETTINGS]
    db = app[MONGO][settings.database_name]
    versions, pending = ArtifactVersions(db), PendingLinks(db)
    owned = WriterCollectionStore(db)
    writer = CollectionWriter(
        collections=owned,
        registries=app[REGISTRIES],
        versions=versions,
        pending=pending,
        publisher=app[PUBLISHER],
        on_result=app[WAITER].resolve,
    )

    async def setup() -> None:
        await app[COLLECTIONS].setup()
        await app[REGISTRIES].setup()
        await pending.setup()

    return ConsumerRunner(
        settings,
        group_id=CONSUMER_GROUP,  # the runner adds the topic prefix
        topics=[Topic.REGISTRY, Topic.ARTIFACTS],
        handlers={**writer.handlers(), **artifact_handlers(versions, pending, app[PUBLISHER])},
        dead_letters=app[PUBLISHER],
        on_start=setup,
        on_assigned=owned.forget,  # what it remembers holds only for the partitions it owns
    )
