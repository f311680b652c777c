"""The event envelope (CloudEvents 1.0 plus Cairn's extensions) and the versioned schemas."""

from cairn_shared.events.envelope import Envelope, EventData
from cairn_shared.events.schema_registry import SCHEMAS, SchemaRegistry, UnknownEventError
from cairn_shared.events.topics import Topic, topic_for

__all__ = [
    "SCHEMAS",
    "Envelope",
    "EventData",
    "SchemaRegistry",
    "Topic",
    "UnknownEventError",
    "topic_for",
]
