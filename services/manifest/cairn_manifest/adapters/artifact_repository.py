"""Sequences, versions and aliases in MongoDB (database ``cairn_manifest``).

Only the ``manifest.artifacts`` consumer writes here, and per sequence only the member that owns
its partition, so each document has one writer. Version numbers are still guarded by unique
indexes: a second writer (a member that lost its partition mid-event) fails on insert instead
of forking the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cairn_shared.mongo import Database, Document, ensure_indexes, insert_once
from pymongo import ASCENDING, DESCENDING, IndexModel

from cairn_manifest.domain.versioning import AliasHolder, AliasMove


def version_key(sequence: str, index: int) -> str:
    return f"{sequence}:v{index}"


class ArtifactRepository:
    def __init__(self, db: Database) -> None:
        self._sequences = db["sequences"]
        self._versions = db["versions"]
        self._aliases = db["aliases"]

    async def setup(self) -> None:
        await ensure_indexes(
            self._sequences,
            [
                IndexModel([("entity", ASCENDING), ("project", ASCENDING), ("name", ASCENDING)]),
                IndexModel(
                    [("entity", ASCENDING), ("project", ASCENDING), ("created_at", DESCENDING)]
                ),
            ],
        )
        await ensure_indexes(
            self._versions,
            [
                IndexModel([("sequence", ASCENDING), ("manifest_digest", ASCENDING)], unique=True),
                IndexModel([("sequence", ASCENDING), ("version_index", ASCENDING)], unique=True),
            ],
        )
        await ensure_indexes(
            self._aliases, [IndexModel([("sequence", ASCENDING), ("version_index", ASCENDING)])]
        )

    # Sequences

    async def sequence(self, sequence: str) -> Document | None:
        return await self._sequences.find_one({"_id": sequence})

    async def add_sequence(
        self,
        *,
        sequence: str,
        entity: str,
        project: str,
        name: str,
        artifact_type: str,
        created_at: datetime,
    ) -> Document:
        """The sequence as stored: the one just inserted, or the one a retry finds."""
        document = {
            "_id": sequence,
            "entity": entity,
            "project": project,
            "name": name,
            "type": artifact_type,
            "created_at": created_at,
        }
        if await insert_once(self._sequences, document):
            return document
        return await self._sequences.find_one({"_id": sequence}) or document

    async def sequences(
        self, entity: str, project: str, *, artifact_type: str | None = None, limit: int = 0
    ) -> list[Document]:
        """By name, or (with ``limit``) the most recently created first."""
        query: dict[str, Any] = {"entity": entity, "project": project}
        if artifact_type is not None:
            query["type"] = artifact_type
        cursor = self._sequences.find(query)
        if limit:
            cursor = cursor.sort("created_at", DESCENDING).limit(limit)
        else:
            cursor = cursor.sort("name", ASCENDING)
        return await cursor.to_list()

    # Versions

    async def version(self, sequence: str, index: int) -> Document | None:
        return await self._versions.find_one({"_id": version_key(sequence, index)})

    async def versions(self, sequence: str, indexes: Sequence[int]) -> dict[int, Document]:
        found = await self.versions_by_key([version_key(sequence, i) for i in indexes])
        return {d["version_index"]: d for d in found}

    async def versions_by_key(self, keys: Sequence[str]) -> list[Document]:
        return await self._versions.find({"_id": {"$in": list(keys)}}).to_list()

    async def version_with_digest(self, sequence: str, digest: str) -> Document | None:
        return await self._versions.find_one({"sequence": sequence, "manifest_digest": digest})

    async def newest_index(self, sequence: str) -> int | None:
        # FerretDB has no $max accumulator: the newest is the first by descending index.
        newest = (
            await self._versions.find({"sequence": sequence}, {"version_index": 1})
            .sort("version_index", DESCENDING)
            .limit(1)
            .to_list()
        )
        return int(newest[0]["version_index"]) if newest else None

    async def add_version(self, document: Document) -> bool:
        """False on a duplicate key: this event's own earlier write, or another writer's."""
        return await insert_once(self._versions, document)

    async def versions_page(self, sequence: str, *, after: int, limit: int) -> list[Document]:
        cursor = self._versions.find({"sequence": sequence, "version_index": {"$gt": after}})
        return await cursor.sort("version_index", ASCENDING).limit(limit).to_list()

    async def version_counts(self, sequences: Sequence[str]) -> dict[str, int]:
        pipeline: list[Document] = [
            {"$match": {"sequence": {"$in": list(sequences)}}},
            {"$group": {"_id": "$sequence", "count": {"$sum": 1}}},
        ]
        cursor = await self._versions.aggregate(pipeline)
        return {d["_id"]: int(d["count"]) async for d in cursor}

    # Aliases

    async def alias_holders(self, sequence: str) -> dict[str, AliasHolder]:
        return {
            d["alias"]: AliasHolder(d["version_index"], d["event_id"], d.get("previous"))
            async for d in self._aliases.find({"sequence": sequence})
        }

    async def move_alias(self, sequence: str, move: AliasMove, event_id: str) -> None:
        """Point the alias at ``move.target``: a whole-document replace by the one writer of the
        sequence, recording the event and the previous holder so a retry can re-announce it."""
        await self._aliases.replace_one(
            {"_id": f"{sequence}:{move.alias}"},
            {
                "sequence": sequence,
                "alias": move.alias,
                "version_index": move.target,
                "previous": move.previous,
                "event_id": event_id,
            },
            upsert=True,
        )

    async def aliases(self, sequences: Sequence[str]) -> dict[str, dict[str, int]]:
        """Alias to version index, for each of ``sequences``."""
        found: dict[str, dict[str, int]] = {s: {} for s in sequences}
        async for d in self._aliases.find({"sequence": {"$in": list(sequences)}}):
            found[d["sequence"]][d["alias"]] = d["version_index"]
        return found
