"""Runs in MongoDB (database ``cairn_ingest``), written only by the run writer consumer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cairn_shared.mongo import Database, Document, encode_mapping, ensure_indexes, insert_once
from pymongo import ASCENDING, DESCENDING, IndexModel


class RunRepository:
    def __init__(self, db: Database) -> None:
        self._runs = db["runs"]

    async def setup(self) -> None:
        await ensure_indexes(
            self._runs,
            [
                IndexModel(
                    [("entity", ASCENDING), ("project", ASCENDING), ("started_at", DESCENDING)]
                )
            ],
        )

    async def add_started(
        self,
        *,
        path: str,
        entity: str,
        project: str,
        run_id: str,
        name: str,
        job_type: str,
        config: dict[str, Any],
        started_at: datetime,
        started_by: str,
    ) -> bool:
        """False when the run exists already (a redelivered or retried start)."""
        return await insert_once(
            self._runs,
            {
                "_id": path,
                "entity": entity,
                "project": project,
                "run_id": run_id,
                "name": name,
                "job_type": job_type,
                "config": encode_mapping(config),
                "state": "running",
                "started_at": started_at,
                "started_by": started_by,
            },
        )

    async def mark_finished(self, path: str, *, exit_code: int, finished_at: datetime) -> None:
        # Only the consumer that owns the run's partition writes here, so this update has a
        # single writer; the state condition makes a redelivered event a no-op.
        await self._runs.update_one(
            {"_id": path, "state": "running"},
            {
                "$set": {
                    "state": "finished" if exit_code == 0 else "failed",
                    "exit_code": exit_code,
                    "finished_at": finished_at,
                }
            },
        )

    async def get(self, path: str) -> Document | None:
        return await self._runs.find_one({"_id": path})

    async def list_project(
        self, entity: str, project: str, *, state: str | None = None
    ) -> list[Document]:
        """A project's runs. FerretDB scans for this (no pushdown but ``_id``), which is fine
        at the size of a runs collection; the caller filters further in Python."""
        query: dict[str, str] = {"entity": entity, "project": project}
        if state is not None:
            query["state"] = state
        return await self._runs.find(query).to_list()
