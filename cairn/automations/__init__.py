"""Automations, W&B-shaped (``wandb.automations``): when an event happens in a scope, send a
webhook.

    from cairn.automations import ArtifactEvent, OnAddArtifactAlias, SendWebhook

    api = cairn.Api()
    model = api.artifact_collection(type_name="model", name="model-registry/Classifier")
    hook = api.create_webhook_integration(name="ci", url="https://ci.example.com/hook")
    event = OnAddArtifactAlias(scope=model, filter=ArtifactEvent.alias.eq("production"))
    action = SendWebhook.from_integration(hook, payload={"version": "${artifact_version_string}"})
    api.create_automation(event >> action, name="deploy", description="deploy production")
"""

from cairn.automations.actions import ActionType, SendWebhook
from cairn.automations.automation import (
    Automation,
    NewAutomation,
    SavedEvent,
    SavedWebhookAction,
)
from cairn.automations.events import (
    EventType,
    OnAddArtifactAlias,
    OnCreateArtifact,
    OnLinkArtifact,
    OnRemoveArtifactAlias,
)
from cairn.automations.filters import ArtifactEvent, FilterableField, FilterExpr
from cairn.automations.integrations import WebhookIntegration
from cairn.automations.scopes import Project, Scope

__all__ = [
    "ActionType",
    "ArtifactEvent",
    "Automation",
    "EventType",
    "FilterExpr",
    "FilterableField",
    "NewAutomation",
    "OnAddArtifactAlias",
    "OnCreateArtifact",
    "OnLinkArtifact",
    "OnRemoveArtifactAlias",
    "Project",
    "SavedEvent",
    "SavedWebhookAction",
    "Scope",
    "SendWebhook",
    "WebhookIntegration",
]
