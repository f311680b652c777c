"""The history writer process: ``python -m cairn_ingest.history_writer`` (``cairn-ingest-history``).

A process of its own, so that it can be killed, restarted and scaled apart from ingest's HTTP
API: a consumer group member (``ingest.history``) on ``cairn.run-history`` with a small HTTP
app for ``/healthz``, ``/readyz`` and ``/metrics`` on ``CAIRN_HTTP_PORT``. More processes split
the topic's partitions. It writes ingest's database (``cairn_ingest``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from cairn_shared.events.topics import Topic
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.http.keys import MONGO, PUBLISHER, SETTINGS
from cairn_shared.http.metrics import METRICS
from cairn_shared.kafka.consumer import ConsumerRunner, on_batch
from cairn_shared.service import consumer_context, serve
from cairn_shared.settings import Settings
from prometheus_client import Gauge

from cairn_ingest.adapters.history_repository import HistoryRepository
from cairn_ingest.handlers.history_writer import HANDLED, HistoryWriter

SERVICE = "ingest-history"
DATABASE = "cairn_ingest"  # ingest owns run history: the writer shares its database
GROUP = "ingest.history"
# Each round of writes costs a few milliseconds of the database whatever its size: gathering
# a fetch's worth for this long makes fewer, larger rounds under load.
BATCH_LINGER_MS = 100
WRITER = web.AppKey("history_writer", HistoryWriter)


def create_app(settings: Settings) -> web.Application:
    return create_base_app(
        settings,
        contexts=[publisher_context, writer_context, consumer_context(history_runner)],
        probes={"kafka": kafka_probe},
    )


async def writer_context(app: web.Application) -> AsyncIterator[None]:
    repository = HistoryRepository(app[MONGO][app[SETTINGS].database_name])
    writer = HistoryWriter(repository)
    app[WRITER] = writer
    registry = app[METRICS].registry
    Gauge("cairn_history_rows_stored", "Rows stored since start", registry=registry).set_function(
        lambda: writer.rows_stored
    )
    Gauge(
        "cairn_history_duplicates_skipped", "Retried batches skipped", registry=registry
    ).set_function(lambda: writer.duplicates)
    yield


def history_runner(app: web.Application) -> ConsumerRunner:
    writer = app[WRITER]
    return ConsumerRunner(
        app[SETTINGS],
        group_id=GROUP,
        topics=[Topic.RUN_HISTORY],
        handlers={},
        batch_handlers=on_batch(HANDLED, writer.handle),
        dead_letters=app[PUBLISHER],
        on_assigned=writer.forget,
        on_idle=writer.save_idle,
        batch_linger_ms=BATCH_LINGER_MS,
    )


def main() -> None:
    def build(settings: Settings) -> web.Application:
        if not settings.mongo_database:
            settings = settings.model_copy(update={"mongo_database": DATABASE})
        return create_app(settings)

    serve(SERVICE, build)


if __name__ == "__main__":
    main()
