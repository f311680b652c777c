"""Collections: a registry's (a registered model) and a project's (an artifact and its versions),
W&B's ``ArtifactCollection`` as ``api.artifact_collection(type_name, name)`` returns it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, overload

from cairn.artifacts import remote as artifacts_remote
from cairn.artifacts.artifact import Artifact
from cairn.names import check_alias
from cairn.registry import remote
from cairn.registry.linked import LinkedArtifact
from cairn.registry.paths import CollectionRef, version_name
from cairn.session import Session


class RegistryCollection:
    """A collection of a registry; in the Model Registry, a registered model.

    ``description`` and ``tags`` may be changed, then ``save()``d. Aliases move with
    ``set_alias``/``remove_alias`` (a protected alias such as ``production`` needs an admin).
    """

    def __init__(self, session: Session, ref: CollectionRef, doc: Mapping[str, Any]) -> None:
        if ref.entity is None:
            raise ValueError("a registry collection needs its entity")
        self._session = session
        self._ref = CollectionRef(ref.entity, ref.registry, ref.collection)
        self._set(doc)

    def _set(self, doc: Mapping[str, Any]) -> None:
        self._attrs = dict(doc)
        self.description: str = str(doc.get("description") or "")
        self.tags: list[str] = list(doc.get("tags") or [])

    def __repr__(self) -> str:
        return f"<RegistryCollection {self.path}>"

    @property
    def name(self) -> str:
        return self._ref.collection

    @property
    def entity(self) -> str:
        return str(self._ref.entity)

    @property
    def registry(self) -> str:
        return self._ref.registry

    @property
    def project(self) -> str:
        """``model-registry`` for the Model Registry, else ``wandb-registry-<registry>``."""
        return self._ref.project

    @property
    def path(self) -> str:
        """``entity/model-registry/<name>``: a ``target_path`` for ``run.link_artifact``."""
        return self._ref.path()

    @property
    def id(self) -> str:
        return str(self._attrs.get("id") or f"{self.entity}/{self.registry}/{self.name}")

    @property
    def created_at(self) -> str | None:
        return self._attrs.get("created_at")

    @property
    def updated_at(self) -> str | None:
        return self._attrs.get("updated_at")

    @property
    def version_count(self) -> int:
        return int(self._attrs.get("version_count") or 0)

    @property
    def alias_versions(self) -> dict[str, str]:
        """``{alias: "vN"}`` for every alias of the collection."""
        if "aliases" not in self._attrs:
            self.load()
        return dict(self._attrs.get("aliases") or {})

    @property
    def aliases(self) -> list[str]:
        """The aliases held by the collection's versions (W&B's ``ArtifactCollection.aliases``)."""
        return sorted(self.alias_versions)

    def is_sequence(self) -> bool:
        """False: a registry collection links versions of other artifacts."""
        return False

    def load(self) -> RegistryCollection:
        """Read the collection again (description, tags, aliases)."""
        self._set(remote.get_collection(self._session, self._ref))
        return self

    def save(self) -> None:
        """Store changes to ``description`` and ``tags``."""
        changes: dict[str, Any] = {}
        if self.description != str(self._attrs.get("description") or ""):
            changes["description"] = self.description
        if list(self.tags) != list(self._attrs.get("tags") or []):
            changes["tags"] = list(dict.fromkeys(self.tags))
        if changes:
            remote.patch_collection(self._session, self._ref, changes)
        self.load()

    # -- versions --------------------------------------------------------------------------------

    def versions(self, filter: Mapping[str, Any] | None = None) -> Iterator[LinkedArtifact]:
        """The linked versions, newest first; ``filter`` is W&B's Mongo-like dict over
        ``alias``, ``tag``, ``metadata.<key>``, ``created_at``..."""
        for link in remote.iter_versions(self._session, self._ref, filter):
            yield LinkedArtifact._from_link(self._session, self._ref, link)

    artifacts = versions  # W&B's ArtifactCollection.artifacts()

    def version(self, ref: str | int = "latest") -> LinkedArtifact:
        """One linked version: ``vN``, ``N`` or an alias."""
        text = str(ref)
        link = remote.get_version(self._session, self._ref, f"v{text}" if text.isdigit() else text)
        return LinkedArtifact._from_link(self._session, self._ref, link)

    def set_alias(self, alias: str, version: str | int | Artifact) -> None:
        """Move ``alias`` to ``version`` (``vN``, ``N`` or a linked artifact of this collection)."""
        target = version.version if isinstance(version, LinkedArtifact) else version
        if isinstance(target, Artifact):
            raise ValueError("pass a version of this collection (vN), not a source artifact")
        remote.put_alias(self._session, self._ref, check_alias(alias), version_name(target))
        self._attrs.pop("aliases", None)

    def remove_alias(self, alias: str) -> None:
        """Remove ``alias`` from whichever version holds it."""
        remote.delete_alias(self._session, self._ref, check_alias(alias))
        self._attrs.pop("aliases", None)

    def unlink(self, version: str | int) -> None:
        """Remove a linked version from the collection (its source version stays)."""
        remote.unlink(self._session, self._ref, version_name(version))
        self._attrs.pop("aliases", None)

    @overload
    def history(self, alias: str | None = None, at: None = None) -> list[dict[str, Any]]: ...

    @overload
    def history(self, alias: str, at: datetime | str) -> str | None: ...

    def history(
        self, alias: str | None = None, at: datetime | str | None = None
    ) -> list[dict[str, Any]] | str | None:
        """Every change (link, unlink, alias added or removed...) oldest first, or only those
        of ``alias``; with ``at`` too, the version (``vN``) that held ``alias`` then, or None."""
        if at is not None:
            if alias is None:
                raise ValueError("history(at=...) asks who held an alias then: give the alias")
            return remote.alias_holder_at(self._session, self._ref, check_alias(alias), at)
        return list(remote.iter_history(self._session, self._ref, alias))


class ArtifactCollection:
    """An artifact of a project and its versions (W&B's artifact *sequence*)."""

    def __init__(
        self, session: Session, place: artifacts_remote.Place, doc: Mapping[str, Any]
    ) -> None:
        self._session = session
        self._place = place
        self._attrs = dict(doc)
        self.description = ""
        self.tags: list[str] = []

    def __repr__(self) -> str:
        return f"<ArtifactCollection {self.entity}/{self.project}/{self.name} ({self.type})>"

    @property
    def name(self) -> str:
        return str(self._attrs["name"])

    @property
    def type(self) -> str:
        return str(self._attrs["type"])

    @property
    def entity(self) -> str:
        return self._place.entity

    @property
    def project(self) -> str:
        return self._place.project

    @property
    def version_count(self) -> int:
        return int(self._attrs.get("version_count") or 0)

    @property
    def aliases(self) -> list[str]:
        return sorted(self._attrs.get("aliases") or {})

    def is_sequence(self) -> bool:
        return True

    def versions(self) -> Iterator[Artifact]:
        """Every version, oldest first."""
        for doc in artifacts_remote.list_versions(self._session, self._place, self.name):
            yield Artifact._from_version(self._session, self._place, doc)

    artifacts = versions
