"""Automations, webhook integrations and secrets in MongoDB (database ``cairn_automations``).

Writers: the HTTP routes, by insert or whole-document replace guarded by ``revision`` (a
concurrent change is a 409, never a lost update), and the delivery owner, which only inserts a
"disabled" mark when a receiver answers 410. Names are unique per entity by unique indexes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from enum import Enum

from cairn_shared.mongo import Collection, Database, Document, ensure_indexes, insert_once
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from cairn_automations.adapters.documents import (
    automation_document,
    automation_of,
    integration_document,
    integration_of,
)
from cairn_automations.domain.records import Automation, EntityConfig, Integration


class Replaced(Enum):
    OK = "ok"
    CONFLICT = "conflict"  # the document changed (or went) since it was read
    DUPLICATE = "duplicate"  # the new name is taken


class ConfigRepository:
    def __init__(self, db: Database) -> None:
        self._automations = db["automations"]
        self._integrations = db["integrations"]
        self._secrets = db["secrets"]
        self._disabled = db["integration_disabled"]

    async def setup(self) -> None:
        for collection in (self._automations, self._integrations):
            await ensure_indexes(
                collection, [IndexModel([("entity", ASCENDING), ("name", ASCENDING)], unique=True)]
            )
        await ensure_indexes(self._automations, [IndexModel([("integration_id", ASCENDING)])])
        await ensure_indexes(self._secrets, [IndexModel([("entity", ASCENDING)])])
        await ensure_indexes(self._disabled, [IndexModel([("integration_id", ASCENDING)])])

    # Automations.

    async def insert_automation(self, automation: Automation) -> bool:
        """False when the entity has an automation of that name."""
        return await insert_once(self._automations, automation_document(automation))

    async def replace_automation(self, automation: Automation) -> Replaced:
        """Store ``automation`` (revision n + 1) over revision n."""
        doc = automation_document(automation)
        return await _replace(self._automations, doc, automation.revision - 1)

    async def delete_automation(self, automation_id: str) -> bool:
        result = await self._automations.delete_one({"_id": automation_id})
        return result.deleted_count == 1

    async def automations(
        self, entities: Sequence[str] | None, *, name: str | None = None
    ) -> list[Automation]:
        """Automations of ``entities`` (None: every entity), optionally of one name."""
        query: Document = {} if entities is None else {"entity": {"$in": list(entities)}}
        if name is not None:
            query["name"] = name
        cursor = self._automations.find(query).sort([("entity", 1), ("name", 1)])
        return [automation_of(doc) async for doc in cursor]

    async def automation(self, entity: str, ref: str) -> Automation | None:
        """By id, else by name."""
        doc = await self._automations.find_one({"_id": ref, "entity": entity})
        doc = doc or await self._automations.find_one({"entity": entity, "name": ref})
        return None if doc is None else automation_of(doc)

    async def automations_using(self, integration_id: str) -> list[str]:
        cursor = self._automations.find({"integration_id": integration_id}, {"name": 1})
        return [doc["name"] async for doc in cursor]

    # Webhook integrations.

    async def insert_integration(self, integration: Integration) -> bool:
        return await insert_once(self._integrations, integration_document(integration))

    async def replace_integration(self, integration: Integration) -> Replaced:
        doc = integration_document(integration)
        return await _replace(self._integrations, doc, integration.revision - 1)

    async def delete_integration(self, integration_id: str) -> bool:
        result = await self._integrations.delete_one({"_id": integration_id})
        return result.deleted_count == 1

    async def integrations(self, entity: str) -> list[Integration]:
        docs = [d async for d in self._integrations.find({"entity": entity}).sort("name", 1)]
        reasons = await self._disabled_reasons(docs)
        return [integration_of(d, reasons.get((d["_id"], d.get("revision", 1)), "")) for d in docs]

    async def integration(self, entity: str, ref: str) -> Integration | None:
        doc = await self._integrations.find_one({"_id": ref, "entity": entity})
        doc = doc or await self._integrations.find_one({"entity": entity, "name": ref})
        if doc is None:
            return None
        reasons = await self._disabled_reasons([doc])
        return integration_of(doc, reasons.get((doc["_id"], doc.get("revision", 1)), ""))

    async def disable_integration(
        self, integration_id: str, revision: int, *, reason: str, at: datetime
    ) -> None:
        """Insert-only: the mark applies to this revision; the next update clears it."""
        await insert_once(
            self._disabled,
            {
                "_id": f"{integration_id}@{revision}",
                "integration_id": integration_id,
                "revision": revision,
                "reason": reason,
                "at": at,
            },
        )

    async def _disabled_reasons(self, docs: list[Document]) -> dict[tuple[str, int], str]:
        if not docs:
            return {}
        ids = [d["_id"] for d in docs]
        return {
            (m["integration_id"], m["revision"]): m["reason"]
            async for m in self._disabled.find({"integration_id": {"$in": ids}})
        }

    # Secrets (encrypted values; the API never returns them).

    async def put_secret(self, doc: Document) -> bool:
        """Create or replace; True if it was created."""
        if await insert_once(self._secrets, doc):
            return True
        existing = await self._secrets.find_one({"_id": doc["_id"]}, {"created_at": 1})
        replacement = {**doc, "created_at": (existing or doc)["created_at"]}
        await self._secrets.replace_one({"_id": doc["_id"]}, replacement, upsert=True)
        return False

    async def delete_secret(self, entity: str, name: str) -> bool:
        result = await self._secrets.delete_one({"_id": secret_id(entity, name)})
        return result.deleted_count == 1

    async def secrets(self, entity: str) -> list[Document]:
        return [d async for d in self._secrets.find({"entity": entity}).sort("name", 1)]

    # Everything of an entity, for the cache.

    async def load(self, entity: str) -> EntityConfig:
        automation_docs, integrations, secret_docs = await asyncio.gather(
            self._automations.find({"entity": entity}).to_list(None),
            self.integrations(entity),
            self.secrets(entity),
        )
        return EntityConfig(
            entity=entity,
            automations=tuple(automation_of(d) for d in automation_docs),
            integrations={i.id: i for i in integrations},
            secrets={d["name"]: d["ciphertext"] for d in secret_docs},
        )


def secret_id(entity: str, name: str) -> str:
    return f"{entity}/{name}"


async def _replace(collection: Collection, doc: Document, revision: int) -> Replaced:
    try:
        result = await collection.replace_one({"_id": doc["_id"], "revision": revision}, doc)
    except DuplicateKeyError:
        return Replaced.DUPLICATE
    return Replaced.OK if result.matched_count == 1 else Replaced.CONFLICT
