"""The collection writer: applies commands, as the one owner of each collection's partition.

For every command: a finished one (redelivered) is skipped; a committed plan (an earlier attempt
that stopped half-way) is re-applied as recorded; otherwise the planner decides from the current
state, and the plan is committed with the collection's new state, applied (the other documents,
and events with derived ids) and its result written last. A rejection writes only its result:
nothing else changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from cairn_shared.events.envelope import Cause, Envelope
from cairn_shared.events.registry import (
    ModelAliasChangeRequested,
    ModelCollectionUpdateRequested,
    ModelLinkRequested,
    ModelUnlinkRequested,
)
from cairn_shared.kafka.consumer import Handler, on
from cairn_shared.kafka.publisher import EventPublisher
from cairn_shared.laps import Laps
from cairn_shared.mongo import Document
from cairn_shared.registry_paths import split_collection_id

from cairn_registry.adapters.artifacts import ArtifactVersions, PendingLinks
from cairn_registry.adapters.collections import CollectionStore
from cairn_registry.adapters.registries import RegistryStore
from cairn_registry.domain.commands import (
    SourceVersion,
    link_aliases,
    plan_alias,
    plan_link,
    plan_unlink,
    plan_update,
)
from cairn_registry.domain.plans import CollectionState, Command, Plan, RejectedError
from cairn_registry.domain.registries import RegistrySettings

log = structlog.get_logger(__name__)

CollectionRequest = (
    ModelLinkRequested
    | ModelAliasChangeRequested
    | ModelUnlinkRequested
    | ModelCollectionUpdateRequested
)


@dataclass(frozen=True)
class Inputs:
    """What a decision reads: the registry's settings and the collection's state."""

    entity: str
    registry_name: str
    settings: RegistrySettings | None
    state: CollectionState

    def registry(self) -> RegistrySettings:
        if self.settings is None:
            raise RejectedError(
                "registry_not_found",
                f"entity {self.entity!r} has no registry {self.registry_name!r}",
            )
        return self.settings


# None: the command waits (a link whose artifact version is not committed yet).
Decide = Callable[[Inputs], Awaitable[Plan | None]]


def _nobody(command_id: str, result: Document) -> None:
    """Where results go when no request of this process waits for them."""


@dataclass(frozen=True)
class CollectionWriter:
    collections: CollectionStore
    registries: RegistryStore
    versions: ArtifactVersions
    pending: PendingLinks
    publisher: EventPublisher
    # Told every result once it is written: the requests of this process that wait for it
    # answer without polling.
    on_result: Callable[[str, Document], None] = _nobody

    def handlers(self) -> Mapping[str, Handler]:
        return dict(
            [
                on(ModelLinkRequested, self.link),
                on(ModelAliasChangeRequested, self.change_alias),
                on(ModelUnlinkRequested, self.unlink),
                on(ModelCollectionUpdateRequested, self.update),
            ]
        )

    async def link(self, envelope: Envelope, request: ModelLinkRequested) -> None:
        # A re-issued link (its version is now committed) answers the command that waited.
        command = _command(envelope, request.completes_command_id or envelope.id, request)

        async def decide(inputs: Inputs) -> Plan | None:
            aliases = link_aliases(request)
            registry, state = inputs.registry(), inputs.state
            protected = [a for a in aliases if registry.is_protected(a)]
            if protected and not command.requested_by_admin:
                raise RejectedError(
                    "alias_protected",
                    f"only an admin may apply the protected alias(es) {', '.join(protected)}",
                )
            if request.source_sequence.split("/")[0] != envelope.entity:
                raise RejectedError(
                    "invalid",
                    f"{request.source_sequence!r} is not an artifact of {envelope.entity!r}",
                )
            version = await self._source(request)
            if version is None:
                # Record the wait, THEN look again: the committed handler writes the version
                # THEN reads the waiting links, so whichever of the two runs second sees the
                # other; a link seen by both is applied once (the result is checked first).
                await self.pending.add(command.id, request, envelope)
                version = await self._source(request)
                if version is None:
                    log.info("link.waiting_for_version", command_id=command.id)
                    return None
            existing = state.active_link_of(version.version_id)
            return plan_link(
                state, registry, request, version=version, existing=existing, command=command
            )

        await self._execute(envelope, request, command, decide, touching=())

    async def change_alias(self, envelope: Envelope, request: ModelAliasChangeRequested) -> None:
        command = _command(envelope, envelope.id, request)

        async def decide(inputs: Inputs) -> Plan:
            return plan_alias(inputs.state, inputs.registry(), request, command)

        touching = () if request.link_index is None else (request.link_index,)
        await self._execute(envelope, request, command, decide, touching=touching)

    async def unlink(self, envelope: Envelope, request: ModelUnlinkRequested) -> None:
        command = _command(envelope, envelope.id, request)

        async def decide(inputs: Inputs) -> Plan:
            return plan_unlink(inputs.state, inputs.registry(), request, command)

        await self._execute(envelope, request, command, decide, touching=(request.link_index,))

    async def update(self, envelope: Envelope, request: ModelCollectionUpdateRequested) -> None:
        command = _command(envelope, envelope.id, request)

        async def decide(inputs: Inputs) -> Plan:
            return plan_update(inputs.state, request, command)

        await self._execute(envelope, request, command, decide, touching=())

    async def _execute(
        self,
        envelope: Envelope,
        request: CollectionRequest,
        command: Command,
        decide: Decide,
        *,
        touching: tuple[int, ...],
    ) -> None:
        laps = Laps()
        # Everything a decision reads, together with whether the command ran before: a read
        # that turns out unneeded costs less than a round trip more on every command.
        result, registry, state = await asyncio.gather(
            self.collections.result(command.id),
            self.registries.get(envelope.entity, request.registry),
            self.collections.state(
                envelope.entity, request.registry, request.collection, touching=touching
            ),
        )
        laps.lap("read")
        if result is not None:
            log.info("command.already_finished", command_id=command.id)
            return
        plan = await self.collections.recorded_plan(state.collection_id, command.id)
        if plan is None:
            try:
                _check_identity(envelope, request)
                plan = await decide(Inputs(envelope.entity, request.registry, registry, state))
            except RejectedError as exc:
                log.info("command.rejected", command_id=command.id, code=exc.code)
                rejected = await self.collections.reject(
                    command.id,
                    entity=envelope.entity,
                    collection_id=request.collection_id,
                    code=exc.code,
                    reason=exc.reason,
                )
                self.on_result(command.id, rejected)
                await self._forget_wait(request, command)
                return
            if plan is None:
                return
            laps.lap("decide")
            await self.collections.commit(plan)
            laps.lap("commit")
        await self._apply_and_publish(plan)
        laps.lap("apply_publish")
        self.on_result(command.id, await self.collections.finish(plan, entity=envelope.entity))
        await self._forget_wait(request, command)
        laps.lap("finish")
        log.info(
            "command.done",
            command_id=command.id,
            # from the command's publication to its handling here: the hop through Kafka
            age_ms=round((command.now - envelope.time).total_seconds() * 1000, 1),
            kind=plan.kind,
            events=len(plan.events),
            **laps.laps,
        )

    async def _apply_and_publish(self, plan: Plan) -> None:
        """The plan's other writes and its events. Once it is committed, readers find the
        aliases it moved, so alias events go out while the history is written; events about a
        link go out after its document is written, since readers look it up."""
        envelopes = plan.envelopes()
        if plan.touches_links:
            await self.collections.apply(plan)
            await self.publisher.publish_many(envelopes)
            return
        # Both run to their end before an error is raised: the retry never overlaps them.
        outcomes = await asyncio.gather(
            self.collections.apply(plan),
            self.publisher.publish_many(envelopes),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _forget_wait(self, request: CollectionRequest, command: Command) -> None:
        """Only a link waits (for its version's commit); no other command has a wait to end."""
        if isinstance(request, ModelLinkRequested):
            await self.pending.remove(command.id)

    async def _source(self, request: ModelLinkRequested) -> SourceVersion | None:
        if request.source_version_index is not None:
            return await self.versions.get(request.source_sequence, request.source_version_index)
        if not request.source_submission_id:
            raise RejectedError(
                "invalid", "name the artifact version: source_version_index or submission id"
            )
        version = await self.versions.by_submission(request.source_submission_id)
        if version is not None and version.sequence != request.source_sequence:
            raise RejectedError(
                "invalid",
                f"submission {request.source_submission_id} is of {version.sequence!r}, "
                f"not of {request.source_sequence!r}",
            )
        return version


def _command(envelope: Envelope, command_id: str, request: CollectionRequest) -> Command:
    return Command(
        id=command_id,
        cause=Cause.of(envelope),
        now=datetime.now(UTC),
        requested_by_admin=bool(getattr(request, "requested_by_admin", False)),
        run_id=getattr(request, "run_id", ""),
    )


def _check_identity(envelope: Envelope, request: CollectionRequest) -> None:
    """The key, the names and the envelope's entity must agree: they address one collection."""
    try:
        entity, registry, collection = split_collection_id(request.collection_id)
    except ValueError as exc:
        raise RejectedError("invalid", str(exc)) from None
    if (entity, registry, collection) != (envelope.entity, request.registry, request.collection):
        raise RejectedError(
            "invalid",
            f"collection_id {request.collection_id!r} does not match entity {envelope.entity!r}, "
            f"registry {request.registry!r} and collection {request.collection!r}",
        )
