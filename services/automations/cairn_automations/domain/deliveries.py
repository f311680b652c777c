"""A delivery: one automation's webhook for one event, with its persisted retry schedule.

Its id is ``derive_id(event_id, automation_id)``: a redelivered event re-finds it (duplicate key),
and it is the ``webhook-id`` of every attempt, so receivers can deduplicate. The payload is kept
as the template and the event's variables, not as rendered text: secrets are substituted at each
attempt and never stored in a delivery.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from cairn_shared.ids import derive_id
from pydantic import JsonValue

from cairn_automations.domain.templates import render

CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json"
JSON_CONTENT_TYPE = "application/json"


class Status(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


def delivery_id(event_id: str, automation_id: str) -> str:
    return derive_id(event_id, "automation", automation_id)


@dataclass(frozen=True)
class Delivery:
    id: str
    entity: str
    automation_id: str
    automation_name: str
    integration_id: str
    event_id: str
    event_type: str
    subject: str
    source: str  # "topic/partition" of the triggering event: its owner runs the attempts
    event_json: str  # the CloudEvent as consumed: the default payload
    template_json: str | None  # the automation's payload template when the event came
    variables: Mapping[str, Any]
    schedule: tuple[float, ...]
    created_at: datetime
    status: Status = Status.PENDING
    attempts: int = 0
    round: int = 0
    round_base: int = 0  # attempts made before this round
    next_attempt_at: datetime | None = None
    updated_at: datetime | None = None
    delivered_at: datetime | None = None
    last_status: int | None = None
    last_error: str = ""
    dead_reason: str = ""

    @property
    def attempts_in_round(self) -> int:
        return self.attempts - self.round_base

    @property
    def content_type(self) -> str:
        return CLOUDEVENT_CONTENT_TYPE if self.template_json is None else JSON_CONTENT_TYPE

    def body(self, secrets: Mapping[str, str]) -> str:
        """The request body: the CloudEvent itself, or the template rendered for this event."""
        if self.template_json is None:
            return self.event_json
        template: JsonValue = json.loads(self.template_json)
        return dumps(render(template, self.variables, secrets))

    def redelivered(self, *, now: datetime, schedule: Sequence[float]) -> Delivery:
        """A new round with a new schedule: same id, so the same ``webhook-id``."""
        return replace(
            self,
            status=Status.PENDING,
            round=self.round + 1,
            round_base=self.attempts,
            schedule=tuple(schedule),
            next_attempt_at=now,
            updated_at=now,
            dead_reason="",
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "entity": self.entity,
            "automation_id": self.automation_id,
            "automation_name": self.automation_name,
            "integration_id": self.integration_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "subject": self.subject,
            "source": self.source,
            "event_json": self.event_json,
            "template_json": self.template_json,
            # JSON text: user values (metadata keys) must never become field names.
            "variables_json": dumps(dict(self.variables)),
            "schedule": list(self.schedule),
            "created_at": self.created_at,
            **self.state(),
        }

    def state(self) -> dict[str, Any]:
        """The fields that change after the insert, all written by the delivery's owner."""
        return {
            "status": self.status.value,
            "attempts": self.attempts,
            "round": self.round,
            "round_base": self.round_base,
            "next_attempt_at": self.next_attempt_at,
            "updated_at": self.updated_at or self.created_at,
            "delivered_at": self.delivered_at,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "dead_reason": self.dead_reason,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Delivery:
        return cls(
            id=doc["_id"],
            entity=doc["entity"],
            automation_id=doc["automation_id"],
            automation_name=doc.get("automation_name", ""),
            integration_id=doc["integration_id"],
            event_id=doc["event_id"],
            event_type=doc["event_type"],
            subject=doc.get("subject", ""),
            source=doc["source"],
            event_json=doc["event_json"],
            template_json=doc.get("template_json"),
            variables=json.loads(doc.get("variables_json") or "{}"),
            schedule=tuple(float(s) for s in doc["schedule"]),
            created_at=doc["created_at"],
            status=Status(doc["status"]),
            attempts=int(doc.get("attempts", 0)),
            round=int(doc.get("round", 0)),
            round_base=int(doc.get("round_base", 0)),
            next_attempt_at=doc.get("next_attempt_at"),
            updated_at=doc.get("updated_at"),
            delivered_at=doc.get("delivered_at"),
            last_status=doc.get("last_status"),
            last_error=doc.get("last_error", ""),
            dead_reason=doc.get("dead_reason", ""),
        )


def dumps(value: Any) -> str:
    """Compact JSON, the exact text that is signed and sent."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
