"""Webhook integrations: where automations send, as the automations service describes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WebhookIntegration:
    """A named webhook target of an entity: a URL, extra headers and signing secrets.

    ``signing_secret`` (``whsec_...``, to verify deliveries with Standard Webhooks) is only
    known in the answer that created or rotated it; it is never shown again.
    """

    id: str
    entity: str
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    description: str = ""
    enabled: bool = True
    active: bool = True
    disabled_reason: str | None = None
    signing_secrets: list[dict[str, Any]] = field(default_factory=list)
    revision: int = 1
    created_by: str = ""
    created_at: str | None = None
    updated_at: str | None = None
    signing_secret: str | None = field(default=None, repr=False)

    @property
    def url_endpoint(self) -> str:
        """W&B's name for ``url``."""
        return self.url

    @classmethod
    def from_view(cls, view: Mapping[str, Any]) -> WebhookIntegration:
        return cls(
            id=str(view["id"]),
            entity=str(view["entity"]),
            name=str(view["name"]),
            url=str(view["url"]),
            headers=dict(view.get("headers") or {}),
            description=str(view.get("description") or ""),
            enabled=bool(view.get("enabled", True)),
            active=bool(view.get("active", True)),
            disabled_reason=view.get("disabled_reason"),
            signing_secrets=list(view.get("signing_secrets") or []),
            revision=int(view.get("revision") or 1),
            created_by=str(view.get("created_by") or ""),
            created_at=view.get("created_at"),
            updated_at=view.get("updated_at"),
            signing_secret=view.get("signing_secret"),
        )
