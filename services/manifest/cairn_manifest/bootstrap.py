"""Wires manifest: repositories, the object store (for manifests), the Kafka publisher, the
artifact writer and the lineage consumer, and the read routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from cairn_shared.blobstore import S3BlobStore
from cairn_shared.events.topics import Topic
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.http.keys import MONGO, PUBLISHER, SETTINGS
from cairn_shared.kafka.consumer import ConsumerRunner
from cairn_shared.service import consumer_context
from cairn_shared.settings import Settings

from cairn_manifest.adapters.artifact_repository import ArtifactRepository
from cairn_manifest.adapters.run_refs import RunRefRepository
from cairn_manifest.adapters.submission_repository import SubmissionRepository
from cairn_manifest.entrypoints.http import artifacts
from cairn_manifest.entrypoints.http.app_keys import ARTIFACTS, BLOBS, SUBMISSIONS
from cairn_manifest.handlers.artifacts import ArtifactWriter
from cairn_manifest.handlers.lineage import lineage_handlers


def create_app(settings: Settings) -> web.Application:
    return create_base_app(
        settings,
        routes=artifacts.routes,
        contexts=[
            publisher_context,
            repositories_context,
            consumer_context(lineage_consumer),
            consumer_context(artifact_consumer),
        ],
        probes={"kafka": kafka_probe},
    )


async def repositories_context(app: web.Application) -> AsyncIterator[None]:
    db = app[MONGO][app[SETTINGS].database_name]
    app[ARTIFACTS] = ArtifactRepository(db)
    app[SUBMISSIONS] = SubmissionRepository(db)
    # No bucket check at start: manifests are read only for the hint of a 404.
    blobs = S3BlobStore(app[SETTINGS])
    app[BLOBS] = blobs
    yield
    await blobs.close()


def lineage_consumer(app: web.Application) -> ConsumerRunner:
    runs = RunRefRepository(app[MONGO][app[SETTINGS].database_name])
    return ConsumerRunner(
        app[SETTINGS],
        group_id="manifest.lineage",
        topics=[Topic.RUNS],
        handlers=lineage_handlers(runs),
        dead_letters=app[PUBLISHER],
    )


def artifact_consumer(app: web.Application) -> ConsumerRunner:
    """The one writer of each artifact sequence: the member that owns its partition."""
    artifacts, submissions = app[ARTIFACTS], app[SUBMISSIONS]

    async def setup() -> None:
        await artifacts.setup()
        await submissions.setup()

    return ConsumerRunner(
        app[SETTINGS],
        group_id="manifest.artifacts",
        topics=[Topic.ARTIFACTS],
        handlers=ArtifactWriter(artifacts, submissions, app[PUBLISHER]).handlers(),
        dead_letters=app[PUBLISHER],
        on_start=setup,
    )
