"""A version linked into a registry collection, as ``api.artifact("model-registry/X:prod")``
returns it: W&B's linked artifact.

It is a pointer: its files, type and metadata are those of the source version (an ordinary
artifact version in a project), which is read from the manifest service when first needed. Its
name, version and aliases are those of the link (``X:v0``, aliases held in the collection).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from cairn.artifacts import remote
from cairn.artifacts.artifact import Artifact
from cairn.errors import ArtifactFinalizedError, ArtifactNotLoggedError
from cairn.registry.paths import CollectionRef
from cairn.session import Session


class LinkedArtifact(Artifact):
    """A linked version of a registered model (or of any registry collection).

    ``download()``, ``files()``, ``verify()`` and ``use_artifact`` act on the source version;
    ``name`` is ``<collection>:vN``, ``source_name`` the source's ``<artifact>:vM``.
    """

    _link: dict[str, Any]
    _collection: CollectionRef
    _source_index: int

    @classmethod
    def _from_link(
        cls, session: Session, collection: CollectionRef, link: dict[str, Any]
    ) -> LinkedArtifact:
        """From the registry's linked version (``{version, aliases, source: {...}, ...}``)."""
        source = link["source"]
        entity, project, name = str(source["sequence"]).split("/", 2)
        stub = {
            "name": name,
            "type": source["type"],
            "metadata": source.get("metadata") or {},
            "manifest_digest": source["manifest_digest"],
        }
        artifact = cls._from_version(session, remote.Place(entity, project), stub)
        artifact._require_logged().doc = None  # the source version is read when first needed
        artifact._source_index = int(source["version_index"])
        artifact._link = dict(link)
        artifact._collection = collection
        return artifact

    def wait(self, timeout: float | None = None) -> Self:
        """Read the source version (once); a linked version is always committed."""
        logged = self._require_logged()
        if logged.doc is None:
            doc = remote.read_version(
                logged.session, logged.place, self._name, f"v{self._source_index}"
            )
            logged.doc = doc
            self._description = str(doc.get("description") or "")
            self._metadata = dict(doc.get("metadata") or {})
        return self

    def __repr__(self) -> str:
        return f"<LinkedArtifact {self.qualified_name} -> {self.source_qualified_name}>"

    # -- the link --------------------------------------------------------------------------------

    @property
    def is_link(self) -> bool:
        """True: this is a version of a registry collection, pointing at a source version."""
        return True

    @property
    def name(self) -> str:
        """``<collection>:vN``."""
        return f"{self._collection.collection}:{self.version}"

    @property
    def version(self) -> str:
        """The version within the collection (``v0``, ``v1``...), not the source's."""
        return str(self._link["version"])

    @property
    def aliases(self) -> list[str]:
        """The aliases this version holds in the collection (``latest``, ``production``...)."""
        return list(self._link.get("aliases") or [])

    @aliases.setter
    def aliases(self, aliases: Sequence[str]) -> None:
        raise ArtifactFinalizedError(
            "move aliases of a linked version with collection.set_alias(alias, version) or "
            "`cairn registry alias add`"
        )

    @property
    def entity(self) -> str:
        return str(self._collection.entity)

    @property
    def project(self) -> str:
        """The registry's project name (``model-registry`` or ``wandb-registry-<registry>``)."""
        return self._collection.project

    @property
    def qualified_name(self) -> str:
        """``entity/model-registry/<collection>:vN``."""
        return f"{self._collection.path()}:{self.version}"

    @property
    def collection_name(self) -> str:
        return self._collection.collection

    @property
    def registry(self) -> str:
        return self._collection.registry

    @property
    def linked_by(self) -> str:
        return str(self._link.get("linked_by") or "")

    @property
    def linked_at(self) -> str | None:
        value = self._link.get("linked_at")
        return None if value is None else str(value)

    @property
    def run_id(self) -> str:
        """The run that linked this version ("" when linked outside a run)."""
        return str(self._link.get("run_id") or "")

    # -- the source ------------------------------------------------------------------------------

    @property
    def source_entity(self) -> str:
        return self._require_logged().place.entity

    @property
    def source_project(self) -> str:
        return self._require_logged().place.project

    @property
    def source_version(self) -> str:
        return f"v{self._source_index}"

    @property
    def source_name(self) -> str:
        """``<artifact>:vM``: the source version this link points at."""
        return f"{self._name}:{self.source_version}"

    @property
    def source_qualified_name(self) -> str:
        return f"{self.source_entity}/{self.source_project}/{self.source_name}"

    @property
    def source_artifact(self) -> Artifact:
        """The source version as an ordinary artifact of its project."""
        logged = self.wait()._require_logged()
        if logged.doc is None:  # pragma: no cover - wait() reads it
            raise ArtifactNotLoggedError(f"the source of {self.qualified_name} is unknown")
        return Artifact._from_version(logged.session, logged.place, logged.doc)

    def _default_root(self) -> Path:
        base = Path(os.environ.get("CAIRN_ARTIFACT_DIR") or "./artifacts")
        folder = f"{self._collection.collection}:{self.version}"
        return base / (folder.replace(":", "-") if os.name == "nt" else folder)
