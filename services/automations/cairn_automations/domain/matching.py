"""Does an automation's event filter match a trigger? Pure and cheap: it runs on every event."""

from __future__ import annotations

from typing import assert_never

from cairn_automations.domain.model import (
    ALIAS_EVENTS,
    ArtifactCollectionScope,
    EntityScope,
    EventFilter,
    ProjectScope,
    RegisteredModelScope,
    RegistryScope,
    Scope,
)
from cairn_automations.domain.patterns import alias_matches
from cairn_automations.domain.triggers import Trigger


def matches(event: EventFilter, trigger: Trigger) -> bool:
    if trigger.event_type not in event.types:
        return False
    if trigger.event_type == "artifact.committed" and not trigger.created:
        return False  # same content as an existing version: nothing was created
    return in_scope(event.scope, trigger) and _alias_matches(event, trigger)


def in_scope(scope: Scope, trigger: Trigger) -> bool:
    """The entity is the automation's own (the caller looks automations up by entity)."""
    if isinstance(scope, EntityScope):
        return True
    if isinstance(scope, ProjectScope):
        return trigger.registry is None and trigger.project == scope.project
    if isinstance(scope, ArtifactCollectionScope):
        return (
            trigger.registry is None
            and trigger.project == scope.project
            and trigger.collection == scope.collection
        )
    if isinstance(scope, RegistryScope):
        return trigger.registry == scope.registry
    if isinstance(scope, RegisteredModelScope):
        return trigger.registry == scope.registry and trigger.collection == scope.collection
    assert_never(scope)


def _alias_matches(event: EventFilter, trigger: Trigger) -> bool:
    if event.alias_pattern is None:
        return True
    if trigger.event_type in ALIAS_EVENTS:
        return trigger.alias is not None and alias_matches(event.alias_pattern, trigger.alias)
    # artifact.committed and model.linked: any alias the version got.
    return any(alias_matches(event.alias_pattern, alias) for alias in trigger.aliases)
