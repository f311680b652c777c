"""Automations and integrations as MongoDB documents, and back.

User JSON (payload templates) is stored as text, so its keys never become field names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cairn_automations.domain.model import EventFilter
from cairn_automations.domain.records import Automation, Integration, SigningSecret

Document = dict[str, Any]


def automation_document(a: Automation) -> Document:
    return {
        "_id": a.id,
        "entity": a.entity,
        "name": a.name,
        "description": a.description,
        "enabled": a.enabled,
        "event": a.event.model_dump(mode="json"),
        "integration_id": a.integration_id,
        "payload_json": None if a.payload is None else json.dumps(a.payload),
        "revision": a.revision,
        "created_by": a.created_by,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


def automation_of(doc: Mapping[str, Any]) -> Automation:
    payload = doc.get("payload_json")
    return Automation(
        id=doc["_id"],
        entity=doc["entity"],
        name=doc["name"],
        description=doc.get("description", ""),
        enabled=bool(doc.get("enabled", True)),
        event=EventFilter.model_validate(doc["event"]),
        integration_id=doc["integration_id"],
        payload=None if payload is None else json.loads(payload),
        revision=int(doc.get("revision", 1)),
        created_by=doc.get("created_by", ""),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def integration_document(i: Integration) -> Document:
    return {
        "_id": i.id,
        "entity": i.entity,
        "name": i.name,
        "url": i.url,
        "headers": [{"name": n, "value": v} for n, v in i.headers],
        "enabled": i.enabled,
        "description": i.description,
        "signing_secrets": [
            {
                "id": s.id,
                "ciphertext": s.ciphertext,
                "hint": s.hint,
                "created_at": s.created_at,
                "expires_at": s.expires_at,
            }
            for s in i.signing_secrets
        ],
        "revision": i.revision,
        "created_by": i.created_by,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
    }


def integration_of(doc: Mapping[str, Any], disabled_reason: str = "") -> Integration:
    return Integration(
        id=doc["_id"],
        entity=doc["entity"],
        name=doc["name"],
        url=doc["url"],
        headers=tuple((h["name"], h["value"]) for h in doc.get("headers", [])),
        enabled=bool(doc.get("enabled", True)),
        description=doc.get("description", ""),
        signing_secrets=tuple(
            SigningSecret(
                id=s["id"],
                ciphertext=s["ciphertext"],
                hint=s.get("hint", ""),
                created_at=s["created_at"],
                expires_at=s.get("expires_at"),
            )
            for s in doc.get("signing_secrets", [])
        ),
        revision=int(doc.get("revision", 1)),
        created_by=doc.get("created_by", ""),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        disabled_reason=disabled_reason,
    )
