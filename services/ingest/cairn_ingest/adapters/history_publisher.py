"""The Kafka producer of run history: the shared publisher's guarantees, sized for batches.

One ``run.history`` event is a whole batch of rows (tens of kilobytes). The shared publisher
keeps aiokafka's 16 KiB per-partition buffer, which holds one such event at a time, and an
idempotent producer has one request in flight per partition: a thousand batches a second
would queue behind each other. This producer buffers up to the broker's message limit per
partition, so concurrent requests share one produce request.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from cairn_shared.events.envelope import Envelope
from cairn_shared.events.topics import topic_for, topic_name
from cairn_shared.kafka.publisher import kafka_headers
from cairn_shared.settings import Settings

# Below the broker's default message.max.bytes (1 MiB + 12): a record batch must fit in it.
MAX_BATCH_BYTES = 1_000_000


class HistoryPublisher:
    """``EventPublisher`` for history events: ``acks=all``, idempotent, large batches."""

    def __init__(self, settings: Settings) -> None:
        self._prefix = settings.kafka_topic_prefix
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=f"cairn-{settings.service}-history",
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            max_batch_size=MAX_BATCH_BYTES,
            max_request_size=MAX_BATCH_BYTES,
            request_timeout_ms=15_000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, envelope: Envelope, *, key: str) -> None:
        await self._producer.send_and_wait(
            topic_name(topic_for(envelope.type), self._prefix),
            value=envelope.to_bytes(),
            key=key.encode(),
            headers=kafka_headers(envelope),
        )

    async def publish_many(self, items: Sequence[tuple[Envelope, str]]) -> None:
        futures = [
            await self._producer.send(
                topic_name(topic_for(envelope.type), self._prefix),
                value=envelope.to_bytes(),
                key=key.encode(),
                headers=kafka_headers(envelope),
            )
            for envelope, key in items
        ]
        for future in futures:
            await future
