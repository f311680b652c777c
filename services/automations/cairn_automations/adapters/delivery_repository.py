"""Deliveries, their schedule, their attempt log, redelivery requests and the version metadata
projection.

A delivery is inserted once by the consumer (its id derives from the event and the automation)
and from then on written only by the member that owns the Kafka partition it records. Attempts
are logged by that owner. A redelivery asked over HTTP is an inserted request the owner applies.

The scheduler scans the small ``schedule`` collection (one entry per pending delivery, removed
when the delivery ends), never the growing ``deliveries``: FerretDB 1.x answers every query with
a full scan, and the scan runs every few seconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from collections.abc import Collection as Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from cairn_shared.mongo import Database, Document, ensure_indexes, insert_once, upsert_by_id
from pymongo import ASCENDING, DESCENDING, IndexModel

from cairn_automations.domain.deliveries import Delivery, Status, dumps


class DeliveryRepository:
    def __init__(self, db: Database) -> None:
        self._deliveries = db["deliveries"]
        self._attempts = db["attempts"]
        self._redeliveries = db["redelivery_requests"]
        self._versions = db["versions"]
        self._schedule = db["schedule"]

    async def setup(self) -> None:
        await ensure_indexes(self._schedule, [IndexModel([("source", ASCENDING)])])
        await ensure_indexes(
            self._deliveries,
            [
                IndexModel([("entity", ASCENDING), ("created_at", DESCENDING)]),
                IndexModel([("automation_id", ASCENDING), ("created_at", DESCENDING)]),
            ],
        )
        await ensure_indexes(self._attempts, [IndexModel([("delivery_id", ASCENDING)])])
        await ensure_indexes(self._redeliveries, [IndexModel([("source", ASCENDING)])])

    # Deliveries.

    async def insert(self, delivery: Delivery, *, attempt: Document | None = None) -> bool:
        """The delivery, then (if it was made already) its first attempt's log entry, and its
        schedule entry while it is pending: in that order, so a scan never finds an entry or
        an attempt before its delivery. False when the delivery existed already (a redelivered
        event): nothing of this one is written then but an entry due now, in case the first
        try stopped before its own; a scan drops an entry whose delivery has ended."""
        if not await insert_once(self._deliveries, delivery.to_document()):
            await self._schedule_entry(replace(delivery, next_attempt_at=delivery.created_at))
            return False
        writes: list[Awaitable[object]] = []
        if attempt is not None:
            writes.append(insert_once(self._attempts, attempt))
        if delivery.status is Status.PENDING:
            writes.append(self._new_schedule_entry(delivery))
        await asyncio.gather(*writes)
        return True

    async def _new_schedule_entry(self, delivery: Delivery) -> None:
        # An insert costs half an upsert (FerretDB reads before it writes an upsert).
        if not await insert_once(self._schedule, _entry(delivery)):
            await self._schedule_entry(delivery)

    async def get(self, delivery_id: str) -> Delivery | None:
        doc = await self._deliveries.find_one({"_id": delivery_id})
        return None if doc is None else Delivery.from_document(doc)

    async def save_state(self, delivery: Delivery) -> None:
        """Only the owner of the delivery's partition calls this: one writer per delivery."""
        await self._deliveries.update_one({"_id": delivery.id}, {"$set": delivery.state()})
        if delivery.status is Status.PENDING:
            await self._schedule_entry(delivery)
        else:
            await self._schedule.delete_one({"_id": delivery.id})

    async def pending(self, sources: Iterable[str], *, due_before: datetime) -> list[Delivery]:
        """Pending deliveries of ``sources`` due before ``due_before``."""
        if not sources:
            return []
        entries = self._schedule.find(
            {"source": {"$in": sorted(sources)}, "next_attempt_at": {"$lte": due_before}}
        )
        found = []
        for entry in await entries.to_list(None):
            delivery = await self.get(entry["_id"])
            if delivery is None or delivery.status is not Status.PENDING:
                await self._schedule.delete_one({"_id": entry["_id"]})  # it has ended
            else:
                found.append(delivery)
        return found

    async def _schedule_entry(self, delivery: Delivery) -> None:
        await upsert_by_id(self._schedule, delivery.id, _entry(delivery))

    async def page(
        self,
        entity: str,
        *,
        automation_id: str | None,
        status: str | None,
        limit: int,
        before: tuple[datetime, str] | None,
    ) -> list[Delivery]:
        """Newest first; ``before`` is the (created_at, id) of the last delivery of a page."""
        query: Document = {"entity": entity}
        if automation_id is not None:
            query["automation_id"] = automation_id
        if status is not None:
            query["status"] = status
        if before is not None:
            at, last_id = before
            query["$or"] = [
                {"created_at": {"$lt": at}},
                {"created_at": at, "_id": {"$lt": last_id}},
            ]
        cursor = self._deliveries.find(query).sort([("created_at", -1), ("_id", -1)]).limit(limit)
        return [Delivery.from_document(doc) async for doc in cursor]

    # Attempts.

    async def add_attempt(self, attempt: Document) -> bool:
        return await insert_once(self._attempts, attempt)

    async def start_attempt(self, attempt: Document) -> None:
        """Logged before the request goes out; ``finish_attempt`` adds the outcome."""
        await insert_once(self._attempts, attempt)

    async def finish_attempt(self, attempt_id: str, result: Document) -> None:
        await self._attempts.update_one({"_id": attempt_id}, {"$set": result})

    async def interrupt_attempts(self, delivery_id: str, *, at: datetime) -> None:
        """Attempts a stopped or crashed owner never finished: their outcome is unknown."""
        await self._attempts.update_many(
            {"delivery_id": delivery_id, "verdict": "in_flight"},
            {
                "$set": {
                    "verdict": "interrupted",
                    "finished_at": at,
                    "error": "the service stopped during this attempt; its outcome is unknown",
                }
            },
        )

    async def count_attempts(self, delivery_id: str) -> int:
        return await self._attempts.count_documents({"delivery_id": delivery_id})

    async def attempts(self, delivery_id: str) -> list[Document]:
        return [doc async for doc in self._attempts.find({"delivery_id": delivery_id}).sort("n", 1)]

    # Redelivery requests.

    async def request_redelivery(self, request: Document) -> None:
        await self._redeliveries.insert_one(request)

    async def redelivery_requests(self, sources: Iterable[str]) -> list[Document]:
        if not sources:
            return []
        cursor = self._redeliveries.find({"source": {"$in": sorted(sources)}})
        return [doc async for doc in cursor.sort("requested_at", 1)]

    async def forget_redelivery_request(self, request_id: str) -> None:
        await self._redeliveries.delete_one({"_id": request_id})

    # Metadata of artifact versions, from artifact.committed, for ${artifact_metadata.KEY}.

    async def remember_version(self, key: str, metadata: dict[str, Any]) -> None:
        await insert_once(self._versions, {"_id": key, "metadata_json": dumps(metadata)})

    async def version_metadata(self, key: str) -> dict[str, Any] | None:
        doc = await self._versions.find_one({"_id": key})
        if doc is None:
            return None
        value = json.loads(doc["metadata_json"])
        return value if isinstance(value, dict) else None


def _entry(delivery: Delivery) -> Document:
    """The delivery's schedule entry: what a scan for due deliveries reads."""
    return {
        "_id": delivery.id,
        "source": delivery.source,
        "next_attempt_at": delivery.next_attempt_at,
    }
