"""Opening upload sessions: which blobs the entity already has, and presigned URLs for the rest.

Bytes go from the client straight to S3; a single PUT carries the blob's SHA-256 as
``x-amz-checksum-sha256``, so S3 itself refuses a corrupted body. A pack's PUT carries no
checksum (storage cannot know it): completion hashes each member instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from cairn_shared.blobstore import BlobStore, PresignRequest
from cairn_shared.manifests import blob_key
from cairn_shared.settings import Settings

from cairn_storage.adapters.blob_index import BlobIndex
from cairn_storage.domain.blobs import Blob, checksum_sha256
from cairn_storage.domain.packs import is_packable, pack_key, plan_packs
from cairn_storage.domain.uploads import (
    MAX_PRESIGNED_PARTS,
    MIB,
    PartPlan,
    is_multipart,
    plan_parts,
)
from cairn_storage.domain.verification import Failure, judge_indexed
from cairn_storage.service_layer.concurrency import bounded_map

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class UploadPolicy:
    threshold: int
    part_bytes: int
    expires: timedelta
    concurrency: int
    pack_member_max_bytes: int = 0
    pack_max_bytes: int = 64 * MIB

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadPolicy:
        return cls(
            threshold=settings.multipart_threshold_bytes,
            part_bytes=settings.multipart_part_bytes,
            expires=timedelta(seconds=settings.upload_expiry_s),
            concurrency=settings.s3_concurrency,
            pack_member_max_bytes=settings.pack_member_max_bytes,
            pack_max_bytes=settings.pack_max_bytes,
        )


@dataclass(frozen=True)
class Sessions:
    present: list[str]
    uploads: list[dict[str, Any]]
    conflicts: list[Failure]  # declared sizes the index contradicts: nothing was opened
    packs: list[dict[str, Any]] = field(default_factory=list)


class TooManyPartsError(ValueError):
    """The answer would hold more part URLs than one response should carry."""


async def open_uploads(
    entity: str,
    blobs: Sequence[Blob],
    *,
    index: BlobIndex,
    store: BlobStore,
    policy: UploadPolicy,
    packable: Collection[str] = frozenset(),
) -> Sessions:
    """Presigned uploads for the blobs the index lacks; those in ``packable`` that are small
    enough go into packs (one PUT each) instead of an upload of their own."""
    known = await index.sizes(entity, [b.digest for b in blobs])
    conflicts = [
        verdict
        for b in blobs
        if b.digest in known and isinstance(verdict := judge_indexed(b, known[b.digest]), Failure)
    ]
    if conflicts:
        return Sessions(present=[], uploads=[], conflicts=conflicts)
    present = [b.digest for b in blobs if b.digest in known]
    absent = [b for b in blobs if b.digest not in known]
    packed = [
        b for b in absent if b.digest in packable and is_packable(b, policy.pack_member_max_bytes)
    ]
    packs = plan_packs(packed, max_bytes=policy.pack_max_bytes)
    in_packs = {b.digest for b in packed}
    missing = [b for b in absent if b.digest not in in_packs]
    multipart = [b for b in missing if is_multipart(b.size, policy.threshold)]
    plans = {b.digest: plan_parts(b.size, policy.part_bytes) for b in multipart}
    if sum(p.part_count for p in plans.values()) > MAX_PRESIGNED_PARTS:
        raise TooManyPartsError(
            f"these blobs need more than {MAX_PRESIGNED_PARTS} part URLs; ask in smaller batches"
        )

    upload_ids: dict[str, str] = {}

    async def create(blob: Blob) -> None:
        upload_ids[blob.digest] = await store.create_multipart(blob_key(entity, blob.digest))

    try:
        await bounded_map(create, multipart, limit=policy.concurrency)
        requests = [
            request
            for blob in missing
            for request in _presign_requests(entity, blob, plans, upload_ids, policy)
        ]
        requests += [PresignRequest("PUT", pack_key(entity, p.id), policy.expires) for p in packs]
        urls = iter(await store.presign_many(requests))
    except BaseException:
        await _abort(entity, upload_ids, store)
        raise
    # The URLs come back in request order: one per single PUT, one per part, one per pack.
    uploads = [_upload(blob, plans.get(blob.digest), upload_ids, urls) for blob in missing]
    opened = [
        {"pack_id": p.id, "size": p.size, "url": next(urls), "members": p.as_json()} for p in packs
    ]
    return Sessions(present=present, uploads=uploads, conflicts=[], packs=opened)


def _presign_requests(
    entity: str,
    blob: Blob,
    plans: dict[str, PartPlan],
    upload_ids: dict[str, str],
    policy: UploadPolicy,
) -> list[PresignRequest]:
    key = blob_key(entity, blob.digest)
    plan = plans.get(blob.digest)
    if plan is None:
        return [PresignRequest("PUT", key, policy.expires, headers=checksum_headers(blob))]
    upload_id = upload_ids[blob.digest]
    return [
        PresignRequest("PUT", key, policy.expires, {"uploadId": upload_id, "partNumber": str(n)})
        for n in range(1, plan.part_count + 1)
    ]


def checksum_headers(blob: Blob) -> dict[str, str]:
    """Signed into the URL and sent by the client: S3 refuses a body with another SHA-256."""
    return {"x-amz-checksum-sha256": checksum_sha256(blob.digest)}


def _upload(
    blob: Blob, plan: PartPlan | None, upload_ids: dict[str, str], urls: Iterator[str]
) -> dict[str, Any]:
    if plan is None:
        return {
            "digest": blob.digest,
            "size": blob.size,
            "method": "put",
            "url": next(urls),
            "headers": checksum_headers(blob),
        }
    return {
        "digest": blob.digest,
        "size": blob.size,
        "method": "multipart",
        "upload_id": upload_ids[blob.digest],
        "part_size": plan.part_size,
        "parts": [{"part_number": n, "url": next(urls)} for n in range(1, plan.part_count + 1)],
    }


async def _abort(entity: str, upload_ids: dict[str, str], store: BlobStore) -> None:
    """Best effort: the request failed, so no client will ever use these uploads."""
    for digest, upload_id in upload_ids.items():
        with contextlib.suppress(Exception):
            await store.abort_multipart(blob_key(entity, digest), upload_id)
    if upload_ids:
        log.warning("uploads.aborted_after_failure", count=len(upload_ids))
