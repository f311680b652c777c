"""What an event offers to filters and templates: one ``Trigger`` per consumed event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cairn_shared.events.artifacts import (
    ArtifactAliasAdded,
    ArtifactAliasRemoved,
    ArtifactCommitted,
)
from cairn_shared.events.envelope import Envelope, EventData
from cairn_shared.events.registry import ModelAliasAdded, ModelAliasRemoved, ModelLinked


@dataclass(frozen=True)
class Trigger:
    event_type: str
    entity: str
    # Artifact events: the artifact's project and name. Registry events: the registry, and the
    # registered model (collection) as the collection.
    project: str
    registry: str | None
    collection: str
    artifact_type: str
    version_index: int
    version_id: str
    alias: str | None  # alias events only
    aliases: tuple[str, ...]  # the alias of an alias event, or the aliases a version got
    # The artifact version whose metadata ${artifact_metadata.*} reads: "entity/project/name:N".
    version_key: str
    source_version: str = ""  # registry events: the linked artifact version "e/p/name:vN"
    metadata: Mapping[str, Any] | None = field(default=None, hash=False)  # artifact.committed
    created: bool = True  # artifact.committed: False when the content matched a version

    @property
    def project_name(self) -> str:
        """The W&B project: registries live in ``model-registry`` / ``wandb-registry-<name>``."""
        if self.registry is None:
            return self.project
        return registry_project(self.registry)

    @property
    def version_string(self) -> str:
        return f"{self.entity}/{self.project_name}/{self.collection}:v{self.version_index}"


def registry_project(registry: str) -> str:
    return "model-registry" if registry == "model" else f"wandb-registry-{registry}"


def version_key(sequence: str, index: int) -> str:
    return f"{sequence}:{index}"


def trigger_of(envelope: Envelope, data: EventData) -> Trigger | None:
    """The trigger of an event that automations can match, or None for any other event."""
    if isinstance(data, ArtifactAliasAdded | ArtifactAliasRemoved | ArtifactCommitted):
        entity, project, _ = _split(data.sequence, envelope)
        committed = data if isinstance(data, ArtifactCommitted) else None
        alias = data.alias if isinstance(data, ArtifactAliasAdded | ArtifactAliasRemoved) else None
        return Trigger(
            event_type=envelope.type,
            entity=entity,
            project=project,
            registry=None,
            collection=data.name,
            artifact_type=data.artifact_type,
            version_index=data.version_index,
            version_id=data.version_id,
            alias=alias,
            aliases=tuple(committed.aliases) if committed else _one(alias),
            version_key=version_key(data.sequence, data.version_index),
            metadata=committed.metadata if committed else None,
            created=committed.created if committed else True,
        )
    if isinstance(data, ModelLinked | ModelAliasAdded | ModelAliasRemoved):
        entity, _, _ = _split(data.collection_id, envelope)
        linked = data if isinstance(data, ModelLinked) else None
        alias = data.alias if isinstance(data, ModelAliasAdded | ModelAliasRemoved) else None
        return Trigger(
            event_type=envelope.type,
            entity=entity,
            project="",
            registry=data.registry,
            collection=data.collection,
            artifact_type=linked.artifact_type if linked else "",
            version_index=data.link_index,
            version_id=linked.source_version_id if linked else "",
            alias=alias,
            aliases=tuple(linked.aliases) if linked else _one(alias),
            version_key=version_key(data.source_sequence, data.source_version_index),
            source_version=f"{data.source_sequence}:v{data.source_version_index}",
        )
    return None


def variables(
    trigger: Trigger, envelope: Envelope, metadata: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The values of every template variable for this event (JSON-ready)."""
    return {
        "event_type": envelope.type,
        "event_id": envelope.id,
        "event_time": envelope.time.isoformat(),
        "event_author": envelope.actor,
        "entity_name": trigger.entity,
        "project_name": trigger.project_name,
        "registry_name": trigger.registry,
        "artifact_collection_name": trigger.collection,
        "artifact_type": trigger.artifact_type or None,
        "artifact_version": f"v{trigger.version_index}",
        "artifact_version_index": trigger.version_index,
        "artifact_version_string": trigger.version_string,
        "artifact_version_id": trigger.version_id or None,
        "source_artifact_version_string": trigger.source_version or None,
        "alias": trigger.alias,
        "aliases": list(trigger.aliases),
        "artifact_metadata": dict(metadata) if metadata is not None else None,
    }


def _split(path: str, envelope: Envelope) -> tuple[str, str, str]:
    """``entity/middle/name`` of an aggregate key; the envelope's entity if it is malformed."""
    parts = path.split("/", 2)
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return envelope.entity, envelope.project, path


def _one(alias: str | None) -> tuple[str, ...]:
    return () if alias is None else (alias,)
