"""The run writer: applies run lifecycle events to the runs collection, one writer per run."""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from cachetools import LRUCache
from cairn_shared.auth.identity_store import MongoIdentityStore
from cairn_shared.events.envelope import Envelope
from cairn_shared.events.runs import RunFinished, RunStarted
from cairn_shared.kafka.consumer import Handler, on

from cairn_ingest.adapters.run_repository import RunRepository

log = structlog.get_logger(__name__)


KNOWN_PROJECTS = 10_000


def run_writer_handlers(runs: RunRepository, identity: MongoIdentityStore) -> Mapping[str, Handler]:
    # Projects this process has seen created: a project is never deleted, so thousands of
    # runs of one project cost one insert, not one failed insert each.
    known: LRUCache[str, bool] = LRUCache(maxsize=KNOWN_PROJECTS)

    async def started(envelope: Envelope, event: RunStarted) -> None:
        # W&B creates a project on first use. Doing it here rather than in the HTTP handler
        # keeps that path a single write (the event); the insert is idempotent.
        project = f"{envelope.entity}/{envelope.project}"
        if project not in known:
            await identity.create_project(
                envelope.entity, envelope.project, created_by=envelope.actor
            )
            known[project] = True
        created = await runs.add_started(
            path=envelope.subject,
            entity=envelope.entity,
            project=envelope.project,
            run_id=event.run_id,
            name=event.name,
            job_type=event.job_type,
            config=event.config,
            started_at=event.started_at,
            started_by=envelope.actor,
        )
        if not created:
            log.info("run.start_redelivered", run=envelope.subject)

    async def finished(envelope: Envelope, event: RunFinished) -> None:
        await runs.mark_finished(
            envelope.subject,
            entity=envelope.entity,
            project=envelope.project,
            exit_code=event.exit_code,
            finished_at=event.finished_at,
        )

    return dict([on(RunStarted, started), on(RunFinished, finished)])
