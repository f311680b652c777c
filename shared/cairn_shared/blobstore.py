"""Object storage: the ``BlobStore`` port and its S3 adapter over minio-py.

Only plain S3 calls: no MinIO admin API, so an operator can point Cairn at any S3 service.
minio-py is synchronous, so every call runs in a worker thread of the store's own bounded pool
(the event loop's default executor has ``cpu + 4`` threads and is shared with DNS lookups);
bulk bytes never pass through a service: clients get presigned URLs.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import io
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.datatypes import Part
from minio.error import S3Error

from cairn_shared import sigv4
from cairn_shared.settings import Settings

T = TypeVar("T")

_NOT_FOUND = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"}
# What S3 answers when a multipart upload cannot be completed as asked.
_MULTIPART_REJECTIONS = {
    "NoSuchUpload",
    "InvalidPart",
    "InvalidPartOrder",
    "EntityTooSmall",
    "MalformedXML",
}
_HASH_CHUNK = 8 * 1024 * 1024
_Headers = dict[str, str | list[str] | tuple[str]]  # minio-py's header mapping


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    etag: str
    # The object's full SHA-256 (base64) as S3 stored it, when asked for and known.
    checksum_sha256: str | None = None


@dataclass(frozen=True)
class HashedBlob:
    """What streaming an object back measured: its length and SHA-256."""

    size: int
    sha256_hex: str


@dataclass(frozen=True)
class HashedSlices:
    """What streaming an object back measured: its length, and the SHA-256 of each of the
    consecutive slices asked for that the object held in full."""

    size: int
    sha256_hex: tuple[str, ...]


class SliceHasher:
    """SHA-256 of consecutive slices of a stream, fed chunk by chunk."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self._sizes = list(reversed(sizes))
        self._left = self._sizes.pop() if self._sizes else None
        self._hasher = hashlib.sha256()
        self.size = 0
        self.digests: list[str] = []
        self._settle()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        view = memoryview(chunk)
        while view and self._left is not None:
            take = min(self._left, len(view))
            self._hasher.update(view[:take])
            view = view[take:]
            self._left -= take
            self._settle()

    def _settle(self) -> None:
        while self._left == 0:  # a slice is complete (an empty one at once)
            self.digests.append(self._hasher.hexdigest())
            self._hasher = hashlib.sha256()
            self._left = self._sizes.pop() if self._sizes else None


@dataclass(frozen=True)
class PresignRequest:
    method: str  # "GET" or "PUT"
    key: str
    expires: timedelta
    query: Mapping[str, str] = field(default_factory=dict)  # e.g. uploadId and partNumber
    # Headers the client must send, covered by the signature (x-amz-checksum-sha256).
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    etag: str


class MultipartRejectedError(Exception):
    """S3 refused to complete a multipart upload; ``code`` is S3's reason (``NoSuchUpload``,
    ``InvalidPart``, ``InvalidPartOrder``, ``EntityTooSmall``, ``MalformedXML``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class BlobStore(Protocol):
    async def ensure_bucket(self) -> None: ...

    async def stat(self, key: str) -> BlobInfo | None: ...

    async def stat_with_checksum(self, key: str) -> BlobInfo | None: ...

    async def read_sha256(self, key: str) -> HashedBlob | None: ...

    async def read_sha256_slices(self, key: str, sizes: Sequence[int]) -> HashedSlices | None: ...

    async def put_bytes(self, key: str, data: bytes, content_type: str = ...) -> BlobInfo: ...

    async def get_bytes(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def presigned_put(self, key: str, expires: timedelta) -> str: ...

    async def presigned_get(self, key: str, expires: timedelta) -> str: ...

    async def presign_many(self, requests: Sequence[PresignRequest]) -> list[str]: ...

    async def create_multipart(self, key: str) -> str: ...

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[UploadedPart]
    ) -> None: ...

    async def abort_multipart(self, key: str, upload_id: str) -> None: ...


def _client(endpoint: str, settings: Settings) -> Minio:
    url = urlsplit(endpoint)
    # minio-py's own pool keeps 10 connections; size it to our thread pool so concurrent
    # calls reuse connections instead of opening and discarding them. Timeouts and retries
    # are minio-py's defaults.
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=300, read=300),
        maxsize=settings.s3_concurrency,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )
    return Minio(
        url.netloc,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=url.scheme == "https",
        region=settings.s3_region,
        http_client=http,
    )


class S3BlobStore:
    """``BlobStore`` on any S3 service. Presigned URLs use the endpoint clients can reach."""

    def __init__(self, settings: Settings) -> None:
        self._bucket = settings.s3_bucket
        self._client = _client(settings.s3_endpoint, settings)
        # Presigning is local computation (the region is set, so minio-py never asks the
        # server for it), but the URL embeds the host the client will call.
        self._public_endpoint = settings.s3_public_endpoint or settings.s3_endpoint
        self._public = _client(self._public_endpoint, settings)
        self._access_key = settings.s3_access_key.get_secret_value()
        self._secret_key = settings.s3_secret_key.get_secret_value()
        self._region = settings.s3_region
        self._pool = ThreadPoolExecutor(settings.s3_concurrency, thread_name_prefix="s3")

    async def close(self) -> None:
        """Let running calls finish and stop the worker threads."""
        await asyncio.to_thread(self._pool.shutdown, wait=True)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def ensure_bucket(self) -> None:
        def run() -> None:
            if not self._client.bucket_exists(self._bucket):
                try:
                    self._client.make_bucket(self._bucket)
                except S3Error as exc:
                    if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise

        await self._run(run)

    async def stat(self, key: str) -> BlobInfo | None:
        return await self._run(self._stat, key, False)

    async def stat_with_checksum(self, key: str) -> BlobInfo | None:
        """``stat`` plus the SHA-256 S3 verified on upload (``x-amz-checksum-sha256``), if the
        uploader sent one. Never a multipart upload's composite checksum (a checksum of part
        checksums): that is not the SHA-256 of the object."""
        return await self._run(self._stat, key, True)

    def _stat(self, key: str, with_checksum: bool) -> BlobInfo | None:
        headers: _Headers | None = {"x-amz-checksum-mode": "ENABLED"} if with_checksum else None
        try:
            stat = self._client.stat_object(self._bucket, key, extra_headers=headers)
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                return None
            raise
        meta = stat.metadata or {}
        checksum = meta.get("x-amz-checksum-sha256") if with_checksum else None
        if checksum and ("-" in checksum or meta.get("x-amz-checksum-type") == "COMPOSITE"):
            checksum = None
        return BlobInfo(
            key=key,
            size=stat.size or 0,
            etag=(stat.etag or "").strip('"'),
            checksum_sha256=checksum or None,
        )

    async def read_sha256(self, key: str) -> HashedBlob | None:
        """Stream the object back and hash it, chunk by chunk (hashlib releases the GIL)."""
        digest = hashlib.sha256()
        size = await self._run(self._stream, key, digest.update)
        return None if size is None else HashedBlob(size=size, sha256_hex=digest.hexdigest())

    async def read_sha256_slices(self, key: str, sizes: Sequence[int]) -> HashedSlices | None:
        """Stream the object back and hash consecutive slices of ``sizes`` bytes (a pack's
        members); None if there is no object."""
        hasher = SliceHasher(sizes)
        size = await self._run(self._stream, key, hasher.update)
        return None if size is None else HashedSlices(size, tuple(hasher.digests))

    def _stream(self, key: str, feed: Callable[[bytes], object]) -> int | None:
        """Feed the object's bytes to ``feed``, chunk by chunk; its size, or None if absent."""
        try:
            response = self._client.get_object(self._bucket, key)
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                return None
            raise
        try:
            size = 0
            for chunk in response.stream(_HASH_CHUNK):
                feed(chunk)
                size += len(chunk)
            return size
        finally:
            response.close()
            response.release_conn()

    async def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> BlobInfo:
        def run() -> BlobInfo:
            result = self._client.put_object(
                self._bucket, key, io.BytesIO(data), len(data), content_type=content_type
            )
            return BlobInfo(key=key, size=len(data), etag=(result.etag or "").strip('"'))

        return await self._run(run)

    async def get_bytes(self, key: str) -> bytes:
        def run() -> bytes:
            response = self._client.get_object(self._bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await self._run(run)

    async def delete(self, key: str) -> None:
        await self._run(self._client.remove_object, self._bucket, key)

    async def presigned_put(self, key: str, expires: timedelta) -> str:
        return await self._run(self._public.presigned_put_object, self._bucket, key, expires)

    async def presigned_get(self, key: str, expires: timedelta) -> str:
        return await self._run(self._public.presigned_get_object, self._bucket, key, expires)

    async def presign_many(self, requests: Sequence[PresignRequest]) -> list[str]:
        """Sign a whole batch in one worker call: ~80 µs each, which adds up to a blocked event
        loop for 10,000 URLs, while a thread hop per URL would cost more than the signing."""

        def one(r: PresignRequest) -> str:
            if r.headers:
                return sigv4.presign(
                    method=r.method,
                    endpoint=self._public_endpoint,
                    bucket=self._bucket,
                    key=r.key,
                    access_key=self._access_key,
                    secret_key=self._secret_key,
                    region=self._region,
                    expires=r.expires,
                    headers=r.headers,
                    query=r.query,
                )
            return self._public.get_presigned_url(
                r.method,
                self._bucket,
                r.key,
                r.expires,
                extra_query_params=dict(r.query) or None,  # minio-py mutates it
            )

        def run() -> list[str]:
            return [one(r) for r in requests]

        return await self._run(run)

    # minio-py offers multipart uploads only through private methods (its public API streams
    # the bytes itself). They are wrapped here, behind the port, so the service never touches
    # them and a minio-py upgrade that changes them breaks in this one place, which the
    # integration tests cover.

    async def create_multipart(self, key: str) -> str:
        """A new multipart upload of ``key``; its upload id."""
        headers = {"Content-Type": "application/octet-stream"}
        create = self._client._create_multipart_upload
        return await self._run(create, self._bucket, key, headers)

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[UploadedPart]
    ) -> None:
        """Assemble the object; ``MultipartRejectedError`` if S3 refuses the parts or the id."""
        listed = [Part(p.part_number, p.etag.strip('"')) for p in parts]

        def run() -> None:
            try:
                self._client._complete_multipart_upload(self._bucket, key, upload_id, listed)
            except S3Error as exc:
                if exc.code in _MULTIPART_REJECTIONS:
                    raise MultipartRejectedError(exc.code, exc.message or "") from exc
                raise

        await self._run(run)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an upload and its parts; an unknown id is already gone."""

        def run() -> None:
            try:
                self._client._abort_multipart_upload(self._bucket, key, upload_id)
            except S3Error as exc:
                if exc.code != "NoSuchUpload":
                    raise

        await self._run(run)
