"""What manifest knows of runs: enough to show which run logged or used a version.

Insert-only, as in ingest: ``run_refs`` holds each start, ``run_ref_ends`` each end (same
``_id``); FerretDB answers an update with a scan of the whole collection.
"""

from __future__ import annotations

from datetime import datetime

from cairn_shared.mongo import Database, Document, insert_once


class RunRefRepository:
    def __init__(self, db: Database) -> None:
        self._runs = db["run_refs"]
        self._ends = db["run_ref_ends"]

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
        """The first end of a run counts; a redelivered one finds its ``_id`` taken."""
        await insert_once(
            self._ends,
            {
                "_id": path,
                "state": "finished" if exit_code == 0 else "failed",
                "finished_at": finished_at,
            },
        )

    async def get(self, path: str) -> Document | None:
        run = await self._runs.find_one({"_id": path})
        if run is None:
            return None
        end = await self._ends.find_one({"_id": path})
        return (
            run if end is None else run | {"state": end["state"], "finished_at": end["finished_at"]}
        )
