"""Publishing events: the ``EventPublisher`` port and its Kafka adapter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.cluster import ClusterMetadata
from aiokafka.errors import KafkaError

from cairn_shared.events.envelope import CONTENT_TYPE, Envelope
from cairn_shared.events.topics import Topic, topic_for, topic_name
from cairn_shared.settings import Settings

log = structlog.get_logger(__name__)


class EventPublisher(Protocol):
    """Publishes events and returns only once the broker has them durably (``acks=all``)."""

    async def publish(self, envelope: Envelope, *, key: str) -> None: ...

    async def publish_many(self, items: Sequence[tuple[Envelope, str]]) -> None: ...


def kafka_headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    """Headers that let a consumer route or skip an event without parsing its body."""
    return [
        ("content-type", CONTENT_TYPE.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_id", envelope.id.encode()),
    ]


class KafkaEventPublisher:
    """An idempotent producer (``acks=all``, ``enable_idempotence``): retries never duplicate."""

    def __init__(self, settings: Settings, *, client_id: str | None = None) -> None:
        self._prefix = settings.kafka_topic_prefix
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=client_id or f"cairn-{settings.service}",
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            request_timeout_ms=15_000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def ping(self) -> None:
        """Raises unless a broker answers a metadata request. It names one topic: the metadata
        of every topic (``fetch_all_metadata``) costs both sides time that grows with the
        number of topics, and readiness asks every second."""
        probe = topic_name(Topic.DEAD_LETTER, self._prefix)
        client = self._producer.client  # fetch_all_metadata's private one-topic form:
        answered = await client._metadata_update(ClusterMetadata(), [probe])
        if not answered:
            raise KafkaError("no broker answered a metadata request")

    def topic_of(self, envelope: Envelope) -> str:
        return topic_name(topic_for(envelope.type), self._prefix)

    async def publish(self, envelope: Envelope, *, key: str) -> None:
        await self._producer.send_and_wait(
            self.topic_of(envelope),
            value=envelope.to_bytes(),
            key=key.encode(),
            headers=kafka_headers(envelope),
        )
        log.debug("event.published", event_id=envelope.id, event_type=envelope.type, key=key)

    async def publish_many(self, items: Sequence[tuple[Envelope, str]]) -> None:
        """Send all, then wait for every acknowledgement: one round trip for a whole batch."""
        futures = [
            await self._producer.send(
                self.topic_of(envelope),
                value=envelope.to_bytes(),
                key=key.encode(),
                headers=kafka_headers(envelope),
            )
            for envelope, key in items
        ]
        for future in futures:
            await future

    async def send_raw(
        self, topic: Topic, *, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        """Forward a message as it is (used for dead-lettering)."""
        await self._producer.send_and_wait(
            topic_name(topic, self._prefix), value=value, key=key, headers=headers
        )
