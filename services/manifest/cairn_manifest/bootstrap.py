"""Wires manifest: the Kafka publisher and the lineage consumer."""

from __future__ import annotations

from aiohttp import web
from cairn_shared.events.topics import Topic
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.http.keys import MONGO, PUBLISHER, SETTINGS
from cairn_shared.kafka.consumer import ConsumerRunner
from cairn_shared.service import consumer_context
from cairn_shared.settings import Settings

from cairn_manifest.adapters.run_refs import RunRefRepository
from cairn_manifest.handlers.lineage import lineage_handlers


def create_app(settings: Settings) -> web.Application:
    return create_base_app(
        settings,
        contexts=[publisher_context, consumer_context(lineage_consumer)],
        probes={"kafka": kafka_probe},
    )


def lineage_consumer(app: web.Application) -> ConsumerRunner:
    runs = RunRefRepository(app[MONGO][app[SETTINGS].database_name])
    return ConsumerRunner(
        app[SETTINGS],
        group_id="manifest.lineage",
        topics=[Topic.RUNS],
        handlers=lineage_handlers(runs),
        dead_letters=app[PUBLISHER],
    )
