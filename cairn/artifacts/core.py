"""The state of an artifact (draft, submitted, committed) and its read-only properties.

``Artifact`` (``cairn.artifacts.artifact``) adds building, logging and reading files on top.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from cairn.artifacts import download as dl
from cairn.artifacts import remote
from cairn.artifacts.cache import cache_dir
from cairn.artifacts.draft import DraftContents
from cairn.artifacts.hashing import DigestCache
from cairn.artifacts.manifest import Manifest
from cairn.errors import ArtifactFinalizedError, ArtifactNotLoggedError
from cairn.names import check_alias, check_artifact_name, check_artifact_type, check_metadata
from cairn.session import Session


@dataclass
class LoggedState:
    session: Session
    place: remote.Place
    manifest_digest: str
    submission_id: str | None = None
    doc: dict[str, Any] | None = None  # the version document, once committed


class ArtifactCore:
    """Name, type, description, metadata, aliases and where the artifact stands."""

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._name = check_artifact_name(name)
        self._type = check_artifact_type(type)
        self._description = description or ""
        self._metadata = check_metadata(metadata or {})
        self._aliases: list[str] = []
        self._manifest: Manifest | None = Manifest()
        self._draft: DraftContents | None = DraftContents(
            self._manifest, DigestCache(cache_dir() / "digests.sqlite3")
        )
        self._logged: LoggedState | None = None

    @classmethod
    def _from_version(cls, session: Session, place: remote.Place, doc: dict[str, Any]) -> Self:
        """A logged, committed version as the server describes it."""
        artifact = cls(str(doc["name"]).split(":")[0], str(doc["type"]))
        artifact._description = str(doc.get("description") or "")
        artifact._metadata = dict(doc.get("metadata") or {})
        artifact._manifest = None  # fetched on first use
        artifact._draft = None
        artifact._logged = LoggedState(session, place, str(doc["manifest_digest"]), doc=doc)
        return artifact

    def __repr__(self) -> str:
        if self._logged is None:
            return f"<Artifact {self._name} ({self._type}, draft)>"
        doc = self._logged.doc
        return f"<Artifact {self._name}:{doc['version'] if doc else '?'} ({self._type})>"

    # -- state -------------------------------------------------------------------------------

    def _editable(self) -> DraftContents:
        if self._draft is None:
            raise ArtifactFinalizedError(
                f"artifact {self._name!r} is logged and cannot change; call "
                "artifact.new_draft() to start a new version from it"
            )
        return self._draft

    def _require_logged(self) -> LoggedState:
        if self._logged is None:
            raise ArtifactNotLoggedError(
                f"artifact {self._name!r} is a draft: log it with run.log_artifact(artifact) "
                "or artifact.save() first"
            )
        return self._logged

    def _doc(self) -> dict[str, Any]:
        doc = self.wait()._require_logged().doc
        if doc is None:  # pragma: no cover - wait() sets it or raises
            raise ArtifactNotLoggedError(f"artifact {self._name!r} is not committed")
        return doc

    def is_draft(self) -> bool:
        """True until the artifact is logged."""
        return self._logged is None

    def wait(self, timeout: float | None = None) -> Self:
        """Block until the server has committed the logged artifact; returns it.

        Raises ``ArtifactRejectedError`` with the server's reason if it was refused, and
        ``WaitTimeoutError`` after ``timeout`` seconds.
        """
        logged = self._require_logged()
        if logged.doc is None and logged.submission_id is not None:
            logged.doc = remote.wait_committed(
                logged.session, logged.place, self._name, logged.submission_id, timeout
            )
        return self

    # -- properties --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The name; ``name:vN`` once logged, as in W&B."""
        return self._name if self._logged is None else f"{self._name}:{self.version}"

    @property
    def type(self) -> str:
        return self._type

    @property
    def version(self) -> str:
        """``vN``; waits for the commit of a just-logged artifact."""
        return str(self._doc()["version"])

    @property
    def qualified_name(self) -> str:
        """``entity/project/name:vN``."""
        place = self._require_logged().place
        return f"{place.entity}/{place.project}/{self._name}:{self.version}"

    @property
    def entity(self) -> str:
        return self._require_logged().place.entity

    @property
    def project(self) -> str:
        return self._require_logged().place.project

    @property
    def id(self) -> str | None:
        """The server's id of the version; None for a draft."""
        return None if self._logged is None else str(self._doc()["id"])

    @property
    def state(self) -> str:
        """``PENDING`` (draft, or logged and not yet known committed) or ``COMMITTED``."""
        return "COMMITTED" if self._logged is not None and self._logged.doc else "PENDING"

    @property
    def digest(self) -> str:
        """The SHA-256 of the canonical manifest: equal content, equal digest."""
        if self._logged is not None:
            return self._logged.manifest_digest
        return self._local_manifest().digest()

    @property
    def size(self) -> int:
        """Total bytes of the files (references included)."""
        if self._logged is not None and self._logged.doc is not None:
            return int(self._logged.doc["size"])
        return self._load_manifest().size

    @property
    def file_count(self) -> int:
        if self._logged is not None and self._logged.doc is not None:
            return int(self._logged.doc["file_count"])
        return len(self._load_manifest().entries)

    @property
    def created_at(self) -> str | None:
        return None if self._logged is None else self._doc().get("created_at")

    @property
    def aliases(self) -> list[str]:
        """The aliases: the list to apply (a draft's, editable), or those the version holds."""
        if self._logged is None:
            return self._aliases
        return list(self._doc().get("aliases") or [])

    @aliases.setter
    def aliases(self, aliases: Sequence[str]) -> None:
        self._editable()
        self._aliases = [check_alias(a) for a in aliases]

    @property
    def description(self) -> str:
        return self._description

    @description.setter
    def description(self, description: str | None) -> None:
        self._editable()
        self._description = description or ""

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata dict (a copy once logged: a logged artifact cannot change)."""
        return self._metadata if self._draft is not None else copy.deepcopy(self._metadata)

    @metadata.setter
    def metadata(self, metadata: dict[str, Any]) -> None:
        self._editable()
        self._metadata = check_metadata(metadata)

    def _local_manifest(self) -> Manifest:
        if self._manifest is None:  # pragma: no cover - only drafts call this
            raise ArtifactNotLoggedError("the manifest of a logged artifact is loaded on use")
        return self._manifest

    def _load_manifest(self) -> Manifest:
        if self._manifest is None:
            logged = self._require_logged()
            self._manifest = dl.fetch_manifest(
                logged.session, logged.place.entity, logged.manifest_digest
            )
        return self._manifest
