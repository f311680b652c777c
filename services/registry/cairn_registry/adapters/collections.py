"""The documents of registered models (database ``cairn_registry``), and how a plan is applied.

Every document here belongs to one collection and is written only by the consumer that owns
the collection's partition of ``cairn.registry``, one command at a time; so an update never has
two concurrent writers, and "max + 1" (link indexes, history sequence numbers) is safe. The unique
indexes still guard those numbers, so a bug would fail loudly rather than duplicate one.

- ``collections``: ``_id`` = collection id; description, tags, dates, version_count, and the
  writer's state (``plans.head_document``: aliases, active links, the last link index and
  history number), written together with the plan that produced it (``plan``). The writer reads
  only documents by ``_id``: FerretDB answers those from its primary key, and scans the table
  for any other query or update.
- ``links``: ``_id`` = ``<collection id>:vN``; never deleted (unlinking deactivates), so an index
  is never reused
- ``history``: append-only, ``seq`` per collection
- ``command_results``: ``_id`` = command id; the result (done|rejected), inserted last

A plan is applied in three steps. ``commit`` writes the collection's new state and the plan in
one document: from then on a retried command finds its plan there and re-applies it, never
re-deciding from a half-changed state. ``apply`` writes the rest (history, links), each write
repeatable. ``finish`` inserts the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache
from cairn_shared.mongo import Database, Document, ensure_indexes, insert_many_once, insert_once
from pymongo import ASCENDING, DESCENDING, IndexModel

from cairn_registry.domain.plans import (
    CollectionState,
    LinkRef,
    Plan,
    head_active,
    head_aliases,
)

PLAN = "plan"  # the field of a collection's document that holds its last committed plan
DONE = "done"
REJECTED = "rejected"
FINISHED = (DONE, REJECTED)


class CollectionStore:
    def __init__(self, db: Database) -> None:
        self.collections = db["collections"]
        self.links = db["links"]
        self.history = db["history"]
        self.results = db["command_results"]

    async def setup(self) -> None:
        await ensure_indexes(
            self.collections,
            [IndexModel([("entity", ASCENDING), ("registry", ASCENDING), ("name", ASCENDING)])],
        )
        await ensure_indexes(
            self.links,
            [
                IndexModel([("collection_id", ASCENDING), ("link_index", DESCENDING)], unique=True),
                IndexModel([("collection_id", ASCENDING), ("source_key", ASCENDING)], unique=True),
            ],
        )
        await ensure_indexes(
            self.history,
            [
                IndexModel([("collection_id", ASCENDING), ("seq", DESCENDING)], unique=True),
                IndexModel([("collection_id", ASCENDING), ("alias", ASCENDING)]),
            ],
        )

    # -- what the planners need ------------------------------------------------------------

    async def state(
        self, entity: str, registry: str, collection: str, *, touching: Iterable[int] = ()
    ) -> CollectionState:
        """The collection as its single writer sees it; ``touching``: link indexes the command
        names, whose references the plan needs if they are active."""
        cid = f"{entity}/{registry}/{collection}"
        doc = await self._head(cid)
        aliases, active = head_aliases(doc), head_active(doc)
        newest = sorted(active, reverse=True)[:2]
        needed = sorted({*aliases.values(), *newest, *touching} & active.keys())
        found = await asyncio.gather(*(self._link(link_id(cid, n)) for n in needed))
        links = {
            d["link_index"]: LinkRef(
                d["link_index"], d["source"]["sequence"], d["source"]["version_index"]
            )
            for d in found
            if d is not None and d.get("active")
        }
        return CollectionState(
            collection_id=cid,
            entity=entity,
            registry=registry,
            collection=collection,
            exists=doc is not None,
            version_count=int(doc.get("version_count", 0)) if doc else 0,
            aliases=aliases,
            links=links,
            active=active,
            max_link_index=doc.get("max_link_index") if doc else None,
            last_seq=int(doc.get("last_seq", 0)) if doc else 0,
            last_at=doc.get("last_at") if doc else None,
        )

    async def _head(self, collection_id: str) -> Document | None:
        doc: Document | None = await self.collections.find_one({"_id": collection_id})
        return doc

    async def _link(self, key: str) -> Document | None:
        doc: Document | None = await self.links.find_one({"_id": key})
        return doc

    # -- commands --------------------------------------------------------------------------

    async def result(self, command_id: str) -> Document | None:
        """The command's result, None until written."""
        doc: Document | None = await self.results.find_one({"_id": command_id})
        return doc

    async def recorded_plan(self, collection_id: str, command_id: str) -> Plan | None:
        """The command's plan if it was committed (an earlier attempt stopped after that)."""
        recorded = ((await self._head(collection_id)) or {}).get(PLAN)
        if recorded is None or recorded.get("command_id") != command_id:
            return None
        return Plan.from_document(recorded)

    async def reject(
        self, command_id: str, *, entity: str, collection_id: str, code: str, reason: str
    ) -> Document:
        result = {
            "_id": command_id,
            "entity": entity,
            "collection_id": collection_id,
            "status": REJECTED,
            "code": code,
            "reason": reason,
            "finished_at": _now(),
        }
        await insert_once(self.results, result)
        return result

    async def commit(self, plan: Plan) -> None:
        """The collection's state after ``plan``, and the plan: one document, one write.
        Repeatable; a plan that changes nothing writes nothing (it has nothing to re-apply)."""
        if not plan.head and not plan.collection_set:
            return
        if plan.create_collection is not None:
            await insert_once(self.collections, plan.create_collection)
        await self.collections.update_one(
            {"_id": plan.collection_id},
            {"$set": {**plan.collection_set, **plan.head, PLAN: plan.to_document()}},
        )

    async def apply(self, plan: Plan) -> None:
        """The plan's other writes, once it is committed; each one may be repeated harmlessly,
        and none depends on another, so they go out together."""
        cid = plan.collection_id
        writes: list[Awaitable[object]] = [insert_many_once(self.history, plan.history)]
        if plan.insert_link is not None:
            writes.append(insert_once(self.links, plan.insert_link))
        if plan.unlink_index is not None:
            n = plan.unlink_index
            writes.append(
                self.links.update_one(
                    {"_id": link_id(cid, n)},
                    {
                        "$set": {
                            "active": False,
                            "source_key": f"unlinked:v{n}",  # frees the source for a new link
                            "unlinked_at": plan.at,
                            "unlinked_by": plan.actor,
                        }
                    },
                )
            )
        await asyncio.gather(*writes)

    async def finish(self, plan: Plan, *, entity: str) -> Document:
        """The result, inserted last: a poller that sees it sees every effect."""
        result = {
            "_id": plan.command_id,
            "entity": entity,
            "collection_id": plan.collection_id,
            "status": DONE,
            "link_index": plan.link_index,
            "finished_at": _now(),
        }
        await insert_once(self.results, result)
        return result


class WriterCollectionStore(CollectionStore):
    """The collection writer's store: remembers the head and link documents it read or wrote.

    Only the owner of a collection's partition writes these documents, so while it owns the
    partition its memory is exact and ``state`` needs no round trip. ``forget`` must be called
    whenever the group reassigns partitions; a write that failed forgets its collection.
    """

    def __init__(self, db: Database, *, cache_size: int = 10_000) -> None:
        super().__init__(db)
        self._heads: LRUCache[str, Document | None] = LRUCache(maxsize=cache_size)
        self._links: LRUCache[str, Document] = LRUCache(maxsize=cache_size)

    def forget(self) -> None:
        self._heads.clear()
        self._links.clear()

    async def commit(self, plan: Plan) -> None:
        cid = plan.collection_id
        before = self._heads.pop(cid, None)
        await super().commit(plan)
        if before is None and plan.create_collection is None:
            return  # not remembered before: read it again next time
        if plan.head or plan.collection_set:
            base = before or plan.create_collection or {}
            before = {**base, **plan.collection_set, **plan.head, PLAN: plan.to_document()}
        self._heads[cid] = before

    async def apply(self, plan: Plan) -> None:
        cid = plan.collection_id
        try:
            await super().apply(plan)
        except BaseException:
            self._links.clear()  # an unlink may or may not have been written
            raise
        if plan.insert_link is not None:
            self._links[link_id(cid, int(plan.insert_link["link_index"]))] = plan.insert_link
        if plan.unlink_index is not None:
            self._links.pop(link_id(cid, plan.unlink_index), None)

    async def _head(self, collection_id: str) -> Document | None:
        if collection_id not in self._heads:
            self._heads[collection_id] = await super()._head(collection_id)
        return self._heads[collection_id]

    async def _link(self, key: str) -> Document | None:
        if key in self._links:
            return self._links[key]
        doc = await super()._link(key)
        if doc is not None:
            self._links[key] = doc
        return doc


def link_id(collection_id: str, link_index: int) -> str:
    return f"{collection_id}:v{link_index}"


def command_result(doc: Document | None) -> dict[str, Any]:
    """A command's answer for HTTP: ``pending`` until its result is written."""
    if doc is None or doc.get("status") not in FINISHED:
        return {"status": "pending"}
    result: dict[str, Any] = {"status": doc["status"]}
    if doc["status"] == REJECTED:
        result["code"] = doc.get("code", "rejected")
        result["reason"] = doc.get("reason", "")
    if doc.get("link_index") is not None:
        result["link_index"] = doc["link_index"]
        result["version"] = f"v{doc['link_index']}"
    return result


def _now() -> datetime:
    return datetime.now(UTC)
