"""What manifest knows of runs: enough to show which run logged or used a version."""

from __future__ import annotations

from datetime import datetime

from cairn_shared.mongo import Database, Document, insert_once


class RunRefRepository:
    def __init__(self, db: Database) -> None:
        self._runs = db["run_refs"]

    async def add(
        self,
        *,
        path: str,
        name: str,
        job_type: str,
        started_at: datetime,
        started_by: str,
        event_id: str,
    ) -> bool:
        """False when the run is known already: the event was redelivered."""
        return await insert_once(
            self._runs,
            {
                "_id": path,
                "name": name,
                "job_type": job_type,
                "state": "running",
                "started_at": started_at,
                "started_by": started_by,
                "event_id": event_id,
            },
        )

    async def mark_finished(self, path: str, *, exit_code: int, finished_at: datetime) -> None:
        # One writer per run (the owner of its partition); redelivery finds state != running.
        await self._runs.update_one(
            {"_id": path, "state": "running"},
            {
                "$set": {
                    "state": "finished" if exit_code == 0 else "failed",
                    "finished_at": finished_at,
                }
            },
        )

    async def get(self, path: str) -> Document | None:
        return await self._runs.find_one({"_id": path})
