"""Object storage: the ``BlobStore`` port and its S3 adapter over minio-py.

Only plain S3 calls: no MinIO admin API, so an operator can point Cairn at any S3 service.
minio-py is synchronous, so every call runs in a worker thread; bulk bytes never pass through
a service: clients get presigned URLs.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol
from urllib.parse import urlsplit

from minio import Minio
from minio.error import S3Error

from cairn_shared.settings import Settings

_NOT_FOUND = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"}


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    etag: str


class BlobStore(Protocol):
    async def ensure_bucket(self) -> None: ...

    async def stat(self, key: str) -> BlobInfo | None: ...

    async def put_bytes(self, key: str, data: bytes, content_type: str = ...) -> BlobInfo: ...

    async def get_bytes(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def presigned_put(self, key: str, expires: timedelta) -> str: ...

    async def presigned_get(self, key: str, expires: timedelta) -> str: ...


def _client(endpoint: str, settings: Settings) -> Minio:
    url = urlsplit(endpoint)
    return Minio(
        url.netloc,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=url.scheme == "https",
        region=settings.s3_region,
    )


class S3BlobStore:
    """``BlobStore`` on any S3 service. Presigned URLs use the endpoint clients can reach."""

    def __init__(self, settings: Settings) -> None:
        self._bucket = settings.s3_bucket
        self._client = _client(settings.s3_endpoint, settings)
        # Presigning is local computation, but the URL embeds the host the client will call.
        self._public = _client(settings.s3_public_endpoint or settings.s3_endpoint, settings)

    async def ensure_bucket(self) -> None:
        def run() -> None:
            if not self._client.bucket_exists(self._bucket):
                try:
                    self._client.make_bucket(self._bucket)
                except S3Error as exc:
                    if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise

        await asyncio.to_thread(run)

    async def stat(self, key: str) -> BlobInfo | None:
        def run() -> BlobInfo | None:
            try:
                stat = self._client.stat_object(self._bucket, key)
            except S3Error as exc:
                if exc.code in _NOT_FOUND:
                    return None
                raise
            return BlobInfo(key=key, size=stat.size or 0, etag=(stat.etag or "").strip('"'))

        return await asyncio.to_thread(run)

    async def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> BlobInfo:
        def run() -> BlobInfo:
            result = self._client.put_object(
                self._bucket, key, io.BytesIO(data), len(data), content_type=content_type
            )
            return BlobInfo(key=key, size=len(data), etag=(result.etag or "").strip('"'))

        return await asyncio.to_thread(run)

    async def get_bytes(self, key: str) -> bytes:
        def run() -> bytes:
            response = self._client.get_object(self._bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(run)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._client.remove_object, self._bucket, key)

    async def presigned_put(self, key: str, expires: timedelta) -> str:
        return await asyncio.to_thread(
            self._public.presigned_put_object, self._bucket, key, expires
        )

    async def presigned_get(self, key: str, expires: timedelta) -> str:
        return await asyncio.to_thread(
            self._public.presigned_get_object, self._bucket, key, expires
        )
