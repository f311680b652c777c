"""Submission outcomes and usages in MongoDB (database ``cairn_manifest``).

A submission document is the done-marker of an ``artifact.logged`` event: written last, after
its events are on Kafka, and holding those events so a redelivery re-emits them exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cairn_shared.events.envelope import Envelope
from cairn_shared.mongo import Database, Document, ensure_indexes, insert_once
from pymongo import ASCENDING, IndexModel


class SubmissionRepository:
    def __init__(self, db: Database) -> None:
        self._submissions = db["submissions"]
        self._usages = db["usages"]

    async def setup(self) -> None:
        await ensure_indexes(
            self._usages, [IndexModel([("sequence", ASCENDING), ("version_index", ASCENDING)])]
        )

    async def get(self, submission_id: str) -> Document | None:
        return await self._submissions.find_one({"_id": submission_id})

    async def record(
        self,
        submission_id: str,
        *,
        envelope: Envelope,
        status: str,
        events: Sequence[tuple[Envelope, str]] = (),
        version_index: int | None = None,
        reason: str = "",
    ) -> None:
        document: dict[str, Any] = {
            "_id": submission_id,
            "entity": envelope.entity,
            "project": envelope.project,
            "sequence": envelope.subject,
            "status": status,
            "version_index": version_index,
            "reason": reason,
            # As JSON text: event payloads carry user metadata, whose keys must not be fields.
            "events": [{"key": key, "envelope": e.model_dump_json()} for e, key in events],
        }
        await insert_once(self._submissions, document)

    @staticmethod
    def events_of(submission: Document) -> list[tuple[Envelope, str]]:
        return [
            (Envelope.model_validate_json(item["envelope"]), item["key"])
            for item in submission.get("events", [])
        ]

    async def add_usage(
        self, usage_id: str, *, sequence: str, version_index: int, run: str, used_at: datetime
    ) -> bool:
        return await insert_once(
            self._usages,
            {
                "_id": usage_id,
                "sequence": sequence,
                "version_index": version_index,
                "run": run,
                "used_at": used_at,
            },
        )

    async def used_by(self, sequence: str, indexes: Sequence[int]) -> dict[int, list[str]]:
        """The runs that used each version, oldest use first."""
        found: dict[int, list[str]] = {i: [] for i in indexes}
        cursor = self._usages.find(
            {"sequence": sequence, "version_index": {"$in": list(indexes)}}
        ).sort("used_at", ASCENDING)
        async for d in cursor:
            runs = found[d["version_index"]]
            if d["run"] not in runs:
                runs.append(d["run"])
        return found
