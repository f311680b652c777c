"""Registry settings as insert-only revisions (collection ``registry_settings``).

Settings change at an admin's HTTP request, not through a collection's consumer, so two admins
may change one registry at once. Each change inserts revision n+1 of the revision it read;
the unique ``_id`` lets exactly one of two concurrent changes win (the other re-reads and
retries), where an update in place could silently lose one on FerretDB (read-modify-write).

Revisions are gapless, so the current one is the revision whose successor does not exist:
``get`` remembers the last revision it saw and reads only by ``_id`` from there (FerretDB scans
the table for any other query).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache
from cairn_shared.mongo import Database, Document, ensure_indexes, insert_once
from pymongo import ASCENDING, DESCENDING, IndexModel

from cairn_registry.domain.registries import DEFAULT_TYPES, RegistrySettings, default_registry


class RegistryStore:
    def __init__(self, db: Database, *, cache_size: int = 10_000) -> None:
        self._revisions = db["registry_settings"]
        # Revisions never change: a remembered one is where the walk to the current one starts.
        self._seen: LRUCache[tuple[str, str], RegistrySettings] = LRUCache(maxsize=cache_size)

    async def setup(self) -> None:
        await ensure_indexes(
            self._revisions,
            [IndexModel([("entity", ASCENDING), ("name", ASCENDING), ("revision", DESCENDING)])],
        )

    async def get(self, entity: str, name: str) -> RegistrySettings | None:
        """The current settings; ``model`` and ``dataset`` are created on first use."""
        current = self._seen.get((entity, name))
        while True:
            following = 0 if current is None else current.revision + 1
            doc = await self._revisions.find_one({"_id": revision_id(entity, name, following)})
            if doc is None:
                break
            current = _settings(doc)
        if current is not None:
            self._seen[(entity, name)] = current
            return current
        default = default_registry(entity, name, at=_now())
        if default is None:
            return None
        await insert_once(self._revisions, _document(default))  # every replica may race here
        return await self.get(entity, name)

    async def all(self, entity: str) -> list[RegistrySettings]:
        """Every registry of ``entity`` by name, with the defaults created if missing."""
        latest: dict[str, RegistrySettings] = {}
        async for doc in self._revisions.find({"entity": entity}).sort("revision", ASCENDING):
            latest[doc["name"]] = _settings(doc)
        for name in DEFAULT_TYPES:
            if name not in latest:
                settings = await self.get(entity, name)
                if settings is not None:
                    latest[name] = settings
        return [latest[name] for name in sorted(latest)]

    async def save(self, settings: RegistrySettings) -> bool:
        """Insert this revision; False when that revision exists (someone else changed it first,
        or, for revision 0, the registry exists)."""
        return await insert_once(self._revisions, _document(settings))


def revision_id(entity: str, name: str, revision: int) -> str:
    return f"{entity}/{name}:r{revision}"


def _document(s: RegistrySettings) -> Document:
    return {
        "_id": revision_id(s.entity, s.name, s.revision),
        "entity": s.entity,
        "name": s.name,
        "revision": s.revision,
        "artifact_types": list(s.artifact_types),
        "protected_aliases": list(s.protected_aliases),
        "description": s.description,
        "created_at": s.created_at,
        "created_by": s.created_by,
        "updated_at": s.updated_at,
        "updated_by": s.updated_by,
    }


def _settings(doc: Mapping[str, Any]) -> RegistrySettings:
    return RegistrySettings(
        entity=doc["entity"],
        name=doc["name"],
        artifact_types=tuple(doc["artifact_types"]),
        protected_aliases=tuple(doc["protected_aliases"]),
        description=doc.get("description", ""),
        revision=doc["revision"],
        created_at=doc.get("created_at"),
        created_by=doc.get("created_by", ""),
        updated_at=doc.get("updated_at"),
        updated_by=doc.get("updated_by", ""),
    )


def _now() -> datetime:
    return datetime.now(UTC)
