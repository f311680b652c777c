"""``cairn.Api``'s automations methods, W&B-shaped: ``create_automation``, ``automations``,
``automation``, ``update_automation``, ``delete_automation``, ``webhook_integrations``,
``project``; and Cairn's own: integrations and secrets to create, test calls, deliveries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from cairn.api.base import ApiMixinBase
from cairn.automations import remote
from cairn.automations.actions import SendWebhook
from cairn.automations.automation import (
    Automation,
    NewAutomation,
    SavedEvent,
    SavedWebhookAction,
)
from cairn.automations.events import _ArtifactEventInput
from cairn.automations.integrations import WebhookIntegration
from cairn.automations.scopes import Project, ScopeLike
from cairn.errors import CommError, NotFoundError
from cairn.names import check_project_name

Event = _ArtifactEventInput | SavedEvent
Action = SendWebhook | SavedWebhookAction


class AutomationsApiMixin(ApiMixinBase):
    """Automations (an event filter and a webhook action), webhook integrations and secrets."""

    def project(self, name: str, entity: str | None = None) -> Project:
        """The project ``name`` of ``entity`` (a scope for automations); ``model-registry``
        and ``wandb-registry-<registry>`` stand for registries."""
        return Project(check_project_name(name), self._entity(entity))

    # -- automations ---------------------------------------------------------------------------

    def automations(
        self, entity: str | None = None, *, name: str | None = None, per_page: int = 50
    ) -> Iterator[Automation]:
        """The automations of ``entity`` (default: of every entity you may see), optionally
        only those named ``name``."""
        del per_page  # one answer holds them all
        for view in remote.search_automations(self._session, entity, name):
            yield Automation.from_view(view)

    def automation(self, name: str, *, entity: str | None = None) -> Automation:
        """The one automation named ``name``; ``ValueError`` if none or several match."""
        found = list(self.automations(entity=entity, name=name))
        if not found:
            raise ValueError(f"No automations found named {name!r}")
        if len(found) > 1:
            raise ValueError(f"Multiple automations found named {name!r}: give entity=")
        return found[0]

    def create_automation(
        self,
        obj: NewAutomation,
        *,
        fetch_existing: bool = False,
        name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        event: _ArtifactEventInput | None = None,
        action: SendWebhook | None = None,
        scope: ScopeLike = None,
    ) -> Automation:
        """Create an automation from ``event >> action``; keywords override its fields.

        The entity is the scope's (else the integration's, else yours). A taken name raises
        ``ValueError``, unless ``fetch_existing`` returns the existing automation.
        """
        event = event or obj.event
        action = action or obj.action
        name = name or obj.name
        if event is None or action is None:
            raise ValueError("an automation needs an event and an action: event >> action")
        if not name:
            raise ValueError("an automation needs a name: create_automation(..., name=...)")
        if scope is not None:
            event = type(event)(scope=scope, filter=event.filter)
        owner = event._resolved().entity or action.integration_entity or self.default_entity
        body = {
            "name": name,
            "description": description if description is not None else obj.description or "",
            "enabled": enabled if enabled is not None else obj.enabled is not False,
            "event": event.to_dict(),
            "action": action.to_dict(),
        }
        return self._create(owner, body, fetch_existing=fetch_existing)

    def _create(
        self, entity: str, body: dict[str, Any], *, fetch_existing: bool = False
    ) -> Automation:
        try:
            view = remote.create_automation(self._session, entity, body)
        except CommError as exc:
            if exc.status != 409:
                raise
            if fetch_existing:
                return self.automation(str(body["name"]), entity=entity)
            raise ValueError(
                f"Automation {body['name']!r} exists in {entity!r}. Unable to create another "
                "with the same name."
            ) from None
        return Automation.from_view(view)

    def update_automation(
        self,
        obj: Automation,
        *,
        create_missing: bool = False,
        name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        event: Event | None = None,
        action: Action | None = None,
    ) -> Automation:
        """Save changes to ``obj`` (or the keywords given), guarded by the revision it was
        read at: a change made meanwhile raises. ``create_missing`` creates a deleted one."""
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "name": name,
                "description": description,
                "enabled": enabled,
                "event": event,
                "action": action,
            }.items()
            if v is not None
        }
        updated = replace(obj, **changes)
        body = updated.to_body()
        try:
            view = remote.replace_automation(self._session, obj.entity, obj.id, body)
        except NotFoundError:
            if not create_missing:
                raise
            body.pop("revision")
            return self._create(obj.entity, body)
        return Automation.from_view(view)

    def delete_automation(self, obj: Automation | str, *, entity: str | None = None) -> None:
        """Delete an automation (an ``Automation``, or its name or id); its pending
        deliveries stop at their next attempt."""
        if isinstance(obj, Automation):
            remote.delete_automation(self._session, obj.entity, obj.id)
        else:
            remote.delete_automation(self._session, self._entity(entity), obj)

    def test_automation(
        self, obj: Automation | str, *, event_type: str | None = None, entity: str | None = None
    ) -> dict[str, Any]:
        """Send an example event of the automation's scope through its action, now: returns
        ``{ok, error, request, response}`` (secrets masked). Nothing is stored."""
        owner, ref = (
            (obj.entity, obj.id)
            if isinstance(obj, Automation)
            else (
                self._entity(entity),
                obj,
            )
        )
        return remote.send_test(self._session, owner, ref, event_type)

    # -- deliveries ----------------------------------------------------------------------------

    def deliveries(
        self,
        entity: str | None = None,
        *,
        automation: Automation | str | None = None,
        status: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The webhook deliveries of ``entity``, newest first; ``status`` is ``pending``,
        ``delivered`` or ``dead``."""
        owner = automation.entity if isinstance(automation, Automation) else self._entity(entity)
        ref = automation.id if isinstance(automation, Automation) else automation
        return remote.iter_deliveries(self._session, owner, automation=ref, status=status)

    def delivery(self, delivery_id: str, *, entity: str | None = None) -> dict[str, Any]:
        """One delivery with its ``attempt_log``."""
        return remote.get_delivery(self._session, self._entity(entity), delivery_id)

    def redeliver(self, delivery_id: str, *, entity: str | None = None) -> dict[str, Any]:
        """Send a delivered or dead delivery again (a new round of retries, same webhook-id)."""
        return remote.redeliver(self._session, self._entity(entity), delivery_id)

    # -- integrations and secrets ----------------------------------------------------------------

    def webhook_integrations(
        self, entity: str | None = None, *, per_page: int = 50
    ) -> Iterator[WebhookIntegration]:
        """The webhook integrations of ``entity``."""
        del per_page
        for view in remote.list_integrations(self._session, self._entity(entity)):
            yield WebhookIntegration.from_view(view)

    integrations = webhook_integrations  # Cairn has webhook integrations only

    def webhook_integration(self, name: str, *, entity: str | None = None) -> WebhookIntegration:
        """One webhook integration, by name or id."""
        return WebhookIntegration.from_view(
            remote.get_integration(self._session, self._entity(entity), name)
        )

    def create_webhook_integration(
        self,
        *,
        name: str,
        url: str,
        entity: str | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
        description: str = "",
    ) -> WebhookIntegration:
        """Create a webhook integration (an admin of the entity may). ``secret`` is a Standard
        Webhooks signing secret (``whsec_...``), generated when not given: read it from the
        result's ``signing_secret``, it is never shown again. ``headers`` values may use
        ``${SECRET_NAME}``."""
        body: dict[str, Any] = {"name": name, "url": url, "description": description}
        if secret is not None:
            body["secret"] = secret
        if headers:
            body["headers"] = dict(headers)
        view = remote.create_integration(self._session, self._entity(entity), body)
        return WebhookIntegration.from_view(view)

    def delete_webhook_integration(
        self, integration: WebhookIntegration | str, *, entity: str | None = None
    ) -> None:
        """Delete an integration no automation uses (else the server answers 409)."""
        if isinstance(integration, WebhookIntegration):
            remote.delete_integration(self._session, integration.entity, integration.id)
        else:
            remote.delete_integration(self._session, self._entity(entity), integration)

    def create_secret(self, *, name: str, value: str, entity: str | None = None) -> dict[str, Any]:
        """Store (or replace) the entity secret ``name`` (upper case, e.g. ``CI_TOKEN``), for
        payloads and headers as ``${CI_TOKEN}``. The value is never shown again."""
        return remote.put_secret(self._session, self._entity(entity), name, value)

    def secrets(self, entity: str | None = None) -> list[dict[str, Any]]:
        """The entity's secrets: names and hints, never values."""
        return remote.list_secrets(self._session, self._entity(entity))

    def delete_secret(self, name: str, *, entity: str | None = None) -> None:
        remote.delete_secret(self._session, self._entity(entity), name)
