"""Wires ingest: its routes, the Kafka publisher, and the run writer consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from cairn_shared.events.topics import Topic
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.http.keys import IDENTITY, MONGO, PUBLISHER, SETTINGS
from cairn_shared.kafka.consumer import ConsumerRunner
from cairn_shared.service import consumer_context
from cairn_shared.settings import Settings

from cairn_ingest.adapters.run_repository import RunRepository
from cairn_ingest.entrypoints.http import identity, runs
from cairn_ingest.entrypoints.http.app_keys import RUNS
from cairn_ingest.handlers.run_writer import run_writer_handlers


def create_app(settings: Settings) -> web.Application:
    return create_base_app(
        settings,
        routes=[*identity.routes, *runs.routes],
        contexts=[publisher_context, repositories_context, consumer_context(run_writer)],
        probes={"kafka": kafka_probe},
    )


async def repositories_context(app: web.Application) -> AsyncIterator[None]:
    repository = RunRepository(app[MONGO][app[SETTINGS].database_name])
    app[RUNS] = repository
    yield


def run_writer(app: web.Application) -> ConsumerRunner:
    runs = app[RUNS]
    return ConsumerRunner(
        app[SETTINGS],
        group_id="ingest.run-writer",
        topics=[Topic.RUNS],
        handlers=run_writer_handlers(runs, app[IDENTITY]),
        dead_letters=app[PUBLISHER],
        on_start=runs.setup,
    )
