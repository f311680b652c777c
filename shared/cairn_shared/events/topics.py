"""Kafka topics by domain. The key of every message is the aggregate the event is about."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    RUNS = "cairn.runs"
    RUN_HISTORY = "cairn.run-history"
    ARTIFACTS = "cairn.artifacts"
    REGISTRY = "cairn.registry"
    BLOBS = "cairn.blobs"
    DEAD_LETTER = "cairn.dead-letter"


_BY_PREFIX: tuple[tuple[str, Topic], ...] = (
    ("run.history", Topic.RUN_HISTORY),
    ("run.", Topic.RUNS),
    ("artifact.", Topic.ARTIFACTS),
    ("model.", Topic.REGISTRY),
    ("blob.", Topic.BLOBS),
)


def topic_for(event_type: str) -> Topic:
    """The topic that carries ``event_type``; every event type belongs to exactly one."""
    for prefix, topic in _BY_PREFIX:
        if event_type.startswith(prefix):
            return topic
    raise ValueError(f"no topic carries events of type {event_type!r}")


def topic_name(topic: Topic, prefix: str = "") -> str:
    """The topic's name on the broker; a prefix keeps tests that share a broker apart."""
    return f"{prefix}{topic.value}"
