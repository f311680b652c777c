"""Run history in MongoDB (database ``cairn_ingest``), written only by the history writer.

Every read and write is by ``_id``, because FerretDB 1.24 on SQLite pushes down nothing else
(a range or a field predicate scans the whole collection):

- ``history``: one insert-only document per stored batch ("chunk"), ``_id`` =
  ``{run path}/{n:08d}`` with ``n`` = 0, 1, 2 … per run, so a reader walks a run's chunks by
  number. The rows stay the event's gzip bytes (``encoding``: columns, or NDJSON before);
  ``min_step``/``max_step`` bound them.
  A chunk also holds what its batch adds to the run's summary and its Kafka position.
- ``history_batches``: one small insert-only marker per batch id, ``_id`` = the event id,
  holding the Kafka position of the first message that carried it. It tells a client's retry
  (same id, another position: skip) from the writer's own redelivery (same position: redo).
- ``run_summaries``: one per run, ``_id`` = run path, replaced whole by the run's single
  writer (the owner of its partition), never updated by two writers. The writer saves it
  every few batches rather than after each (a replace is FerretDB's costliest write);
  whoever reads it applies the chunks stored since (``summaries``), so every reader, and a
  writer taking the partition over, sees every stored batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import bson
from bson import Binary
from cairn_shared.mongo import (
    Database,
    Document,
    decode_mapping,
    encode_mapping,
    find_by_ids,
    insert_many_once,
)
from pymongo import ReplaceOne

from cairn_ingest.domain.summary import (
    BatchStats,
    RunSummary,
    decode_extremes,
    encode_extremes,
)

LOOKUP_CONCURRENCY = 16
PROBE = 8  # chunks looked for per run and round trip when catching a summary up
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
        return (await self.summaries([path])).get(path)

    async def summaries(self, paths: Iterable[str]) -> dict[str, RunSummary]:
        """The runs' summaries as of their last stored chunk (runs never saved are absent)."""
        found = await find_by_ids(self._summaries, paths)
        summaries = {path: RunSummary.from_document(doc) for path, doc in found.items()}
        await self._catch_up(summaries)
        return summaries

    async def _catch_up(self, summaries: dict[str, RunSummary]) -> None:
        """Apply the chunks stored after each summary was saved, in order, up to the first
        number missing (chunk numbers have no gaps, except after a half-done insert, which
        the writer redoes with the same numbers)."""
        behind = summaries
        while behind:
            wanted = [chunk_id(p, s.chunks + k) for p, s in behind.items() for k in range(PROBE)]
            found = await find_by_ids(self._chunks, wanted, {"body": 0})
            still: dict[str, RunSummary] = {}
            for path, summary in behind.items():
                for _ in range(PROBE):
                    doc = found.get(chunk_id(path, summary.chunks))
                    if doc is None:
                        break
                    stats, partition, offset, at = stored_batch(doc)
                    summary.apply(stats, partition=partition, offset=offset, at=at)
                else:
                    still[path] = summary  # every probed chunk was there: maybe more
            behind = still

    # The readers' side.

    async def project_summaries(self, entity: str, project: str) -> dict[str, RunSummary]:
        """Scans the (small) summaries collection: FerretDB cannot push the filter down."""
        cursor = self._summaries.find({"entity": entity, "project": project})
        summaries = {doc["_id"]: RunSummary.from_document(doc) async for doc in cursor}
        await self._catch_up(summaries)
        return summaries

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
    keys: list[str],
    stats: BatchStats,
    partition: int,
    offset: int,
    at: datetime,
    encoding: str,
    body: bytes,
) -> Document:
    values = {"last": encode_mapping(stats.last), "stats": encode_extremes(stats.min, stats.max)}
    return {
        "_id": chunk_id(path, number),
        "run": path,
        "n": number,
        "event_id": event_id,
        "batch_id": batch_id,
        "seq": stats.seq,
        "rows": stats.rows,
        "min_step": stats.min_step,
        "max_step": stats.max_step,
        "ordered": stats.ordered,
        "keys": keys,  # user keys as values in an array, never as field names
        "values": Binary(bson.encode(values)),  # one blob: see RunSummary.to_document
        "kafka": {"partition": partition, "offset": offset},
        "at": at,
        "encoding": encoding,
        "body": Binary(body),
    }


def stored_batch(doc: Document) -> tuple[BatchStats, int, int, datetime]:
    """A chunk's stats, Kafka partition and offset, and time, as ``chunk_document`` wrote them."""
    values = bson.decode(doc["values"])
    minimum, maximum = decode_extremes(values["stats"])
    stats = BatchStats(
        rows=doc["rows"],
        min_step=doc["min_step"],
        max_step=doc["max_step"],
        seq=doc["seq"],
        ordered=doc["ordered"],
        last=decode_mapping(values["last"]),
        min=minimum,
        max=maximum,
    )
    return stats, doc["kafka"]["partition"], doc["kafka"]["offset"], doc["at"]
