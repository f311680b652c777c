"""Example events for the "test" calls, shaped to fit an automation's scope."""

from __future__ import annotations

from cairn_shared.events.envelope import Cause, Envelope, EventData
from cairn_shared.events.schema_registry import SCHEMAS

from cairn_automations.domain.model import (
    ArtifactCollectionScope,
    EntityScope,
    ProjectScope,
    RegisteredModelScope,
    RegistryScope,
    Scope,
)

SOURCE = "/cairn/automations/test"


def example_event(
    event_type: str, *, entity: str, actor: str, event_id: str, scope: Scope | None = None
) -> tuple[Envelope, EventData]:
    """The schema's example of ``event_type``, moved into ``entity`` and ``scope``."""
    example = SCHEMAS.schema(event_type).example()
    scope = scope or EntityScope()
    if event_type.startswith("artifact."):
        _, project, name = str(example.model_dump()["sequence"]).split("/", 2)
        if isinstance(scope, ProjectScope | ArtifactCollectionScope):
            project = scope.project
        if isinstance(scope, ArtifactCollectionScope):
            name = scope.collection
        key = f"{entity}/{project}/{name}"
        data = example.model_copy(update={"sequence": key, "name": name})
    else:
        fields = example.model_dump()
        registry, collection = str(fields["registry"]), str(fields["collection"])
        if isinstance(scope, RegistryScope | RegisteredModelScope):
            registry = scope.registry
        if isinstance(scope, RegisteredModelScope):
            collection = scope.collection
        key = f"{entity}/{registry}/{collection}"
        source = str(fields["source_sequence"]).split("/", 1)[1]
        data = example.model_copy(
            update={
                "collection_id": key,
                "registry": registry,
                "collection": collection,
                "source_sequence": f"{entity}/{source}",
            }
        )
        project = ""
    envelope = Envelope.wrap(
        data,
        id=event_id,
        source=SOURCE,
        subject=key,
        cause=Cause(actor=actor),
        entity=entity,
        project=project,
    )
    return envelope, data
