"""Events of artifact versions: submitted by ingest, applied and announced by manifest.

An artifact sequence (``entity/project/name``) is the aggregate: every event about it is keyed
by the sequence, so one consumer applies them in order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import Field

from cairn_shared.events.envelope import EventData

SHA256_HEX = r"^[0-9a-f]{64}$"


class ArtifactLogged(EventData):
    """A run (or the CLI) submitted a manifest whose blobs storage holds."""

    type: ClassVar[str] = "artifact.logged"

    sequence: str  # entity/project/name, also the Kafka key
    name: str
    artifact_type: str
    manifest_digest: str = Field(pattern=SHA256_HEX)  # the manifest blob's SHA-256
    file_count: int = Field(ge=0)
    size: int = Field(ge=0)
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)
    run_id: str = ""  # empty for a put without a run

    @classmethod
    def example(cls) -> Self:
        return cls(
            sequence="team/proj/mnist",
            name="mnist",
            artifact_type="dataset",
            manifest_digest="0" * 64,
            file_count=2,
            size=2048,
            metadata={"rows": 60000},
            aliases=["best"],
            run_id="3f2a9c1d",
        )


class ArtifactCommitted(EventData):
    """A submission became a version, or matched an existing one (``created`` is False)."""

    type: ClassVar[str] = "artifact.committed"

    sequence: str
    name: str
    artifact_type: str
    version_id: str
    version_index: int = Field(ge=0)
    manifest_digest: str = Field(pattern=SHA256_HEX)
    size: int = Field(ge=0)
    file_count: int = Field(ge=0)
    created: bool
    aliases: list[str]
    metadata: dict[str, Any] = Field(default_factory=dict)
    run_id: str = ""
    submission_id: str  # the artifact.logged event id
    committed_at: datetime

    @classmethod
    def example(cls) -> Self:
        return cls(
            sequence="team/proj/mnist",
            name="mnist",
            artifact_type="dataset",
            version_id="9b2c3d4e-0000-5000-8000-000000000000",
            version_index=3,
            manifest_digest="0" * 64,
            size=2048,
            file_count=2,
            created=True,
            aliases=["latest", "best"],
            metadata={"rows": 60000},
            run_id="3f2a9c1d",
            submission_id="5a1e0000-0000-5000-8000-000000000000",
            committed_at=datetime(2026, 1, 1, tzinfo=UTC),
        )


class _AliasEvent(EventData):
    sequence: str
    name: str
    artifact_type: str
    alias: str
    version_id: str
    version_index: int = Field(ge=0)


class ArtifactAliasAdded(_AliasEvent):
    type: ClassVar[str] = "artifact.alias.added"

    @classmethod
    def example(cls) -> Self:
        return cls(
            sequence="team/proj/mnist",
            name="mnist",
            artifact_type="dataset",
            alias="production",
            version_id="9b2c3d4e-0000-5000-8000-000000000000",
            version_index=3,
        )


class ArtifactAliasRemoved(_AliasEvent):
    type: ClassVar[str] = "artifact.alias.removed"

    @classmethod
    def example(cls) -> Self:
        return cls(
            sequence="team/proj/mnist",
            name="mnist",
            artifact_type="dataset",
            alias="production",
            version_id="9b2c3d4e-0000-5000-8000-000000000000",
            version_index=2,
        )


class ArtifactUsed(EventData):
    """A run declared a version as its input (``run.use_artifact``)."""

    type: ClassVar[str] = "artifact.used"

    sequence: str
    version_index: int = Field(ge=0)
    run_id: str

    @classmethod
    def example(cls) -> Self:
        return cls(sequence="team/proj/mnist", version_index=3, run_id="3f2a9c1d")


class ArtifactDeleted(EventData):
    """A version was deleted; storage may collect blobs no version refers to any more."""

    type: ClassVar[str] = "artifact.deleted"

    sequence: str
    version_index: int = Field(ge=0)
    manifest_digest: str = Field(pattern=SHA256_HEX)

    @classmethod
    def example(cls) -> Self:
        return cls(sequence="team/proj/mnist", version_index=3, manifest_digest="0" * 64)


SCHEMAS: tuple[type[EventData], ...] = (
    ArtifactLogged,
    ArtifactCommitted,
    ArtifactAliasAdded,
    ArtifactAliasRemoved,
    ArtifactUsed,
    ArtifactDeleted,
)
