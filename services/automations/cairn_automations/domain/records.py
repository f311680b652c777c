"""Stored automations and webhook integrations, as the consumer and the scheduler see them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import JsonValue

from cairn_automations.domain.model import EventFilter

HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$")
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)
MAX_HEADERS = 20
MAX_HEADER_VALUE = 4096


def check_header(name: str, value: str) -> tuple[str, str]:
    if not HEADER_NAME.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}")
    if name.lower() in RESERVED_HEADERS:
        raise ValueError(f"the header {name!r} is set by Cairn and cannot be overridden")
    if len(value) > MAX_HEADER_VALUE or any(c in value for c in "\r\n\x00"):
        raise ValueError(f"invalid value for header {name!r}: one line of at most 4096 characters")
    return name, value


@dataclass(frozen=True)
class SigningSecret:
    id: str
    ciphertext: str  # encrypted at rest
    hint: str
    created_at: datetime
    expires_at: datetime | None = None  # set on the old secret when a new one replaces it

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class Integration:
    id: str
    entity: str
    name: str
    url: str
    headers: tuple[tuple[str, str], ...]  # values may hold ${SECRET_NAME}
    signing_secrets: tuple[SigningSecret, ...]
    revision: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    enabled: bool = True
    description: str = ""
    # Set when a receiver answered 410 Gone to this revision; any update re-enables it.
    disabled_reason: str = ""

    @property
    def active(self) -> bool:
        return self.enabled and not self.disabled_reason

    def secrets_at(self, now: datetime) -> list[SigningSecret]:
        return [s for s in self.signing_secrets if s.active(now)]


@dataclass(frozen=True)
class Automation:
    id: str
    entity: str
    name: str
    event: EventFilter
    integration_id: str
    payload: JsonValue | None
    revision: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    enabled: bool = True
    description: str = ""


@dataclass(frozen=True)
class EntityConfig:
    """What an entity has defined, loaded at once and cached by the consumer and the scheduler.

    ``secrets`` maps names to encrypted values; they are decrypted only when a payload needs them.
    """

    entity: str
    automations: tuple[Automation, ...] = ()
    integrations: Mapping[str, Integration] = field(default_factory=dict)  # by id
    secrets: Mapping[str, str] = field(default_factory=dict)

    def automation(self, automation_id: str) -> Automation | None:
        return next((a for a in self.automations if a.id == automation_id), None)
