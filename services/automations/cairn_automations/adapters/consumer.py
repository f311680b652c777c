"""The shared consumer runner, plus what the delivery scheduler needs from it: the partitions
this member owns now.

The shared ``ConsumerRunner`` does not expose its assignment, so this subclass reads it from
its consumer (``_consumer``); the report of issue 6 proposes a typed ``assignment()`` for
``cairn_shared.kafka.consumer`` to replace it. The partition of each event reaches the handlers
through the runner's typed batch API (``on_batch``).
"""

from __future__ import annotations

from aiokafka import TopicPartition
from cairn_shared.kafka.consumer import ConsumerRunner


def source_of(topic: str, partition: int) -> str:
    """How a delivery records the partition whose owner runs its attempts."""
    return f"{topic}/{partition}"


class PartitionAwareRunner(ConsumerRunner):
    def owned_sources(self) -> frozenset[str]:
        """The partitions this member owns now (empty during a rebalance)."""
        assigned: set[TopicPartition] = self._consumer.assignment()
        return frozenset(source_of(tp.topic, tp.partition) for tp in assigned)
