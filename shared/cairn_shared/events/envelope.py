"""CloudEvents 1.0 structured-mode envelope with Cairn's extension attributes.

The envelope is public: external automations may read the topics directly, so its fields follow
the CloudEvents spec (lower-case attribute names) and consumers ignore fields they do not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

CONTENT_TYPE = "application/cloudevents+json"


class EventData(BaseModel):
    """Base class of every event payload. Subclasses set ``type`` and ``schema_version``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    @classmethod
    def example(cls) -> Self:
        """A valid instance, used by docs, tests and the automations "test" call."""
        raise NotImplementedError(f"{cls.__name__} has no example")

    @classmethod
    def dataschema(cls) -> str:
        return f"urn:cairn:event:{cls.type}:v{cls.schema_version}"


@dataclass(frozen=True)
class Cause:
    """Who and what caused an event: carried from a request, or from the event that led to it."""

    actor: str
    requestid: str = ""
    traceparent: str = ""

    @classmethod
    def of(cls, envelope: Envelope) -> Cause:
        return cls(envelope.actor, envelope.requestid, envelope.traceparent)


class Envelope(BaseModel):
    """One event as it travels on Kafka (structured mode, JSON)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: str = "1.0"
    id: str
    source: str
    type: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str
    datacontenttype: str = "application/json"
    dataschema: str
    data: dict[str, Any]
    # Cairn's extension attributes.
    actor: str
    entity: str
    project: str = ""
    traceparent: str = ""
    requestid: str = ""  # the HTTP request that caused it, so one id follows a change end to end

    @classmethod
    def wrap(
        cls,
        data: EventData,
        *,
        id: str,
        source: str,
        subject: str,
        cause: Cause,
        entity: str,
        project: str = "",
        time: datetime | None = None,
    ) -> Envelope:
        """Build the envelope around a typed payload."""
        return cls(
            id=id,
            source=source,
            type=data.type,
            time=time or datetime.now(UTC),
            subject=subject,
            dataschema=data.dataschema(),
            data=data.model_dump(mode="json"),
            actor=cause.actor,
            entity=entity,
            project=project,
            traceparent=cause.traceparent,
            requestid=cause.requestid,
        )

    @property
    def schema_version(self) -> int:
        """The payload's schema version, from ``dataschema`` (``...:vN``)."""
        _, _, tail = self.dataschema.rpartition(":v")
        return int(tail) if tail.isdigit() else 1

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)
