"""Topic administration: every service makes sure the topics it uses exist before it starts."""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from cairn_shared.events.topics import Topic, topic_name
from cairn_shared.settings import Settings

log = structlog.get_logger(__name__)


async def ensure_topics(settings: Settings, topics: Iterable[Topic] = tuple(Topic)) -> None:
    """Create the missing topics with the configured partition count (the broker never does)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        wanted = {topic_name(t, settings.kafka_topic_prefix) for t in topics}
        existing = set(await admin.list_topics())
        missing = sorted(wanted - existing)
        if not missing:
            return
        new = [
            NewTopic(
                name,
                num_partitions=settings.kafka_partitions,
                replication_factor=settings.kafka_replication_factor,
            )
            for name in missing
        ]
        response = await admin.create_topics(new)
        for name, code, *_ in response.topic_errors:
            # Another replica may have created the topic first: that is success too.
            if code not in (0, TopicAlreadyExistsError.errno):
                raise for_code(code)(f"cannot create topic {name}")
        log.info("kafka.topics_created", topics=missing)
    finally:
        await admin.close()


async def delete_prefixed_topics(settings: Settings) -> list[str]:
    """Delete every topic under the settings' (non-empty) prefix: what a test made, it removes,
    so that a long-lived broker does not collect partitions until it runs out of heap."""
    prefix = settings.kafka_topic_prefix
    if not prefix:
        raise ValueError("refusing to delete topics without a topic prefix")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        doomed = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()
