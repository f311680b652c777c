"""The blob index in MongoDB (database ``cairn_storage``, collection ``blobs``).

One document per verified blob, ``_id = "{entity}/{digest}"``, holding where its bytes are
(``key``, and ``offset`` for a member of a pack), written only by insert: a blob is immutable
once verified, so there is no update to lose on FerretDB, and two completions of
the same blob race harmlessly on the ``_id``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cairn_shared.manifests import blob_key
from cairn_shared.mongo import Database, ensure_indexes, find_by_ids, insert_many_once
from pymongo import ASCENDING, IndexModel

from cairn_storage.domain.blobs import Blob, Location

CHUNK = 1_000  # documents per insert: bounded command sizes


@dataclass(frozen=True)
class BlobStats:
    blobs: int
    bytes: int


class BlobIndex(Protocol):
    async def sizes(self, entity: str, digests: Sequence[str]) -> dict[str, int]:
        """The size of each of ``digests`` the index holds; absent ones are left out."""
        ...

    async def locations(self, entity: str, digests: Sequence[str]) -> dict[str, Location]:
        """Where each of ``digests`` the index holds is stored; absent ones are left out."""
        ...

    async def add_many(
        self,
        entity: str,
        blobs: Sequence[Blob],
        *,
        stored_by: str,
        stored_at: datetime,
        packed: Mapping[str, Location] | None = None,
    ) -> dict[str, Location]:
        """Record ``blobs`` unless present; returns where the new ones are (the ones recorded
        before keep their first location). A blob is its own object unless ``packed`` places it
        in a pack."""
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
        return {d: int(doc["size"]) for d, doc in (await self._find(entity, digests)).items()}

    async def locations(self, entity: str, digests: Sequence[str]) -> dict[str, Location]:
        return {d: _location(doc) for d, doc in (await self._find(entity, digests)).items()}

    async def _find(self, entity: str, digests: Sequence[str]) -> dict[str, dict[str, Any]]:
        projection = {"digest": 1, "size": 1, "key": 1, "offset": 1}
        found = await find_by_ids(self._blobs, (blob_id(entity, d) for d in digests), projection)
        return {doc["digest"]: doc for doc in found.values()}

    async def add_many(
        self,
        entity: str,
        blobs: Sequence[Blob],
        *,
        stored_by: str,
        stored_at: datetime,
        packed: Mapping[str, Location] | None = None,
    ) -> dict[str, Location]:
        places = packed or {}
        where = {
            b.digest: places.get(b.digest) or Location(blob_key(entity, b.digest), b.size)
            for b in blobs
        }
        docs = [
            _document(entity, blob, where[blob.digest], stored_by=stored_by, stored_at=stored_at)
            for blob in blobs
        ]
        chunks = [docs[i : i + CHUNK] for i in range(0, len(docs), CHUNK)]
        # A duplicate ``_id``: another completion recorded the same blob first (success).
        existed = set().union(
            *await asyncio.gather(*(insert_many_once(self._blobs, c) for c in chunks))
        )
        return {d: place for d, place in where.items() if blob_id(entity, d) not in existed}

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


def _document(
    entity: str, blob: Blob, where: Location, *, stored_by: str, stored_at: datetime
) -> dict[str, Any]:
    doc = {
        "_id": blob_id(entity, blob.digest),
        "entity": entity,
        "digest": blob.digest,
        "size": blob.size,
        "key": where.key,
        "stored_at": stored_at,
        "stored_by": stored_by,
    }
    if where.offset is not None:
        doc["offset"] = where.offset
    return doc


def _location(doc: Mapping[str, Any]) -> Location:
    offset = doc.get("offset")
    return Location(str(doc["key"]), int(doc["size"]), None if offset is None else int(offset))
