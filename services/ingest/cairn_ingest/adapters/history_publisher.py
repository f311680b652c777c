"""The Kafka producer of run history: the shared publisher, sized for batches.

One ``run.history`` event is a whole batch of rows (tens of kilobytes); see
``KafkaEventPublisher``'s ``max_batch_bytes``.
"""

from __future__ import annotations

from cairn_shared.kafka.publisher import KafkaEventPublisher
from cairn_shared.settings import Settings

# Below the broker's default message.max.bytes (1 MiB + 12): a record batch must fit in it.
MAX_BATCH_BYTES = 1_000_000
# Hundreds of workers send batches at once: a short wait packs them into fewer requests.
LINGER_MS = 2


def history_publisher(settings: Settings) -> KafkaEventPublisher:
    return KafkaEventPublisher(
        settings,
        client_id=f"cairn-{settings.service}-history",
        max_batch_bytes=MAX_BATCH_BYTES,
        linger_ms=LINGER_MS,
    )
