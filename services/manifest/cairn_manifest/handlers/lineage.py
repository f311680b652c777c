"""Lineage handlers: keep the run references that versions point to."""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from cairn_shared.events.envelope import Envelope
from cairn_shared.events.runs import RunFinished, RunStarted
from cairn_shared.kafka.consumer import Handler, on

from cairn_manifest.adapters.run_refs import RunRefRepository

log = structlog.get_logger(__name__)


def lineage_handlers(runs: RunRefRepository) -> Mapping[str, Handler]:
    async def started(envelope: Envelope, event: RunStarted) -> None:
        created = await runs.add(
            path=envelope.subject,
            name=event.name,
            job_type=event.job_type,
            started_at=event.started_at,
            started_by=envelope.actor,
            event_id=envelope.id,
        )
        if not created:
            log.info("run_ref.redelivered", run=envelope.subject)

    async def finished(envelope: Envelope, event: RunFinished) -> None:
        await runs.mark_finished(
            envelope.subject, exit_code=event.exit_code, finished_at=event.finished_at
        )

    return dict([on(RunStarted, started), on(RunFinished, finished)])
