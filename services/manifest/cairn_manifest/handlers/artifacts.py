"""The artifact writer: applies ``artifact.logged`` and ``artifact.used``, one writer per sequence.

Applying a submission is a series of idempotent steps, each re-finding its own earlier write
when the event comes again: the sequence, the version (unique per sequence and digest), the
alias moves (each records the event that made it), then the events, and last the submission
document that marks the event done. Every id derives from the logged event's id, so whatever
attempt publishes them, downstream consumers see the same events.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import structlog
from cairn_shared.events.artifacts import (
    ArtifactAliasAdded,
    ArtifactAliasRemoved,
    ArtifactCommitted,
    ArtifactLogged,
    ArtifactUsed,
)
from cairn_shared.events.envelope import Cause, Envelope, EventData
from cairn_shared.ids import derive_id
from cairn_shared.kafka.consumer import Handler, on
from cairn_shared.kafka.publisher import EventPublisher
from cairn_shared.mongo import Document, decode_mapping, encode_mapping

from cairn_manifest.adapters.artifact_repository import ArtifactRepository, version_key
from cairn_manifest.adapters.submission_repository import SubmissionRepository
from cairn_manifest.domain.versioning import (
    AliasMove,
    aliases_after,
    next_index,
    plan_alias_moves,
    type_conflict,
    wanted_aliases,
)

log = structlog.get_logger(__name__)
SOURCE = "/cairn/manifest"


class VersionRaceError(RuntimeError):
    """Another writer took the index: only after a rebalance; the runner retries the event."""


class ArtifactWriter:
    def __init__(
        self,
        artifacts: ArtifactRepository,
        submissions: SubmissionRepository,
        publisher: EventPublisher,
    ) -> None:
        self._artifacts = artifacts
        self._submissions = submissions
        self._publisher = publisher

    def handlers(self) -> Mapping[str, Handler]:
        return dict([on(ArtifactLogged, self.logged), on(ArtifactUsed, self.used)])

    async def logged(self, envelope: Envelope, event: ArtifactLogged) -> None:
        done = await self._submissions.get(envelope.id)
        if done is not None:
            # Events go out before the done-marker, so they were published; again is harmless.
            await self._publisher.publish_many(self._submissions.events_of(done))
            log.info("submission.redelivered", status=done["status"])
            return

        sequence = await self._sequence_for(envelope, event)
        if reason := type_conflict(event.name, sequence["type"], event.artifact_type):
            await self._submissions.record(
                envelope.id, envelope=envelope, status="rejected", reason=reason
            )
            log.info("submission.rejected", sequence=event.sequence, reason=reason)
            return

        version, created = await self._version_for(envelope, event)
        index = int(version["version_index"])
        holders = await self._artifacts.alias_holders(event.sequence)
        wanted = wanted_aliases(event.aliases, created=created)
        moves = plan_alias_moves(holders, wanted, index, envelope.id)
        for move in moves:
            if not move.applied:
                await self._artifacts.move_alias(event.sequence, move, envelope.id)

        events = await self._announcements(
            envelope,
            event,
            version,
            created=created,
            moves=moves,
            aliases=aliases_after(holders, moves, index),
        )
        await self._publisher.publish_many(events)
        await self._submissions.record(
            envelope.id,
            envelope=envelope,
            status="committed",
            events=events,
            version_index=index,
        )
        log.info(
            "submission.committed", sequence=event.sequence, version_index=index, created=created
        )

    async def used(self, envelope: Envelope, event: ArtifactUsed) -> None:
        await self._submissions.add_usage(
            derive_id(envelope.id, "usage"),
            sequence=event.sequence,
            version_index=event.version_index,
            run=f"{envelope.entity}/{envelope.project}/{event.run_id}",
            used_at=envelope.time,
        )

    async def _sequence_for(self, envelope: Envelope, event: ArtifactLogged) -> Document:
        """The sequence, created by its first submission (whose type it then keeps)."""
        existing = await self._artifacts.sequence(event.sequence)
        if existing is not None:
            return existing
        return await self._artifacts.add_sequence(
            sequence=event.sequence,
            entity=envelope.entity,
            project=envelope.project,
            name=event.name,
            artifact_type=event.artifact_type,
            created_at=_now(),
        )

    async def _version_for(
        self, envelope: Envelope, event: ArtifactLogged
    ) -> tuple[Document, bool]:
        """The version with this manifest, and whether this event created it."""
        existing = await self._artifacts.version_with_digest(event.sequence, event.manifest_digest)
        if existing is not None:
            return existing, existing["created_by_event"] == envelope.id
        index = next_index(await self._artifacts.newest_index(event.sequence))
        document = {
            "_id": version_key(event.sequence, index),
            "sequence": event.sequence,
            "version_index": index,
            "version_id": derive_id(envelope.id, "version"),
            "name": event.name,
            "type": event.artifact_type,
            "manifest_digest": event.manifest_digest,
            "size": event.size,
            "file_count": event.file_count,
            "description": event.description,
            "metadata": encode_mapping(event.metadata),
            "created_at": _now(),
            "logged_by": (
                f"{envelope.entity}/{envelope.project}/{event.run_id}" if event.run_id else None
            ),
            "created_by_event": envelope.id,
        }
        if await self._artifacts.add_version(document):
            return document, True
        existing = await self._artifacts.version_with_digest(event.sequence, event.manifest_digest)
        if existing is None:
            raise VersionRaceError(f"{event.sequence} v{index} was written by another writer")
        return existing, existing["created_by_event"] == envelope.id

    async def _announcements(
        self,
        envelope: Envelope,
        event: ArtifactLogged,
        version: Document,
        *,
        created: bool,
        moves: list[AliasMove],
        aliases: list[str],
    ) -> list[tuple[Envelope, str]]:
        """``artifact.committed`` first (the version exists), then each alias removal and
        addition, with ids derived from the logged event and their purpose."""
        eid, index = envelope.id, int(version["version_index"])
        committed = ArtifactCommitted(
            sequence=event.sequence,
            name=event.name,
            artifact_type=event.artifact_type,
            version_id=version["version_id"],
            version_index=index,
            manifest_digest=version["manifest_digest"],
            size=version["size"],
            file_count=version["file_count"],
            created=created,
            aliases=aliases,
            metadata=decode_mapping(version["metadata"]),
            run_id=event.run_id,
            submission_id=eid,
            committed_at=version["created_at"] if created else _now(),
        )
        out = [self._wrap(envelope, event, committed, derive_id(eid, "committed"))]
        holders = await self._artifacts.versions(
            event.sequence, [m.previous for m in moves if m.previous is not None]
        )
        for move in moves:
            if move.previous is not None:
                removed = ArtifactAliasRemoved(
                    sequence=event.sequence,
                    name=event.name,
                    artifact_type=event.artifact_type,
                    alias=move.alias,
                    version_id=holders[move.previous]["version_id"],
                    version_index=move.previous,
                )
                out.append(
                    self._wrap(
                        envelope, event, removed, derive_id(eid, "alias", move.alias, "removed")
                    )
                )
            added = ArtifactAliasAdded(
                sequence=event.sequence,
                name=event.name,
                artifact_type=event.artifact_type,
                alias=move.alias,
                version_id=version["version_id"],
                version_index=index,
            )
            out.append(
                self._wrap(envelope, event, added, derive_id(eid, "alias", move.alias, "added"))
            )
        return out

    @staticmethod
    def _wrap(
        logged: Envelope, event: ArtifactLogged, data: EventData, event_id: str
    ) -> tuple[Envelope, str]:
        """An event caused by ``logged``, about the same sequence (subject and Kafka key)."""
        wrapped = Envelope.wrap(
            data,
            id=event_id,
            source=SOURCE,
            subject=event.sequence,
            cause=Cause.of(logged),
            entity=logged.entity,
            project=logged.project,
        )
        return wrapped, event.sequence


def _now() -> datetime:
    """Millisecond precision, as MongoDB stores it: a re-read equals what was written."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
