"""Run history in MongoDB (database ``cairn_ingest``), written only by the history writer.

Every read and write is by ``_id``, because FerretDB 1.24 on SQLite pushes down nothing else
(a range or a field predicate scans the whole collection):

- ``history``: one insert-only document per stored batch ("chunk"), ``_id`` =
  ``{run path}/{n:08d}`` with ``n`` = 0, 1, 2 … per run, so a reader walks a run's chunks by
  number. The rows stay the client's gzip NDJSON bytes; ``min_step``/``max_step`` bound them.
- ``history_batches``: one small insert-only marker per batch id, ``_id`` = the event id,
  holding the Kafka position of the first message that carried it. It tells a client's retry
  (same id, another position: skip) from the writer's own redelivery (same position: redo).
- ``run_summaries``: one per run, ``_id`` = run path, replaced whole by the run's single
  writer (the owner of its partition), never updated by two writers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from bson import Binary
from cairn_shared.mongo import Database, Document, find_by_ids, insert_many_once
from pymongo import ReplaceOne

from cairn_ingest.domain.summary import RunSummary

LOOKUP_CONCURRENCY = 16
REPLACE_BATCH = 50


def chunk_id(path: str, number: int) -> str:
    return f"{path}/{number:08d}"


class HistoryRepository:
    def __init__(self, db: Database) -> None:
        self._chunks = db["history"]
        self._batches = db["history_batches"]
        self._summaries = db["run_summaries"]
        self._lookups = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def setup(self) -> None:
        """Nothing to index: every access is by ``_id``."""

    # The writer's side.

    async def claim_batches(self, markers: Sequence[Document]) -> set[str]:
        """Insert the markers; the ids of those that existed already."""
        return await insert_many_once(self._batches, markers)

    async def batch_positions(self, ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        docs = await find_by_ids(self._batches, ids)
        return {key: (doc["partition"], doc["offset"]) for key, doc in docs.items()}

    async def insert_chunks(self, chunks: Sequence[Document]) -> None:
        """Insert-only: a chunk that exists is the same chunk written by an earlier attempt."""
        await insert_many_once(self._chunks, chunks)

    async def save_summaries(self, summaries: Sequence[RunSummary]) -> None:
        # At most REPLACE_BATCH per command, one command at a time: FerretDB 1.24 holds a
        # SQLite connection (of 100) per matched statement until its command ends, and hangs
        # at about 100 (our local build carries a fix; an operator's FerretDB may not).
        for start in range(0, len(summaries), REPLACE_BATCH):
            await self._summaries.bulk_write(
                [
                    ReplaceOne({"_id": s.path}, s.to_document(), upsert=True)
                    for s in summaries[start : start + REPLACE_BATCH]
                ],
                ordered=False,
            )

    # Both sides.

    async def summary(self, path: str) -> RunSummary | None:
        doc = await self._find(self._summaries, path)
        return None if doc is None else RunSummary.from_document(doc)

    async def summaries(self, paths: Iterable[str]) -> dict[str, RunSummary]:
        found = await find_by_ids(self._summaries, paths)
        return {path: RunSummary.from_document(doc) for path, doc in found.items()}

    # The readers' side.

    async def project_summaries(self, entity: str, project: str) -> dict[str, RunSummary]:
        """Scans the (small) summaries collection: FerretDB cannot push the filter down."""
        cursor = self._summaries.find({"entity": entity, "project": project})
        return {doc["_id"]: RunSummary.from_document(doc) async for doc in cursor}

    async def chunk(self, path: str, number: int, *, meta_only: bool = False) -> Document | None:
        projection = {"body": 0} if meta_only else None
        return await self._find(self._chunks, chunk_id(path, number), projection)

    async def _find(
        self, collection: Any, key: str, projection: dict[str, int] | None = None
    ) -> Document | None:
        async with self._lookups:
            doc: Document | None = await collection.find_one({"_id": key}, projection)
            return doc


def chunk_document(
    *,
    path: str,
    number: int,
    event_id: str,
    batch_id: str,
    seq: int,
    rows: int,
    min_step: int,
    max_step: int,
    keys: list[str],
    body: bytes,
) -> Document:
    return {
        "_id": chunk_id(path, number),
        "run": path,
        "n": number,
        "event_id": event_id,
        "batch_id": batch_id,
        "seq": seq,
        "rows": rows,
        "min_step": min_step,
        "max_step": max_step,
        "keys": keys,  # user keys as values in an array, never as field names
        "body": Binary(body),
    }
