"""Publishing events: the ``EventPublisher`` port and its Kafka adapter."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.cluster import ClusterMetadata
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

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


# Errors after which aiokafka's idempotent producer is dead for good (its sender task ends):
# seen when the broker restarts with batches in flight. Only a new producer (a new producer id)
# sends again; the caller's retry is safe, since events have derived ids and consumers dedupe.
BROKEN = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)

Message = tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]  # topic, value, key, headers
# Below the broker's default message.max.bytes (1 MiB + 12): a record batch must fit in it.
MAX_BATCH_BYTES = 1_000_000


class KafkaEventPublisher:
    """An idempotent producer (``acks=all``, ``enable_idempotence``): retries never duplicate.

    Batches hold up to ``MAX_BATCH_BYTES``, not aiokafka's default 16 KiB: an idempotent
    producer has one request in flight per partition, so with small batches a large event (a
    run history batch) or a burst (a blob announcement per file of an upload) queues behind
    one round trip per 16 KiB.
    ``linger_ms`` is how long a send waits for others to share its request: none by default,
    since events on a request's critical path (commands, alias changes) pay it at every hop,
    and under load records queue behind the request in flight and batch anyway.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client_id: str | None = None,
        linger_ms: int = 0,
    ) -> None:
        self._prefix = settings.kafka_topic_prefix
        self._options: dict[str, Any] = {
            "bootstrap_servers": settings.kafka_bootstrap,
            "client_id": client_id or f"cairn-{settings.service}",
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": linger_ms,
            "request_timeout_ms": 15_000,
            "max_batch_size": MAX_BATCH_BYTES,
            "max_request_size": MAX_BATCH_BYTES,
        }
        self._producer = AIOKafkaProducer(**self._options)
        self._renewing = asyncio.Lock()

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
        await self.publish_many([(envelope, key)])
        log.debug("event.published", event_id=envelope.id, event_type=envelope.type, key=key)

    async def publish_many(self, items: Sequence[tuple[Envelope, str]]) -> None:
        """Send all, then wait for every acknowledgement: one round trip for a whole batch."""
        await self._send(
            [_message(self.topic_of(envelope), envelope, key) for envelope, key in items]
        )

    async def send_raw(
        self, topic: Topic, *, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        """Forward a message as it is (used for dead-lettering)."""
        await self._send([(topic_name(topic, self._prefix), value, key, headers)])

    async def _send(self, messages: Sequence[Message]) -> None:
        producer = self._producer
        try:
            futures = [
                await producer.send(topic, value=value, key=key, headers=headers)
                for topic, value, key, headers in messages
            ]
            for future in futures:
                await future
        except BROKEN as exc:
            await self._renew(producer, exc)
            raise

    async def _renew(self, broken: AIOKafkaProducer, error: Exception) -> None:
        """Replace ``broken`` by a new producer, once however many sends saw it fail."""
        async with self._renewing:
            if self._producer is not broken:
                return
            log.warning("kafka.producer_renewed", error=repr(error))
            fresh = AIOKafkaProducer(**self._options)
            await fresh.start()
            self._producer = fresh
            with contextlib.suppress(Exception):
                await asyncio.wait_for(broken.stop(), timeout=5)


def _message(topic: str, envelope: Envelope, key: str) -> Message:
    return topic, envelope.to_bytes(), key.encode(), kafka_headers(envelope)
