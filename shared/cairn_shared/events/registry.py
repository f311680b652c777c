"""Events of the model registry. The aggregate is a registered model (a collection of a
registry), keyed ``entity/registry/collection``; commands (``*.requested``) come from ingest or
from the registry's own HTTP routes and are applied by the consumer that owns the key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Self

from pydantic import Field

from cairn_shared.events.envelope import EventData

_EXAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


class _CollectionEvent(EventData):
    collection_id: str  # entity/registry/collection, also the Kafka key
    registry: str  # "model" for the legacy Model Registry (`model-registry/<name>`)
    collection: str


class ModelLinkRequested(_CollectionEvent):
    """Link an artifact version into a registered model (created if absent).

    The version is named by index, or by the submission that is creating it: a link may
    arrive before the artifact is committed, and completes when ``artifact.committed`` does.
    """

    type: ClassVar[str] = "model.link.requested"

    source_sequence: str  # entity/project/name of the artifact
    source_version_index: int | None = Field(default=None, ge=0)
    source_submission_id: str = ""
    aliases: list[str] = Field(default_factory=list)
    run_id: str = ""
    # Set by the edge that checked the caller's role: protected aliases (``production`` by
    # default) may be applied only when the requester was an admin of the entity.
    requested_by_admin: bool = False
    # Set only on the re-issue of a link that waited for its artifact version: the command
    # the requester polls, whose result this one writes.
    completes_command_id: str = ""

    @classmethod
    def example(cls) -> Self:
        return cls(
            collection_id="team/model/Quickstart Model Registry",
            registry="model",
            collection="Quickstart Model Registry",
            source_sequence="team/Models_Quickstart/model_3f2a9c1d",
            source_version_index=4,
            aliases=["staging"],
            run_id="3f2a9c1d",
        )


class ModelAliasChangeRequested(_CollectionEvent):
    """Add ``alias`` to the linked version ``link_index``, or remove it (``link_index`` None)."""

    type: ClassVar[str] = "model.alias.change.requested"

    alias: str
    link_index: int | None = Field(default=None, ge=0)
    requested_by_admin: bool = False  # see ModelLinkRequested

    @classmethod
    def example(cls) -> Self:
        return cls(
            collection_id="team/model/Quickstart Model Registry",
            registry="model",
            collection="Quickstart Model Registry",
            alias="production",
            link_index=1,
        )


class ModelUnlinkRequested(_CollectionEvent):
    type: ClassVar[str] = "model.unlink.requested"

    link_index: int = Field(ge=0)
    requested_by_admin: bool = False  # unlinking removes the version's aliases, protected ones too

    @classmethod
    def example(cls) -> Self:
        return cls(
            collection_id="team/model/Quickstart Model Registry",
            registry="model",
            collection="Quickstart Model Registry",
            link_index=0,
        )


class ModelCollectionUpdateRequested(_CollectionEvent):
    """Change a registered model's description or tags; a field left None stays as it is."""

    type: ClassVar[str] = "model.collection.update.requested"

    description: str | None = None
    tags: list[str] | None = None

    @classmethod
    def example(cls) -> Self:
        return cls(
            collection_id="team/model/Quickstart Model Registry",
            registry="model",
            collection="Quickstart Model Registry",
            description="Digit classifier",
            tags=["vision"],
        )


class ModelLinked(_CollectionEvent):
    type: ClassVar[str] = "model.linked"

    link_index: int = Field(ge=0)
    version: str  # "v<link_index>"
    source_sequence: str
    source_version_index: int = Field(ge=0)
    source_version_id: str
    artifact_type: str
    aliases: list[str]
    run_id: str = ""
    linked_at: datetime

    @classmethod
    def example(cls) -> Self:
        return cls(
            collection_id="team/model/Quickstart Model Registry",
            registry="model",
            collection="Quickstart Model Registry",
            link_index=0,
            version="v0",
            source_sequence="team/Models_Quickstart/model_3f2a9c1d",
            source_version_index=4,
            source_version_id="9b2c3d4e-0000-5000-8000-000000000000",
            artifact_type="model",
            aliases=["latest", "staging"],
            run_id="3f2a9c1d",
            linked_at=_EXAMPLE_TIME,
        )


class ModelUnlinked(_CollectionEvent):
    type: ClassVar[str] = "model.unlinked"

    link_index: int = Field(ge=0)
    source_sequence: str
    source_version_index: int = Field(ge=0)

    @classmethod
    def example(cls) -> Self:
        return cls(
            collection_id="team/model/Quickstart Model Registry",
            registry="model",
            collection="Quickstart Model Registry",
            link_index=0,
            source_sequence="team/Models_Quickstart/model_3f2a9c1d",
            source_version_index=4,
        )


class _ModelAliasEvent(_CollectionEvent):
    alias: str
    link_index: int = Field(ge=0)
    version: str
    source_sequence: str
    source_version_index: int = Field(ge=0)


class ModelAliasAdded(_ModelAliasEvent):
    type: ClassVar[str] = "model.alias.added"

    @classmethod
    def example(cls) -> Self:
        return cls(
            collection_id="team/model/Quickstart Model Registry",
            registry="model",
            collection="Quickstart Model Registry",
            alias="production",
            link_index=1,
            version="v1",
            source_sequence="team/Models_Quickstart/model_3f2a9c1d",
            source_version_index=4,
        )


class ModelAliasRemoved(_ModelAliasEvent):
    type: ClassVar[str] = "model.alias.removed"

    @classmethod
    def example(cls) -> Self:
        return cls(
            collection_id="team/model/Quickstart Model Registry",
            registry="model",
            collection="Quickstart Model Registry",
            alias="production",
            link_index=0,
            version="v0",
            source_sequence="team/Models_Quickstart/model_3f2a9c1d",
            source_version_index=3,
        )


SCHEMAS: tuple[type[EventData], ...] = (
    ModelLinkRequested,
    ModelAliasChangeRequested,
    ModelUnlinkRequested,
    ModelCollectionUpdateRequested,
    ModelLinked,
    ModelUnlinked,
    ModelAliasAdded,
    ModelAliasRemoved,
)
