"""Wires storage: the S3 blob store (bucket ensured at start) and the Kafka publisher."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from cairn_shared.blobstore import S3BlobStore
from cairn_shared.http.app import create_app as create_base_app
from cairn_shared.http.app import kafka_probe, publisher_context
from cairn_shared.http.keys import SETTINGS
from cairn_shared.retry import until_available
from cairn_shared.settings import Settings
from minio.error import S3Error
from urllib3.exceptions import HTTPError

BLOBS = web.AppKey("blobs", S3BlobStore)


def create_app(settings: Settings) -> web.Application:
    return create_base_app(
        settings,
        contexts=[publisher_context, blobstore_context],
        probes={"kafka": kafka_probe, "s3": s3_probe},
    )


async def blobstore_context(app: web.Application) -> AsyncIterator[None]:
    blobs = S3BlobStore(app[SETTINGS])
    await until_available("s3", blobs.ensure_bucket, retry_on=(S3Error, HTTPError, OSError))
    app[BLOBS] = blobs
    yield


async def s3_probe(app: web.Application) -> None:
    await app[BLOBS].ensure_bucket()
