"""Events that trigger automations, W&B-shaped: ``OnAddArtifactAlias(scope=..., filter=...)``.

``event >> action`` (or ``event.then(action)``) makes a ``NewAutomation`` to pass to
``api.create_automation``. Each event becomes the service's event types for its scope: an alias
added in a project is ``artifact.alias.added``, in a registry ``model.alias.added``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from cairn.automations.filters import FilterExpr, alias_pattern
from cairn.automations.scopes import Scope, ScopeKind, ScopeLike, resolve_scope

if TYPE_CHECKING:
    from cairn.automations.actions import SendWebhook
    from cairn.automations.automation import NewAutomation


class EventType:
    """W&B's names of the events (``wandb.automations.EventType``)."""

    ADD_ARTIFACT_ALIAS = "ADD_ARTIFACT_ALIAS"
    CREATE_ARTIFACT = "CREATE_ARTIFACT"
    LINK_ARTIFACT = "LINK_MODEL"
    REMOVE_ARTIFACT_ALIAS = "REMOVE_ARTIFACT_ALIAS"  # Cairn's own


class _ArtifactEventInput:
    """An event of artifacts (or registry versions) in ``scope``, optionally filtered."""

    event_type: ClassVar[str]
    # The service's event types for a scope kind; a kind missing here is refused.
    _types: ClassVar[dict[ScopeKind, list[str]]]

    def __init__(
        self,
        *,
        scope: ScopeLike = None,
        filter: FilterExpr | Mapping[str, Any] | None = None,
    ) -> None:
        self.scope = scope
        self.filter = filter
        resolved = self._resolved()
        if resolved.kind not in self._types:
            raise ValueError(
                f"{type(self).__name__} cannot watch {resolved.describe()}: {self._scope_hint()}"
            )
        alias_pattern(filter)  # refuse an inexpressible filter now

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(scope={self._resolved().describe()!r}, filter={self.filter!r})"
        )

    def _scope_hint(self) -> str:
        return "use a project, an artifact collection or a registry"

    def _resolved(self) -> Scope:
        return resolve_scope(self.scope)

    def to_dict(self) -> dict[str, Any]:
        """The service's ``event``: ``{types, scope, alias_pattern}``."""
        scope = self._resolved()
        return {
            "types": list(self._types[scope.kind]),
            "scope": scope.spec,
            "alias_pattern": alias_pattern(self.filter),
        }

    def then(self, action: SendWebhook) -> NewAutomation:
        """A new automation in which this event triggers ``action``."""
        from cairn.automations.automation import NewAutomation  # noqa: PLC0415 - a cycle

        return NewAutomation(event=self, action=action)

    def __rshift__(self, action: SendWebhook) -> NewAutomation:
        """``event >> action``: a new automation."""
        return self.then(action)


class OnAddArtifactAlias(_ArtifactEventInput):
    """An alias is added to an artifact version (or to a version of a registered model)."""

    event_type = EventType.ADD_ARTIFACT_ALIAS
    _types: ClassVar[dict[ScopeKind, list[str]]] = {
        "artifact": ["artifact.alias.added"],
        "registry": ["model.alias.added"],
        "entity": ["artifact.alias.added", "model.alias.added"],
    }


class OnRemoveArtifactAlias(_ArtifactEventInput):
    """An alias is removed from an artifact version or a registered model's version (Cairn)."""

    event_type = EventType.REMOVE_ARTIFACT_ALIAS
    _types: ClassVar[dict[ScopeKind, list[str]]] = {
        "artifact": ["artifact.alias.removed"],
        "registry": ["model.alias.removed"],
        "entity": ["artifact.alias.removed", "model.alias.removed"],
    }


class OnLinkArtifact(_ArtifactEventInput):
    """An artifact version is linked to a registry collection (a registered model)."""

    event_type = EventType.LINK_ARTIFACT
    _types: ClassVar[dict[ScopeKind, list[str]]] = {
        "registry": ["model.linked"],
        "entity": ["model.linked"],
    }

    def _scope_hint(self) -> str:
        return "links happen in registries: use a registry or a registered model"


class OnCreateArtifact(_ArtifactEventInput):
    """A new artifact version is created (logging identical content creates none)."""

    event_type = EventType.CREATE_ARTIFACT
    _types: ClassVar[dict[ScopeKind, list[str]]] = {
        "artifact": ["artifact.committed"],
        "entity": ["artifact.committed"],
    }

    def _scope_hint(self) -> str:
        return "versions are created in projects: use an artifact collection or a project"
