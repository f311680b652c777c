"""Where an automation's event must happen: the scope, as the automations service takes it.

W&B passes objects: an artifact collection (``api.artifact_collection(...)``), a project
(``api.project(...)``) or a registry collection. Each becomes a scope of the service: ``entity``,
``project``, ``artifact_collection``, ``registry`` or ``registered_model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cairn.registry.collection import ArtifactCollection, RegistryCollection
from cairn.registry.objects import Registry
from cairn.registry.paths import registry_of_project, registry_project

ScopeKind = Literal["entity", "artifact", "registry"]
ARTIFACT_SCOPES = frozenset({"project", "artifact_collection"})
REGISTRY_SCOPES = frozenset({"registry", "registered_model"})


@dataclass(frozen=True)
class Project:
    """A project of an entity, as ``api.project(name, entity=...)`` returns it.

    ``model-registry`` and ``wandb-registry-<registry>`` name registries, as in W&B.
    """

    name: str
    entity: str

    @property
    def path(self) -> list[str]:
        return [self.entity, self.name]

    @property
    def registry(self) -> str | None:
        """The registry this project stands for, or None for an ordinary project."""
        return registry_of_project(self.name)


@dataclass(frozen=True)
class Scope:
    """A scope resolved: the entity it belongs to (None: the caller's) and the service's dict."""

    entity: str | None
    spec: dict[str, Any]

    @property
    def kind(self) -> ScopeKind:
        if self.spec["type"] in ARTIFACT_SCOPES:
            return "artifact"
        if self.spec["type"] in REGISTRY_SCOPES:
            return "registry"
        return "entity"

    def describe(self) -> str:
        """``project 'mnist'``, ``registered model model-registry/Classifier``..."""
        kind = self.spec["type"]
        if kind == "project":
            return f"project {self.spec['project']!r}"
        if kind == "artifact_collection":
            return f"artifact {self.spec['project']}/{self.spec['collection']}"
        if kind == "registry":
            return f"registry {registry_project(self.spec['registry'])}"
        if kind == "registered_model":
            return f"{registry_project(self.spec['registry'])}/{self.spec['collection']}"
        return "the whole entity"


ScopeLike = RegistryCollection | ArtifactCollection | Registry | Project | Mapping[str, Any] | None


def resolve_scope(scope: ScopeLike) -> Scope:
    """The service's scope for a W&B-style scope object (None: every event of the entity)."""
    if scope is None:
        return Scope(None, {"type": "entity"})
    if isinstance(scope, Mapping) and isinstance(scope.get("type"), str):
        return Scope(None, dict(scope))
    spec: dict[str, Any]
    if isinstance(scope, RegistryCollection):
        spec = {"type": "registered_model", "registry": scope.registry, "collection": scope.name}
    elif isinstance(scope, ArtifactCollection):
        spec = {"type": "artifact_collection", "project": scope.project, "collection": scope.name}
    elif isinstance(scope, Registry):
        spec = {"type": "registry", "registry": scope.name}
    elif isinstance(scope, Project) and scope.registry is not None:
        spec = {"type": "registry", "registry": scope.registry}
    elif isinstance(scope, Project):
        spec = {"type": "project", "project": scope.name}
    else:
        raise TypeError(
            f"an automation's scope is an artifact collection, a project or a registry (from "
            f"cairn.Api()), not {type(scope).__name__}"
        )
    return Scope(scope.entity, spec)
