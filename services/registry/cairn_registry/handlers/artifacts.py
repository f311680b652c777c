"""``artifact.committed``: keep the version projection, and release the links that waited for it.

This handler owns the artifact sequence's partition, not any collection's: it does not link
anything itself. It re-issues each waiting link as a fresh ``model.link.requested`` keyed by the
collection, so the collection's owner applies it in order with the collection's other commands.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from cairn_shared.events.artifacts import ArtifactCommitted
from cairn_shared.events.envelope import Cause, Envelope
from cairn_shared.events.registry import ModelLinkRequested
from cairn_shared.ids import derive_id
from cairn_shared.kafka.consumer import Handler, on
from cairn_shared.kafka.publisher import EventPublisher
from cairn_shared.mongo import Document
from pydantic import ValidationError

from cairn_registry.adapters.artifacts import ArtifactVersions, PendingLinks
from cairn_registry.domain.plans import SOURCE

log = structlog.get_logger(__name__)


def artifact_handlers(
    versions: ArtifactVersions, pending: PendingLinks, publisher: EventPublisher
) -> Mapping[str, Handler]:
    async def committed(envelope: Envelope, event: ArtifactCommitted) -> None:
        # Write the version THEN read the waiting links: the link handler does the reverse
        # (records its wait, then looks for the version), so one of the two sees the other.
        await versions.record(event)
        waiting = await pending.waiting_for(
            event.sequence, event.version_index, event.submission_id
        )
        ready = [r for r in (_reissue(doc, event) for doc in waiting) if r is not None]
        if ready:
            await publisher.publish_many(ready)
            log.info("pending_links.released", count=len(ready), sequence=event.sequence)

    return dict([on(ArtifactCommitted, committed)])


def _reissue(pending: Document, event: ArtifactCommitted) -> tuple[Envelope, str] | None:
    """The waiting link as a fresh command for the collection's owner, naming the version."""
    try:
        original = ModelLinkRequested.model_validate(pending["request"])
    except ValidationError:
        log.exception("pending_link.unreadable", pending_id=pending["_id"])
        return None
    request = original.model_copy(
        update={
            "source_version_index": event.version_index,
            "completes_command_id": pending["command_id"],
        }
    )
    envelope = Envelope.wrap(
        request,
        # Derived: a redelivered commit re-issues the same command, which the collection's
        # owner then finds finished.
        id=derive_id(pending["_id"], "ready"),
        source=SOURCE,
        subject=request.collection_id,
        # The requester of the link stays the actor of everything it causes.
        cause=Cause(pending["actor"], pending.get("requestid", ""), pending.get("traceparent", "")),
        entity=pending["entity"],
        project=pending.get("project", ""),
    )
    return envelope, request.collection_id
