"""What registry knows of artifact versions (a projection of ``artifact.committed``) and the links
that wait for a version to be committed.

Projection documents are written only by the consumer that owns the artifact sequence's
partition of ``cairn.artifacts``; pending links only by the owner of the collection's partition
of ``cairn.registry``. The two meet through the order of their writes (see the handlers).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cairn_shared.events.artifacts import ArtifactCommitted
from cairn_shared.events.envelope import Envelope
from cairn_shared.events.registry import ModelLinkRequested
from cairn_shared.ids import derive_id
from cairn_shared.mongo import Database, Document, encode_mapping, ensure_indexes, insert_once
from pymongo import ASCENDING, IndexModel

from cairn_registry.domain.commands import SourceVersion


class ArtifactVersions:
    def __init__(self, db: Database) -> None:
        self._versions = db["artifact_versions"]
        self._submissions = db["artifact_submissions"]

    async def record(self, event: ArtifactCommitted) -> None:
        # A whole-document replace: idempotent, and the latest commit's view of the version
        # wins (events of one sequence arrive in order).
        await self._versions.replace_one(
            {"_id": _version_id(event.sequence, event.version_index)},
            {
                "sequence": event.sequence,
                "version_index": event.version_index,
                "version_id": event.version_id,
                "type": event.artifact_type,
                "manifest_digest": event.manifest_digest,
                "size": event.size,
                "metadata": encode_mapping(event.metadata),
                "committed_at": event.committed_at,
            },
            upsert=True,
        )
        # Several submissions may end in one version (same content): one document each, so a
        # later one never hides an earlier one.
        await insert_once(
            self._submissions,
            {
                "_id": event.submission_id,
                "sequence": event.sequence,
                "version_index": event.version_index,
            },
        )

    async def get(self, sequence: str, version_index: int) -> SourceVersion | None:
        doc = await self._versions.find_one({"_id": _version_id(sequence, version_index)})
        return _source(doc) if doc is not None else None

    async def by_submission(self, submission_id: str) -> SourceVersion | None:
        found = await self._submissions.find_one({"_id": submission_id})
        if found is None:
            return None
        return await self.get(found["sequence"], found["version_index"])


class PendingLinks:
    """Link commands whose artifact version was not committed yet (collection ``pending_links``)."""

    def __init__(self, db: Database) -> None:
        self._pending = db["pending_links"]

    async def setup(self) -> None:
        await ensure_indexes(
            self._pending,
            [
                IndexModel([("source_submission_id", ASCENDING)]),
                IndexModel([("source_sequence", ASCENDING), ("source_version_index", ASCENDING)]),
                IndexModel([("command_id", ASCENDING)]),
            ],
        )

    async def add(self, command_id: str, request: ModelLinkRequested, envelope: Envelope) -> None:
        await insert_once(
            self._pending,
            {
                "_id": pending_id(command_id),
                "command_id": command_id,
                "collection_id": request.collection_id,
                "source_sequence": request.source_sequence,
                "source_version_index": request.source_version_index,
                "source_submission_id": request.source_submission_id,
                "request": request.model_dump(mode="json"),
                "entity": envelope.entity,
                "project": envelope.project,
                "actor": envelope.actor,
                "requestid": envelope.requestid,
                "traceparent": envelope.traceparent,
                "created_at": datetime.now(UTC),
            },
        )

    async def waiting_for(
        self, sequence: str, version_index: int, submission_id: str
    ) -> list[Document]:
        query: dict[str, Any] = {
            "$or": [
                {"source_submission_id": submission_id},
                {"source_sequence": sequence, "source_version_index": version_index},
            ]
        }
        return [doc async for doc in self._pending.find(query).sort("created_at", ASCENDING)]

    async def remove(self, command_id: str) -> None:
        await self._pending.delete_many({"command_id": command_id})


def pending_id(command_id: str) -> str:
    return derive_id(command_id, "pending")


def _version_id(sequence: str, version_index: int) -> str:
    return f"{sequence}:v{version_index}"


def _source(doc: Mapping[str, Any]) -> SourceVersion:
    return SourceVersion(
        sequence=doc["sequence"],
        version_index=doc["version_index"],
        version_id=doc["version_id"],
        artifact_type=doc["type"],
        manifest_digest=doc["manifest_digest"],
        size=doc["size"],
        metadata=list(doc.get("metadata", [])),
        committed_at=doc.get("committed_at"),
    )
