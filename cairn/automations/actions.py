"""What an automation does: send a webhook (``SendWebhook.from_integration(...)``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cairn.automations.integrations import WebhookIntegration


class ActionType:
    """W&B's names of the actions (``wandb.automations.ActionType``)."""

    GENERIC_WEBHOOK = "GENERIC_WEBHOOK"


class SendWebhook:
    """POST to a webhook integration of the entity.

    ``request_payload`` is JSON whose strings may hold ``${variables}`` (``${event_type}``,
    ``${artifact_version_string}``, ``${SECRET_NAME}``... see docs/http-api.md); None sends the
    CloudEvent itself. A JSON string is accepted too, as in W&B.
    """

    action_type = ActionType.GENERIC_WEBHOOK

    def __init__(
        self,
        integration_id: str,
        request_payload: Mapping[str, Any] | list[Any] | str | None = None,
        *,
        integration_name: str | None = None,
        integration_entity: str | None = None,
    ) -> None:
        self.integration_id = integration_id
        self.integration_name = integration_name
        self.integration_entity = integration_entity
        self.request_payload = _payload(request_payload)

    def __repr__(self) -> str:
        shown = self.integration_name or self.integration_id
        return f"SendWebhook(integration={shown!r}, payload={self.request_payload!r})"

    @classmethod
    def from_integration(
        cls,
        integration: WebhookIntegration,
        *,
        payload: Mapping[str, Any] | list[Any] | str | None = None,
    ) -> SendWebhook:
        """A webhook action sending ``payload`` to ``integration``."""
        return cls(
            integration.id,
            payload,
            integration_name=integration.name,
            integration_entity=integration.entity,
        )

    def to_dict(self) -> dict[str, Any]:
        """The service's ``action``."""
        return {
            "type": "webhook",
            "integration": self.integration_name or self.integration_id,
            "payload": self.request_payload,
        }


def _payload(value: Mapping[str, Any] | list[Any] | str | None) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the webhook payload is not JSON: {exc}") from None
    if isinstance(value, Mapping):
        return dict(value)
    return value
