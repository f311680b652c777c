"""Wires ingest: its routes, the Kafka publishers, the client of other services, and the run
writer consumer. The history writer runs in a process of its own (``history_writer.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from aiokafka.errors import KafkaError
from cairn_shared.events.topics import Topic
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.http.keys import IDENTITY, MONGO, PUBLISHER, SETTINGS
from cairn_shared.http.service_client import HTTP_SESSION, http_session_context
from cairn_shared.kafka.consumer import ConsumerRunner
from cairn_shared.retry import until_available
from cairn_shared.service import consumer_context
from cairn_shared.settings import Settings

from cairn_ingest.adapters.history_publisher import history_publisher
from cairn_ingest.adapters.history_repository import HistoryRepository
from cairn_ingest.adapters.peers import HttpArtifactPeers
from cairn_ingest.adapters.run_repository import RunRepository
from cairn_ingest.domain.admission import Admission
from cairn_ingest.entrypoints.http import (
    artifacts,
    history,
    history_reads,
    identity,
    links,
    run_updates,
    runs,
)
from cairn_ingest.entrypoints.http.app_keys import (
    ADMISSION,
    HISTORY,
    HISTORY_PUBLISHER,
    PEERS,
    RUNS,
)
from cairn_ingest.handlers.run_writer import run_writer_handlers


def create_app(settings: Settings) -> web.Application:
    app = create_base_app(
        settings,
        routes=[
            *identity.routes,
            *runs.routes,
            *history.routes,
            *history_reads.routes,
            *run_updates.routes,
            *artifacts.routes,
            *links.routes,
        ],
        contexts=[
            publisher_context,
            history_publisher_context,
            http_session_context,
            repositories_context,
            consumer_context(run_writer),
        ],
        probes={"kafka": kafka_probe},
    )
    # History batches arrive gzip-compressed and are stored as they came: aiohttp must hand
    # over the raw bytes instead of inflating them (and the history route inflates with a
    # cap). aiohttp takes server options only through this attribute of the app; the route
    # still copes if a server was built without it.
    app._handler_args = {"auto_decompress": False}
    return app


async def repositories_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[RUNS] = RunRepository(app[MONGO][settings.database_name])
    app[HISTORY] = HistoryRepository(app[MONGO][settings.database_name])
    app[ADMISSION] = Admission(
        max_requests=settings.history_max_inflight_requests,
        max_bytes=settings.history_max_inflight_bytes,
    )
    app[PEERS] = HttpArtifactPeers(
        app[HTTP_SESSION], manifest_url=settings.manifest_url, storage_url=settings.storage_url
    )
    yield


async def history_publisher_context(app: web.Application) -> AsyncIterator[None]:
    """Run history has its own producer (see ``history_publisher``);
    ``publisher_context`` before it has made sure the topics exist."""
    publisher = history_publisher(app[SETTINGS])
    await until_available("kafka", publisher.start, retry_on=(KafkaError,))
    app[HISTORY_PUBLISHER] = publisher
    yield
    await publisher.stop()


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
