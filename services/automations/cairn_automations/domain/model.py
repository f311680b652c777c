"""What users define: automations (an event filter and a webhook action), webhook integrations
and secrets. Pydantic models, so the same definitions validate requests at the edge."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from cairn_shared.names import check_artifact_name, check_project_name
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from cairn_automations.domain.patterns import check_alias_pattern

EventType = Literal[
    "artifact.alias.added",
    "artifact.alias.removed",
    "artifact.committed",
    "model.linked",
    "model.alias.added",
    "model.alias.removed",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
ALIAS_EVENTS = frozenset(
    {"artifact.alias.added", "artifact.alias.removed", "model.alias.added", "model.alias.removed"}
)

OBJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-. ]{0,127}$")
REGISTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9_\-. ]{1,128}$")


def check_object_name(name: str) -> str:
    """Names of automations and integrations: what ``api.automation(name=...)`` looks up."""
    if not OBJECT_NAME.fullmatch(name) or name.strip() != name:
        raise ValueError(
            f"invalid name {name!r}: use 1-128 letters, digits, spaces, '_', '-' or '.', "
            "starting with a letter or digit, with no trailing space"
        )
    return name


def check_registry_name(name: str) -> str:
    if not REGISTRY_NAME.fullmatch(name):
        raise ValueError(f"invalid registry name {name!r}: use 1-64 letters, digits, '_' or '-'")
    return name


def check_collection_name(name: str) -> str:
    if not COLLECTION_NAME.fullmatch(name) or name.strip() != name:
        raise ValueError(
            f"invalid collection name {name!r}: use 1-128 letters, digits, spaces, '_', '-' or "
            "'.', with no leading or trailing space"
        )
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntityScope(_Strict):
    """Every artifact and registered model of the automation's entity."""

    type: Literal["entity"] = "entity"


class ProjectScope(_Strict):
    """The artifacts of one project."""

    type: Literal["project"]
    project: str

    _project = field_validator("project")(check_project_name)


class ArtifactCollectionScope(_Strict):
    """One artifact collection (sequence): ``entity/project/collection``."""

    type: Literal["artifact_collection"]
    project: str
    collection: str

    _project = field_validator("project")(check_project_name)
    _collection = field_validator("collection")(check_artifact_name)


class RegistryScope(_Strict):
    """Every registered model (collection) of one registry; ``model`` is the Model Registry."""

    type: Literal["registry"]
    registry: str

    _registry = field_validator("registry")(check_registry_name)


class RegisteredModelScope(_Strict):
    """One registered model: ``model-registry/<collection>`` is registry ``model``."""

    type: Literal["registered_model"]
    registry: str = "model"
    collection: str

    _registry = field_validator("registry")(check_registry_name)
    _collection = field_validator("collection")(check_collection_name)


Scope = Annotated[
    EntityScope | ProjectScope | ArtifactCollectionScope | RegistryScope | RegisteredModelScope,
    Field(discriminator="type"),
]


class EventFilter(_Strict):
    types: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    scope: Scope = Field(default_factory=EntityScope)
    # A regular expression searched in the alias (alias events) or in any of the event's
    # aliases (artifact.committed, model.linked); None matches every event.
    alias_pattern: str | None = None

    @field_validator("types")
    @classmethod
    def _unique(cls, types: list[EventType]) -> list[EventType]:
        return list(dict.fromkeys(types))

    @field_validator("alias_pattern")
    @classmethod
    def _pattern(cls, pattern: str | None) -> str | None:
        return None if pattern is None else check_alias_pattern(pattern)


class WebhookAction(_Strict):
    type: Literal["webhook"] = "webhook"
    integration: str  # the name of a webhook integration of the same entity
    # A JSON template with ${variables} in its strings; None sends the CloudEvent itself.
    payload: JsonValue | None = None
    integration_id: str | None = None  # read-only: accepted so a client may send back a view

    _integration = field_validator("integration")(check_object_name)


class AutomationSpec(_Strict):
    """An automation as a client creates or replaces it."""

    name: str
    description: str = Field(default="", max_length=4096)
    enabled: bool = True
    event: EventFilter
    action: WebhookAction

    _name = field_validator("name")(check_object_name)


class AutomationReplace(AutomationSpec):
    """A whole automation (PUT). The read-only fields of its view are accepted and ignored, so
    a client may send back what it read; ``revision``, when given, must be the current one."""

    revision: int | None = None
    id: str | None = None
    entity: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class AutomationPatch(_Strict):
    """A partial update: every field left out keeps its value."""

    name: str | None = None
    description: str | None = Field(default=None, max_length=4096)
    enabled: bool | None = None
    event: EventFilter | None = None
    action: WebhookAction | None = None
    revision: int | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str | None) -> str | None:
        return None if name is None else check_object_name(name)
