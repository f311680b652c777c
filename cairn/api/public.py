"""``cairn.Api``: W&B's public API for artifacts, outside of any run."""

from __future__ import annotations

import os
from typing import Any

from cairn.api.automations import AutomationsApiMixin
from cairn.api.registry import RegistryApiMixin
from cairn.api.runs import RunsApiMixin
from cairn.artifacts import remote
from cairn.artifacts.artifact import Artifact
from cairn.errors import NotFoundError
from cairn.names import ArtifactPath, check_entity_name, check_project_name
from cairn.registry.paths import is_registry_path
from cairn.session import Session
from cairn.settings import ClientConfig


class Api(RegistryApiMixin, AutomationsApiMixin, RunsApiMixin):
    """Read artifacts: ``cairn.Api().artifact("entity/project/name:alias")``.

    ``overrides`` may set ``entity``, ``project`` (the defaults for names that leave them out)
    and ``base_url``; ``api_key`` replaces ``CAIRN_API_KEY``.
    """

    def __init__(
        self,
        overrides: dict[str, str] | None = None,
        timeout: float | None = None,
        api_key: str | None = None,
    ) -> None:
        self._overrides = dict(overrides or {})
        config = ClientConfig.load(base_url=self._overrides.get("base_url"), api_key=api_key)
        self._session = Session(config, timeout_s=timeout)

    def close(self) -> None:
        """Release connections (artifacts read through this API reopen them when used)."""
        self._session.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def default_entity(self) -> str:
        entity = self._overrides.get("entity")
        return check_entity_name(entity) if entity else self._session.default_entity()

    @property
    def default_project(self) -> str:
        project = self._overrides.get("project") or os.environ.get("CAIRN_PROJECT")
        return check_project_name(project) if project else self._session.default_project()

    def _place(self, path: ArtifactPath) -> remote.Place:
        return remote.Place(
            path.entity or self.default_entity, path.project or self.default_project
        )

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """The version ``[[entity/]project/]name[:alias|:vN]`` (``latest`` by default), or a
        registry's ``[entity/]model-registry/<name>:alias`` (``wandb-registry-<r>/<name>``): the
        linked version, whose files are its source version's.

        Raises ``cairn.errors.NotFoundError`` when there is none, ``ValueError`` when its type
        is not ``type``.
        """
        if is_registry_path(name):
            return self._linked_artifact(name, type)
        path = ArtifactPath.parse(name)
        place = self._place(path)
        doc = remote.read_version(self._session, place, path.name, path.ref)
        artifact = Artifact._from_version(self._session, place, doc)
        if type is not None and artifact.type != type:
            raise ValueError(
                f"artifact {artifact.qualified_name} has type {artifact.type!r}, not {type!r}"
            )
        return artifact

    def artifact_versions(self, type_name: str, name: str) -> list[Artifact]:
        """Every version of the artifact ``[[entity/]project/]name``, oldest first."""
        path = ArtifactPath.parse(name)
        place = self._place(path)
        collection = remote.read_collection(self._session, place, path.name)
        if collection.get("type") != type_name:
            raise ValueError(
                f"artifact {path.name!r} has type {collection.get('type')!r}, not {type_name!r}"
            )
        docs = remote.list_versions(self._session, place, path.name)
        return [Artifact._from_version(self._session, place, doc) for doc in docs]

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        """Whether ``artifact(name, type)`` would find a version."""
        try:
            self.artifact(name, type)
        except (NotFoundError, ValueError):
            return False
        return True

    def artifact_collections(
        self, project: str, type_name: str | None = None, entity: str | None = None
    ) -> list[dict[str, Any]]:
        """The artifacts of a project: ``{name, type, version_count, aliases}`` each."""
        place = remote.Place(
            check_entity_name(entity) if entity else self.default_entity,
            check_project_name(project),
        )
        return remote.list_collections(self._session, place, type_name)
