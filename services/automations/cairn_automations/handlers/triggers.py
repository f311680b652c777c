"""The consumer's handlers: match each alias, link and commit event against the entity's enabled
automations and make one delivery per match, which the scheduler sends and stores.

Deterministic and idempotent: a delivery's id derives from the event and the automation, so a
redelivered event finds its deliveries (duplicate key) and inserts nothing new; the offsets are
committed once every delivery is stored. The first attempt goes out before the delivery is
written, so MongoDB's write latency is not part of the time to the first webhook.

The handlers take runs of events (``on_batch``), which also tells them each event's partition:
a delivery records it, and the member that owns it runs the delivery's attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog
from cairn_shared.events.artifacts import (
    ArtifactAliasAdded,
    ArtifactAliasRemoved,
    ArtifactCommitted,
)
from cairn_shared.events.envelope import Envelope, EventData
from cairn_shared.events.registry import ModelAliasAdded, ModelAliasRemoved, ModelLinked
from cairn_shared.events.topics import topic_for, topic_name
from cairn_shared.kafka.consumer import BatchHandler, on_batch
from cairn_shared.kafka.consumer import Delivery as Consumed

from cairn_automations.adapters.config_cache import ConfigCache
from cairn_automations.adapters.consumer import source_of
from cairn_automations.adapters.delivery_repository import DeliveryRepository
from cairn_automations.domain.deliveries import Delivery, delivery_id, dumps
from cairn_automations.domain.matching import matches
from cairn_automations.domain.records import Automation
from cairn_automations.domain.templates import references
from cairn_automations.domain.triggers import Trigger, trigger_of, variables

log = structlog.get_logger(__name__)

CONSUMED = (
    ArtifactAliasAdded,
    ArtifactAliasRemoved,
    ArtifactCommitted,
    ModelLinked,
    ModelAliasAdded,
    ModelAliasRemoved,
)


Started = tuple[Delivery, "asyncio.Future[bool]", float]  # being sent and stored; event age


class Submitter(Protocol):
    def submit(self, delivery: Delivery) -> Awaitable[bool]: ...


def trigger_handlers(
    *,
    cache: ConfigCache,
    deliveries: DeliveryRepository,
    scheduler: Submitter,
    schedule: Sequence[float],
    topic_prefix: str,
    now: Callable[[], datetime],
) -> Mapping[str, BatchHandler]:
    async def created(consumed: Consumed[EventData]) -> list[Started]:
        """The deliveries ``consumed`` causes, each being sent and stored."""
        envelope, data = consumed.envelope, consumed.event
        trigger = trigger_of(envelope, data)
        if trigger is None:
            return []
        if isinstance(data, ArtifactCommitted):
            await deliveries.remember_version(trigger.version_key, data.metadata)
        config = await cache.get(trigger.entity)
        matched = [a for a in config.automations if a.enabled and matches(a.event, trigger)]
        if not matched:
            return []
        metadata = trigger.metadata
        if metadata is None and any(_uses_metadata(a) for a in matched):
            metadata = await deliveries.version_metadata(trigger.version_key)
        values = variables(trigger, envelope, metadata)
        topic = topic_name(topic_for(envelope.type), topic_prefix)
        at = now()
        age_ms = round((at - envelope.time).total_seconds() * 1000, 1)  # the consumer's lag
        started: list[Started] = []
        for automation in matched:
            delivery = _delivery(
                automation,
                envelope,
                trigger=trigger,
                values=values,
                source=source_of(topic, consumed.partition),
                schedule=schedule,
                at=at,
            )
            stored = asyncio.ensure_future(scheduler.submit(delivery))  # sent, then stored
            started.append((delivery, stored, age_ms))
        return started

    async def handle(batch: Sequence[Consumed[EventData]]) -> None:
        pending: list[Started] = []
        seen: set[str] = set()
        for consumed in batch:
            if consumed.envelope.id in seen:
                continue  # the same event twice in a batch: one delivery, one send
            seen.add(consumed.envelope.id)
            pending += await created(consumed)
        # The offsets are committed after this returns: only once every delivery is durable.
        await asyncio.gather(*(stored for _, stored, _ in pending))
        for delivery, stored, age_ms in pending:
            if stored.result():
                log.info(
                    "delivery.created",
                    delivery_id=delivery.id,
                    automation=delivery.automation_name,
                    event_id=delivery.event_id,
                    event_type=delivery.event_type,
                    event_age_ms=age_ms,  # from the event's creation to its handling here
                )

    return on_batch(CONSUMED, handle)


def _uses_metadata(automation: Automation) -> bool:
    payload = automation.payload
    return payload is not None and references(payload).uses_metadata


def _delivery(
    automation: Automation,
    envelope: Envelope,
    *,
    trigger: Trigger,
    values: Mapping[str, Any],
    source: str,
    schedule: Sequence[float],
    at: datetime,
) -> Delivery:
    payload = automation.payload
    return Delivery(
        id=delivery_id(envelope.id, automation.id),
        entity=automation.entity,
        automation_id=automation.id,
        automation_name=automation.name,
        integration_id=automation.integration_id,
        event_id=envelope.id,
        event_type=envelope.type,
        subject=envelope.subject,
        source=source,
        event_json=envelope.model_dump_json(),
        template_json=None if payload is None else dumps(payload),
        variables=values if payload is not None else {"event_type": trigger.event_type},
        schedule=tuple(schedule),
        created_at=at,
        next_attempt_at=at,
        updated_at=at,
    )
