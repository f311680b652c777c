"""Wires ingest: its routes, the Kafka publisher, the client of other services, and the run
writer consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from cairn_shared.events.topics import Topic
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.http.keys import IDENTITY, MONGO, PUBLISHER, SETTINGS
from cairn_shared.http.service_client import HTTP_SESSION, http_session_context
from cairn_shared.kafka.consumer import ConsumerRunner
from cairn_shared.service import consumer_context
from cairn_shared.settings import Settings

from cairn_ingest.adapters.peers import HttpArtifactPeers
from cairn_ingest.adapters.run_repository import RunRepository
from cairn_ingest.entrypoints.http import artifacts, identity, links, runs
from cairn_ingest.entrypoints.http.app_keys import PEERS, RUNS
from cairn_ingest.handlers.run_writer import run_writer_handlers


def create_app(settings: Settings) -> web.Application:
    return create_base_app(
        settings,
        routes=[*identity.routes, *runs.routes, *artifacts.routes, *links.routes],
        contexts=[
            publisher_context,
            http_session_context,
            repositories_context,
            consumer_context(run_writer),
        ],
        probes={"kafka": kafka_probe},
    )


async def repositories_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[RUNS] = RunRepository(app[MONGO][settings.database_name])
    app[PEERS] = HttpArtifactPeers(
        app[HTTP_SESSION], manifest_url=settings.manifest_url, storage_url=settings.storage_url
    )
    yield


def run_writer(app: web.Application) -> ConsumerRunner:
    runs = app[RUNS]
    return ConsumerRunner(
        app[SETTINGS],
        # Prefixed like the topics, so a test's consumers never join the stack's own group.
        group_id="ingest.run-writer",
        topics=[Topic.RUNS],
        handlers=run_writer_handlers(runs, app[IDENTITY]),
        dead_letters=app[PUBLISHER],
        on_start=runs.setup,
    )
