"""Runs in MongoDB (database ``cairn_ingest``), written only by the run writer consumer.

Insert-only: ``runs`` holds each run's start, ``run_ends`` its end (same ``_id``); a read
merges the two. FerretDB answers an update with a scan of the whole collection, and runs are
the largest collection here, so a finish is an insert like a start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cairn_shared.mongo import Database, Document, encode_mapping, ensure_indexes, insert_once
from pymongo import ASCENDING, DESCENDING, IndexModel


class RunRepository:
    def __init__(self, db: Database) -> None:
        self._runs = db["runs"]
        self._ends = db["run_ends"]

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

    async def mark_finished(
        self, path: str, *, entity: str, project: str, exit_code: int, finished_at: datetime
    ) -> None:
        """The first end of a run counts; a redelivered one finds its ``_id`` taken."""
        await insert_once(
            self._ends,
            {
                "_id": path,
                "entity": entity,
                "project": project,
                "state": "finished" if exit_code == 0 else "failed",
                "exit_code": exit_code,
                "finished_at": finished_at,
            },
        )

    async def get(self, path: str) -> Document | None:
        run = await self._runs.find_one({"_id": path})
        return None if run is None else with_end(run, await self._ends.find_one({"_id": path}))

    async def list_project(
        self, entity: str, project: str, *, state: str | None = None
    ) -> list[Document]:
        """A project's runs. FerretDB scans for this (no pushdown but ``_id``), which is fine
        at the size of a runs collection; the caller filters further in Python."""
        project_of = {"entity": entity, "project": project}
        ends = {end["_id"]: end async for end in self._ends.find(project_of)}
        runs = [with_end(run, ends.get(run["_id"])) async for run in self._runs.find(project_of)]
        return runs if state is None else [run for run in runs if run["state"] == state]


def with_end(run: Document, end: Document | None) -> Document:
    """A run as readers see it: its start, and its end once it has one."""
    if end is None:
        return run
    return run | {key: end[key] for key in ("state", "exit_code", "finished_at")}
