"""Automations: ``NewAutomation`` (``event >> action``) and ``Automation`` (a saved one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cairn.automations.actions import SendWebhook
from cairn.automations.events import _ArtifactEventInput
from cairn.automations.filters import ArtifactEvent, FilterExpr
from cairn.automations.scopes import Scope


class NewAutomation:
    """An automation to create: ``api.create_automation(event >> action, name=...)``."""

    def __init__(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        event: _ArtifactEventInput | None = None,
        action: SendWebhook | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.enabled = enabled
        self.event = event
        self.action = action

    def __repr__(self) -> str:
        return f"NewAutomation(name={self.name!r}, event={self.event!r}, action={self.action!r})"

    @property
    def scope(self) -> Any:
        """The scope of the event (W&B's ``NewAutomation.scope``)."""
        return None if self.event is None else self.event.scope


@dataclass
class SavedEvent:
    """A saved automation's event: the service's event types, scope and alias pattern."""

    types: list[str]
    scope: dict[str, Any]
    alias_pattern: str | None = None

    @property
    def event_type(self) -> str:
        return self.types[0]

    @property
    def filter(self) -> FilterExpr | None:
        """The alias filter, as ``ArtifactEvent.alias.matches_regex(...)``."""
        if self.alias_pattern is None:
            return None
        return ArtifactEvent.alias.matches_regex(self.alias_pattern)

    def to_dict(self) -> dict[str, Any]:
        return {
            "types": list(self.types),
            "scope": dict(self.scope),
            "alias_pattern": self.alias_pattern,
        }


@dataclass
class SavedWebhookAction:
    """A saved automation's action: the integration it posts to and the payload template."""

    integration: str | None
    integration_id: str
    payload: Any = None
    action_type: str = SendWebhook.action_type

    @property
    def request_payload(self) -> Any:
        return self.payload

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "webhook",
            "integration": self.integration or self.integration_id,
            "payload": self.payload,
        }


@dataclass
class Automation:
    """A saved automation. Change ``name``, ``description``, ``enabled``, ``event`` or
    ``action``, then ``api.update_automation(automation)``."""

    id: str
    entity: str
    name: str
    description: str
    enabled: bool
    event: SavedEvent | _ArtifactEventInput
    action: SavedWebhookAction | SendWebhook
    revision: int = 1
    created_by: str = ""
    created_at: str | None = None
    updated_at: str | None = None
    _view: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def scope(self) -> Scope:
        """Where the event must happen (``scope.spec`` is the service's scope)."""
        if isinstance(self.event, SavedEvent):
            return Scope(self.entity, dict(self.event.scope))
        return self.event._resolved()

    @classmethod
    def from_view(cls, view: Mapping[str, Any]) -> Automation:
        event, action = view["event"], view["action"]
        return cls(
            id=str(view["id"]),
            entity=str(view["entity"]),
            name=str(view["name"]),
            description=str(view.get("description") or ""),
            enabled=bool(view.get("enabled", True)),
            event=SavedEvent(
                types=list(event["types"]),
                scope=dict(event.get("scope") or {"type": "entity"}),
                alias_pattern=event.get("alias_pattern"),
            ),
            action=SavedWebhookAction(
                integration=action.get("integration"),
                integration_id=str(action.get("integration_id") or ""),
                payload=action.get("payload"),
            ),
            revision=int(view.get("revision") or 1),
            created_by=str(view.get("created_by") or ""),
            created_at=view.get("created_at"),
            updated_at=view.get("updated_at"),
            _view=dict(view),
        )

    def to_body(self) -> dict[str, Any]:
        """The whole automation for ``PUT``, guarded by the revision it was read at."""
        return {
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled,
            "event": self.event.to_dict(),
            "action": self.action.to_dict(),
            "revision": self.revision,
        }
