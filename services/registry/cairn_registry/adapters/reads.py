"""Reads for the HTTP routes: straight from the documents the collection writer keeps.

Queries narrow only by entity, registry and collection plus the paging key; search filters are
evaluated in Python (``domain/filters.py``) over what these iterators yield, in batches.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

from cairn_shared.mongo import Document, find_by_ids
from pymongo import ASCENDING, DESCENDING

from cairn_registry.adapters.collections import PLAN, CollectionStore, link_id
from cairn_registry.domain.history import ALIAS_ADDED, ALIAS_REMOVED
from cairn_registry.domain.plans import head_aliases

BATCH = 200
WITHOUT_PLAN = {PLAN: False}  # the writer's record, of no use to a reader


class CollectionReads:
    def __init__(self, store: CollectionStore) -> None:
        self._s = store

    async def collection(self, collection_id: str) -> Document | None:
        return await self._s.collections.find_one({"_id": collection_id}, WITHOUT_PLAN)

    async def collections(
        self, entity: str, registry: str, *, after: str | None
    ) -> AsyncGenerator[Document, None]:
        """By name, from the one after ``after``."""
        query: dict[str, Any] = {"entity": entity, "registry": registry}
        while True:
            if after is not None:
                query["name"] = {"$gt": after}
            found = self._s.collections.find(query, WITHOUT_PLAN).sort("name", ASCENDING)
            batch = await found.to_list(BATCH)
            for doc in batch:
                yield doc
            if len(batch) < BATCH:
                return
            after = batch[-1]["name"]

    async def aliases(self, collection_id: str) -> dict[str, int]:
        return head_aliases(await self.collection(collection_id))

    async def link(self, collection_id: str, link_index: int) -> Document | None:
        """The link ``vN``, if it is active."""
        doc = await self._s.links.find_one({"_id": link_id(collection_id, link_index)})
        return doc if doc is not None and doc.get("active") else None

    async def links(
        self, collection_id: str, *, before: int | None
    ) -> AsyncGenerator[Document, None]:
        """Active links, newest first, from the one below ``before``."""
        query: dict[str, Any] = {"collection_id": collection_id, "active": True}
        while True:
            if before is not None:
                query["link_index"] = {"$lt": before}
            batch = await self._s.links.find(query).sort("link_index", DESCENDING).to_list(BATCH)
            for doc in batch:
                yield doc
            if len(batch) < BATCH:
                return
            before = batch[-1]["link_index"]

    async def history(
        self, collection_id: str, *, alias: str | None, after: int, limit: int
    ) -> list[Document]:
        """Entries in the order they happened, from the one after ``seq`` ``after``."""
        query: dict[str, Any] = {"collection_id": collection_id, "seq": {"$gt": after}}
        if alias is not None:
            query["alias"] = alias
        return await self._s.history.find(query).sort("seq", ASCENDING).to_list(limit)

    async def last_alias_change(
        self, collection_id: str, alias: str, at: datetime
    ) -> list[Document]:
        """The last change of ``alias`` up to ``at`` (``domain.history.holder_at`` decides)."""
        return (
            await self._s.history.find(
                {
                    "collection_id": collection_id,
                    "alias": alias,
                    "action": {"$in": [ALIAS_ADDED, ALIAS_REMOVED]},
                    "at": {"$lte": at},
                }
            )
            .sort("seq", DESCENDING)
            .to_list(1)
        )

    async def finished(self, command_ids: list[str]) -> dict[str, Document]:
        """The results of the finished ones among ``command_ids``, by id."""
        return await find_by_ids(self._s.results, command_ids)

    async def command(self, command_id: str) -> Document | None:
        """The command's result, None while it is pending."""
        return await self._s.result(command_id)
