"""Completing uploads: verify what S3 holds, then record and announce the blobs.

All or nothing per request: if any blob fails, no blob of the request is recorded (the objects
that passed stay in S3, so a retried completion only needs HEADs again) and the wrong objects
are deleted (a pack with one wrong member, whole). Verified blobs are inserted into the index
first and announced after, every time: a completion retried after a crash between the two
re-announces under the same event id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cairn_shared.blobstore import BlobStore, MultipartRejectedError, UploadedPart
from cairn_shared.events.envelope import Cause, Envelope
from cairn_shared.kafka.publisher import EventPublisher
from cairn_shared.laps import Laps
from cairn_shared.manifests import blob_key

from cairn_storage.adapters.blob_index import BlobIndex
from cairn_storage.domain.blobs import Blob, Location
from cairn_storage.domain.events import blob_stored
from cairn_storage.domain.packs import Pack, pack_key
from cairn_storage.domain.verification import (
    Failure,
    Reason,
    Verdict,
    judge_content,
    judge_head,
    judge_indexed,
    judge_pack,
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
    laps: dict[str, float] = field(default_factory=dict)  # ``Laps.laps``, for the log


async def complete_uploads(
    entity: str,
    uploads: Sequence[Completed],
    *,
    packs: Sequence[Pack] = (),
    index: BlobIndex,
    store: BlobStore,
    publisher: EventPublisher,
    cause: Cause,
    concurrency: int,
) -> Completion:
    """``uploads`` (blobs of their own) and ``packs``; the digests are distinct across both."""
    laps = Laps()
    members = [b for p in packs for b in p.blobs]
    everything = [u.blob for u in uploads] + members
    known = await index.sizes(entity, [b.digest for b in everything])
    laps.lap("lookup")
    # A blob in the index was verified when it was recorded: a retried completion skips S3.
    failures = [
        verdict
        for b in everything
        if b.digest in known and isinstance(verdict := judge_indexed(b, known[b.digest]), Failure)
    ]
    fresh = [u for u in uploads if u.blob.digest not in known]
    fresh_packs = [p for p in packs if any(b.digest not in known for b in p.blobs)]
    # A client that lost a race to upload the same blob has parts no one will assemble.
    redundant = [u for u in uploads if u.blob.digest in known and u.upload_id is not None]
    await bounded_map(lambda u: _abort(entity, u, store), redundant, limit=concurrency)

    async def verify(upload: Completed) -> Failure | None:
        return await _verify(entity, upload, store)

    async def verify_pack(pack: Pack) -> list[Failure]:
        # Every member is checked, known ones too: a pack is right or wrong as a whole.
        return await _verify_pack(entity, pack, store)

    results = await bounded_map(verify, fresh, limit=concurrency)
    pack_results = await bounded_map(verify_pack, fresh_packs, limit=concurrency)
    failures.extend(f for f in results if f is not None)
    failures.extend(f for found in pack_results for f in found)
    verified = [u.blob for u, f in zip(fresh, results, strict=True) if f is None]
    verified_packs = [p for p, found in zip(fresh_packs, pack_results, strict=True) if not found]
    bytes_verified = sum(b.size for b in verified) + sum(p.size for p in verified_packs)
    laps.lap("verify")
    if failures:
        return Completion(failures=failures, bytes_verified=bytes_verified, laps=laps.laps)

    packed = {
        m.blob.digest: Location(pack_key(entity, p.id), m.blob.size, m.offset)
        for p in verified_packs
        for m in p.members
        if m.blob.digest not in known
    }

    async def announcements() -> list[tuple[Envelope, str]]:
        return [blob_stored(entity, b, cause) for b in everything]

    # The events are built while the index writes (it works in the database's process).
    inserted, events = await asyncio.gather(
        index.add_many(
            entity,
            verified + [b for b in members if b.digest in packed],
            stored_by=cause.actor,
            stored_at=datetime.now(UTC),
            packed=packed,
        ),
        announcements(),
    )
    laps.lap("record")
    await publisher.publish_many(events)  # once recorded: an event names a recorded blob
    laps.lap("announce")
    return Completion(
        stored=[b.digest for b in everything],
        newly_stored=len(inserted),
        bytes_verified=bytes_verified,
        laps=laps.laps,
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


async def _verify_pack(entity: str, pack: Pack, store: BlobStore) -> list[Failure]:
    key = pack_key(entity, pack.id)
    hashed = await store.read_sha256_slices(key, [b.size for b in pack.blobs])
    failures = judge_pack(
        pack.blobs,
        size=hashed.size if hashed else None,
        sha256_hex=hashed.sha256_hex if hashed else None,
    )
    if any(f.discard for f in failures):
        await store.delete(key)
    return failures


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
