"""What the API answers: JSON views of automations, integrations, secrets and deliveries.

No view carries a secret value: secrets show their name and a hint, integrations their signing
secrets' ids and hints, and payloads are rendered with every secret masked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cairn_automations.delivery.requests import MaskedSecrets
from cairn_automations.domain.deliveries import Delivery
from cairn_automations.domain.records import Automation, Integration
from cairn_automations.domain.templates import MissingSecretError

Json = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def automation_view(a: Automation, integration_names: Mapping[str, str]) -> Json:
    return {
        "id": a.id,
        "entity": a.entity,
        "name": a.name,
        "description": a.description,
        "enabled": a.enabled,
        "event": a.event.model_dump(mode="json"),
        "action": {
            "type": "webhook",
            "integration": integration_names.get(a.integration_id),
            "integration_id": a.integration_id,
            "payload": a.payload,
        },
        "revision": a.revision,
        "created_by": a.created_by,
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
    }


def integration_view(i: Integration, now: datetime) -> Json:
    return {
        "id": i.id,
        "entity": i.entity,
        "name": i.name,
        "type": "webhook",
        "url": i.url,
        "headers": dict(i.headers),
        "description": i.description,
        "enabled": i.enabled,
        "active": i.active,
        "disabled_reason": i.disabled_reason or None,
        "signing_secrets": [
            {
                "id": s.id,
                "hint": s.hint,
                "created_at": iso(s.created_at),
                "expires_at": iso(s.expires_at),
                "active": s.active(now),
            }
            for s in i.signing_secrets
        ],
        "revision": i.revision,
        "created_by": i.created_by,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
    }


def secret_view(doc: Mapping[str, Any]) -> Json:
    return {
        "name": doc["name"],
        "hint": doc.get("hint", "…"),
        "created_by": doc.get("created_by", ""),
        "created_at": iso(doc.get("created_at")),
        "updated_at": iso(doc.get("updated_at")),
    }


def delivery_view(d: Delivery) -> Json:
    return {
        "id": d.id,
        "webhook_id": d.id,
        "entity": d.entity,
        "automation": {"id": d.automation_id, "name": d.automation_name},
        "integration_id": d.integration_id,
        "event": {"id": d.event_id, "type": d.event_type, "subject": d.subject},
        "status": d.status.value,
        "attempts": d.attempts,
        "round": d.round,
        "schedule_s": list(d.schedule),
        "next_attempt_at": iso(d.next_attempt_at),
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
        "delivered_at": iso(d.delivered_at),
        "last_status": d.last_status,
        "last_error": d.last_error or None,
        "dead_reason": d.dead_reason or None,
        "content_type": d.content_type,
        "payload": shown_payload(d),
    }


def shown_payload(d: Delivery) -> Any:
    """The payload as sent, with secrets masked."""
    try:
        return json.loads(d.body(MaskedSecrets()))
    except (MissingSecretError, ValueError):
        return None


def attempt_view(doc: Mapping[str, Any]) -> Json:
    return {
        "n": doc["n"],
        "round": doc.get("round", 0),
        "at": iso(doc.get("at")),
        "finished_at": iso(doc.get("finished_at")),
        "status": doc.get("status"),
        "latency_ms": doc.get("latency_ms"),
        "response_excerpt": doc.get("response_excerpt", ""),
        "error": doc.get("error") or None,
        "verdict": doc.get("verdict"),
        "next_attempt_at": iso(doc.get("next_attempt_at")),
    }
