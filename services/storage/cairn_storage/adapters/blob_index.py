"""The blob index in MongoDB (database ``cairn_storage``, collection ``blobs``).

One document per verified blob, ``_id = "{entity}/{digest}"``, written only by insert: a blob
is immutable once verified, so there is no update to lose on FerretDB, and two completions of
the same blob race harmlessly on the ``_id``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cairn_shared.manifests import blob_key
from cairn_shared.mongo import Database, ensure_indexes, insert_many_once
from pymongo import ASCENDING, IndexModel

from cairn_storage.domain.blobs import Blob

CHUNK = 1_000  # documents per query or insert: bounded command sizes
# Up to this many digests are looked up one ``_id`` at a time. FerretDB 1.x pushes only ``_id``
# equality down to its storage; an ``$in`` scans the whole collection (measured with 6,000
# blobs: 10 digests take 17 ms one by one and 480 ms by ``$in``). On MongoDB both are indexed.
FEW = 100


@dataclass(frozen=True)
class BlobStats:
    blobs: int
    bytes: int


class BlobIndex(Protocol):
    async def sizes(self, entity: str, digests: Sequence[str]) -> dict[str, int]:
        """The size of each of ``digests`` the index holds; absent ones are left out."""
        ...

    async def add_many(
        self, entity: str, blobs: Sequence[Blob], *, stored_by: str, stored_at: datetime
    ) -> int:
        """Record ``blobs`` unless present; how many were new."""
        ...

    async def stats(self, entity: str) -> BlobStats: ...


def blob_id(entity: str, digest: str) -> str:
    return f"{entity}/{digest}"


class MongoBlobIndex:
    def __init__(self, db: Database) -> None:
        self._blobs = db["blobs"]

    async def setup(self) -> None:
        await ensure_indexes(self._blobs, [IndexModel([("entity", ASCENDING)])])

    async def sizes(self, entity: str, digests: Sequence[str]) -> dict[str, int]:
        if len(digests) <= FEW:
            return await self._sizes_one_by_one(entity, digests)
        found: dict[str, int] = {}
        for start in range(0, len(digests), CHUNK):
            ids = [blob_id(entity, d) for d in digests[start : start + CHUNK]]
            cursor = self._blobs.find({"_id": {"$in": ids}}, {"digest": 1, "size": 1})
            async for doc in cursor:
                found[doc["digest"]] = int(doc["size"])
        return found

    async def _sizes_one_by_one(self, entity: str, digests: Sequence[str]) -> dict[str, int]:
        docs = await asyncio.gather(
            *(self._blobs.find_one({"_id": blob_id(entity, d)}, {"size": 1}) for d in digests)
        )
        return {d: int(doc["size"]) for d, doc in zip(digests, docs, strict=True) if doc}

    async def add_many(
        self, entity: str, blobs: Sequence[Blob], *, stored_by: str, stored_at: datetime
    ) -> int:
        inserted = 0
        for start in range(0, len(blobs), CHUNK):
            docs = [
                _document(entity, blob, stored_by=stored_by, stored_at=stored_at)
                for blob in blobs[start : start + CHUNK]
            ]
            # A duplicate ``_id``: another completion recorded the same blob first (success).
            inserted += len(docs) - len(await insert_many_once(self._blobs, docs))
        return inserted

    async def stats(self, entity: str) -> BlobStats:
        # Two queries, because FerretDB 1.x computes only the first accumulator of a $group
        # (FerretDB#4616: they share one exhausted iterator); the others come out as 0.
        count, total = await asyncio.gather(
            self._blobs.count_documents({"entity": entity}),
            self._sum_sizes(entity),
        )
        return BlobStats(blobs=count, bytes=total)

    async def _sum_sizes(self, entity: str) -> int:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"entity": entity}},
            {"$group": {"_id": None, "bytes": {"$sum": "$size"}}},
        ]
        cursor = await self._blobs.aggregate(pipeline)
        rows = await cursor.to_list()
        return int(rows[0]["bytes"]) if rows else 0


def _document(entity: str, blob: Blob, *, stored_by: str, stored_at: datetime) -> dict[str, Any]:
    return {
        "_id": blob_id(entity, blob.digest),
        "entity": entity,
        "digest": blob.digest,
        "size": blob.size,
        "key": blob_key(entity, blob.digest),
        "stored_at": stored_at,
        "stored_by": stored_by,
    }
