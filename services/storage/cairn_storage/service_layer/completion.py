"""Completing uploads: verify what S3 holds, then record and announce the blobs.

All or nothing per request: if any blob fails, no blob of the request is recorded (the objects
that passed stay in S3, so a retried completion only needs HEADs again) and the wrong objects
are deleted. Verified blobs are inserted into the index first and announced after, every
time: a completion retried after a crash between the two re-announces under the same event id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cairn_shared.blobstore import BlobStore, MultipartRejectedError, UploadedPart
from cairn_shared.events.envelope import Cause
from cairn_shared.kafka.publisher import EventPublisher
from cairn_shared.manifests import blob_key

from cairn_storage.adapters.blob_index import BlobIndex
from cairn_storage.domain.blobs import Blob
from cairn_storage.domain.events import blob_stored
from cairn_storage.domain.verification import (
    Failure,
    Reason,
    Verdict,
    judge_content,
    judge_head,
    judge_indexed,
)
from cairn_storage.service_layer.concurrency import bounded_map


@dataclass(frozen=True)
class Completed:
    """One blob the client says it uploaded; ``upload_id`` and ``parts`` for multipart."""

    blob: Blob
    upload_id: str | None = None
    parts: tuple[UploadedPart, ...] = ()


@dataclass(frozen=True)
class Completion:
    stored: list[str] = field(default_factory=list)  # in the index now, in request order
    failures: list[Failure] = field(default_factory=list)
    newly_stored: int = 0  # index documents this request inserted
    bytes_verified: int = 0  # bytes this request checked against S3 and found right


async def complete_uploads(
    entity: str,
    uploads: Sequence[Completed],
    *,
    index: BlobIndex,
    store: BlobStore,
    publisher: EventPublisher,
    cause: Cause,
    concurrency: int,
) -> Completion:
    known = await index.sizes(entity, [u.blob.digest for u in uploads])
    # A blob in the index was verified when it was recorded: a retried completion skips S3.
    failures = [
        verdict
        for u in uploads
        if u.blob.digest in known
        and isinstance(verdict := judge_indexed(u.blob, known[u.blob.digest]), Failure)
    ]
    fresh = [u for u in uploads if u.blob.digest not in known]
    # A client that lost a race to upload the same blob has parts no one will assemble.
    redundant = [u for u in uploads if u.blob.digest in known and u.upload_id is not None]
    await bounded_map(lambda u: _abort(entity, u, store), redundant, limit=concurrency)

    async def verify(upload: Completed) -> Failure | None:
        return await _verify(entity, upload, store)

    results = await bounded_map(verify, fresh, limit=concurrency)
    failures.extend(f for f in results if f is not None)
    verified = [u.blob for u, f in zip(fresh, results, strict=True) if f is None]
    bytes_verified = sum(b.size for b in verified)
    if failures:
        return Completion(failures=failures, bytes_verified=bytes_verified)

    inserted = await index.add_many(
        entity, verified, stored_by=cause.actor, stored_at=datetime.now(UTC)
    )
    await publisher.publish_many([blob_stored(entity, u.blob, cause) for u in uploads])
    return Completion(
        stored=[u.blob.digest for u in uploads],
        newly_stored=inserted,
        bytes_verified=bytes_verified,
    )


async def _verify(entity: str, upload: Completed, store: BlobStore) -> Failure | None:
    key = blob_key(entity, upload.blob.digest)
    if upload.upload_id is not None:
        try:
            await store.complete_multipart(key, upload.upload_id, upload.parts)
        except MultipartRejectedError as exc:
            # An unknown upload may be one an earlier, interrupted completion assembled
            # already: verify what is there. Refused parts leave the upload open, so the
            # client may complete again with the right ETags.
            if exc.code != "NoSuchUpload":
                return Failure(
                    upload.blob.digest, Reason.INVALID_PARTS, upload.blob.size, detail=exc.code
                )
    verdict = await _judge(upload.blob, key, store)
    if isinstance(verdict, Failure):
        if verdict.discard:
            await store.delete(key)
        return verdict
    return None


async def _abort(entity: str, upload: Completed, store: BlobStore) -> None:
    if upload.upload_id is not None:
        await store.abort_multipart(blob_key(entity, upload.blob.digest), upload.upload_id)


async def _judge(blob: Blob, key: str, store: BlobStore) -> Failure | Verdict:
    info = await store.stat_with_checksum(key)
    verdict = judge_head(
        blob,
        size=info.size if info else None,
        checksum=info.checksum_sha256 if info else None,
    )
    if verdict is not Verdict.NEEDS_HASH:
        return verdict
    hashed = await store.read_sha256(key)
    return judge_content(
        blob,
        size=hashed.size if hashed else None,
        sha256_hex=hashed.sha256_hex if hashed else None,
    )
