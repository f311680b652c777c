"""Wires storage: the blob index, the S3 blob store (bucket ensured at start), the Kafka
publisher, the routes and storage's own metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from cairn_shared.blobstore import S3BlobStore
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.http.keys import MONGO, SETTINGS
from cairn_shared.http.metrics import METRICS
from cairn_shared.retry import until_available
from cairn_shared.settings import Settings
from minio.error import S3Error
from pymongo.errors import PyMongoError
from urllib3.exceptions import HTTPError

from cairn_storage.adapters.blob_index import MongoBlobIndex
from cairn_storage.adapters.known_blobs import KnownBlobs
from cairn_storage.adapters.metrics import StorageMetrics
from cairn_storage.entrypoints.http import blobs, uploads
from cairn_storage.entrypoints.http.app_keys import BLOBS, INDEX, POLICY, STORAGE_METRICS
from cairn_storage.entrypoints.http.errors import dependency_errors
from cairn_storage.service_layer.uploads import UploadPolicy


def create_app(settings: Settings) -> web.Application:
    app = create_base_app(
        settings,
        routes=[*uploads.routes, *blobs.routes],
        contexts=[publisher_context, blobstore_context, index_context],
        probes={"kafka": kafka_probe, "s3": s3_probe},
    )
    # Innermost, so the shared JSON-error middleware renders the 503s it raises.
    app.middlewares.append(dependency_errors)
    app[POLICY] = UploadPolicy.from_settings(settings)
    app[STORAGE_METRICS] = StorageMetrics.create(app[METRICS].registry)
    return app


async def blobstore_context(app: web.Application) -> AsyncIterator[None]:
    blobs = S3BlobStore(app[SETTINGS])
    await until_available("s3", blobs.ensure_bucket, retry_on=(S3Error, HTTPError, OSError))
    app[BLOBS] = blobs
    yield
    await blobs.close()


async def index_context(app: web.Application) -> AsyncIterator[None]:
    index = MongoBlobIndex(app[MONGO][app[SETTINGS].database_name])
    await until_available("mongodb", index.setup, retry_on=(PyMongoError,))
    app[INDEX] = KnownBlobs(index)
    yield


async def s3_probe(app: web.Application) -> None:
    await app[BLOBS].ensure_bucket()
