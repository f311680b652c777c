"""In-memory fakes of the ports storage's service layer uses (kept here, not in shared), and
the one way the tests complete uploads over them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cairn_shared.blobstore import (
    BlobInfo,
    HashedBlob,
    HashedSlices,
    MultipartRejectedError,
    PresignRequest,
    SliceHasher,
    UploadedPart,
)
from cairn_shared.events.envelope import Cause
from cairn_shared.manifests import blob_key
from cairn_shared.testing import FakeEventPublisher
from cairn_storage.adapters.blob_index import BlobStats
from cairn_storage.domain.blobs import Blob, Location, checksum_sha256
from cairn_storage.domain.packs import Pack
from cairn_storage.service_layer.completion import Completed, Completion, complete_uploads

ENTITY = "team"
CAUSE = Cause(actor="alice", requestid="req-1")


@dataclass
class StoredObject:
    data: bytes
    checksum: str | None  # what S3 keeps when the PUT carried x-amz-checksum-sha256


@dataclass
class FakeBlobStore:
    """``BlobStore`` over dicts; the test plays the client with ``put`` and ``put_part``."""

    objects: dict[str, StoredObject] = field(default_factory=dict)
    uploads: dict[str, tuple[str, dict[int, bytes]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail_create_after: int | None = None  # simulate S3 failing mid-batch

    # What a client does with the presigned URLs.
    def put(self, key: str, data: bytes, *, with_checksum: bool = True) -> None:
        checksum = checksum_sha256(hashlib.sha256(data).hexdigest()) if with_checksum else None
        self.objects[key] = StoredObject(data, checksum)

    def put_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        upload_key, parts = self.uploads[upload_id]
        assert upload_key == key
        parts[number] = data
        return hashlib.md5(data).hexdigest()  # noqa: S324 - S3's part ETag is an MD5

    # The port.
    async def ensure_bucket(self) -> None:
        return None

    async def stat(self, key: str) -> BlobInfo | None:
        obj = self.objects.get(key)
        return None if obj is None else BlobInfo(key, len(obj.data), "etag")

    async def stat_with_checksum(self, key: str) -> BlobInfo | None:
        self.calls.append(f"head {key}")
        obj = self.objects.get(key)
        return None if obj is None else BlobInfo(key, len(obj.data), "etag", obj.checksum)

    async def read_sha256(self, key: str) -> HashedBlob | None:
        self.calls.append(f"hash {key}")
        obj = self.objects.get(key)
        if obj is None:
            return None
        return HashedBlob(len(obj.data), hashlib.sha256(obj.data).hexdigest())

    async def read_sha256_slices(self, key: str, sizes: Sequence[int]) -> HashedSlices | None:
        self.calls.append(f"hash slices {key}")
        obj = self.objects.get(key)
        if obj is None:
            return None
        hasher = SliceHasher(sizes)
        hasher.update(obj.data)
        return HashedSlices(hasher.size, tuple(hasher.digests))

    async def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> BlobInfo:
        self.put(key, data)
        return BlobInfo(key, len(data), "etag")

    async def get_bytes(self, key: str) -> bytes:
        return self.objects[key].data

    async def delete(self, key: str) -> None:
        self.calls.append(f"delete {key}")
        self.objects.pop(key, None)

    async def presigned_put(self, key: str, expires: timedelta) -> str:
        return f"https://s3.test/{key}?put"

    async def presigned_get(self, key: str, expires: timedelta) -> str:
        return f"https://s3.test/{key}?get"

    async def presign_many(self, requests: Sequence[PresignRequest]) -> list[str]:
        self.calls.append(f"presign {len(requests)}")
        return [
            f"https://s3.test/{r.key}?{r.method}&"
            + "&".join(f"{k}={v}" for k, v in r.query.items())
            for r in requests
        ]

    async def create_multipart(self, key: str) -> str:
        if self.fail_create_after is not None and len(self.uploads) >= self.fail_create_after:
            raise ConnectionError("S3 went away")
        upload_id = f"upload-{len(self.uploads) + 1}"
        self.uploads[upload_id] = (key, {})
        return upload_id

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[UploadedPart]
    ) -> None:
        self.calls.append(f"complete {key}")
        if upload_id not in self.uploads or self.uploads[upload_id][0] != key:
            raise MultipartRejectedError("NoSuchUpload", "unknown upload")
        stored = self.uploads[upload_id][1]
        for part in parts:
            data = stored.get(part.part_number)
            if data is None or hashlib.md5(data).hexdigest() != part.etag:  # noqa: S324
                raise MultipartRejectedError("InvalidPart", f"part {part.part_number}")
        body = b"".join(stored[p.part_number] for p in parts)
        del self.uploads[upload_id]
        self.objects[key] = StoredObject(body, None)  # no full-object SHA-256 for multipart

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        self.calls.append(f"abort {key}")
        self.uploads.pop(upload_id, None)


@dataclass
class FakeBlobIndex:
    """``BlobIndex`` over a dict of (entity, digest) → size."""

    sizes_by_id: dict[tuple[str, str], int] = field(default_factory=dict)
    stored_by: dict[tuple[str, str], str] = field(default_factory=dict)
    placed: dict[tuple[str, str], Location] = field(default_factory=dict)

    async def sizes(self, entity: str, digests: Sequence[str]) -> dict[str, int]:
        return {d: self.sizes_by_id[entity, d] for d in digests if (entity, d) in self.sizes_by_id}

    async def locations(self, entity: str, digests: Sequence[str]) -> dict[str, Location]:
        return {d: self.placed[entity, d] for d in digests if (entity, d) in self.placed}

    async def add_many(
        self,
        entity: str,
        blobs: Sequence[Blob],
        *,
        stored_by: str,
        stored_at: datetime,
        packed: Mapping[str, Location] | None = None,
    ) -> dict[str, Location]:
        new = [b for b in blobs if (entity, b.digest) not in self.sizes_by_id]
        for blob in new:
            self.sizes_by_id[entity, blob.digest] = blob.size
            self.stored_by[entity, blob.digest] = stored_by
            self.placed[entity, blob.digest] = (packed or {}).get(blob.digest) or Location(
                blob_key(entity, blob.digest), blob.size
            )
        return {b.digest: self.placed[entity, b.digest] for b in new}

    async def stats(self, entity: str) -> BlobStats:
        sizes = [s for (e, _), s in self.sizes_by_id.items() if e == entity]
        return BlobStats(blobs=len(sizes), bytes=sum(sizes))


async def complete(
    uploads: Sequence[Completed],
    store: FakeBlobStore,
    index: FakeBlobIndex,
    publisher: FakeEventPublisher,
    *,
    packs: Sequence[Pack] = (),
) -> Completion:
    """``complete_uploads`` for ``ENTITY`` over the fakes."""
    return await complete_uploads(
        ENTITY,
        uploads,
        packs=packs,
        index=index,
        store=store,
        publisher=publisher,
        cause=CAUSE,
        concurrency=4,
    )
