"""``cairn.Api``'s registry methods, W&B-shaped: ``registries``, ``registry``,
``create_registry``, ``artifact_collection``, and registry paths in ``artifact``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cairn.api.base import ApiMixinBase
from cairn.artifacts import remote as artifacts_remote
from cairn.names import ArtifactPath, check_project_name
from cairn.registry import remote
from cairn.registry.collection import ArtifactCollection, RegistryCollection
from cairn.registry.linked import LinkedArtifact
from cairn.registry.objects import Registries, Registry
from cairn.registry.paths import check_registry_name, is_registry_path, parse_collection_path


class RegistryApiMixin(ApiMixinBase):
    """Registries, their collections (registered models) and linked versions."""

    def registries(
        self,
        organization: str | None = None,
        filter: Mapping[str, Any] | None = None,
        *,
        entity: str | None = None,
    ) -> Registries:
        """The entity's registries matching ``filter`` (W&B's Mongo-like dict over ``name``,
        ``description``, ``created_at``, ``updated_at``); ``.collections(filter)`` and
        ``.versions(filter)`` search inside them. ``organization`` is the entity."""
        return Registries.find(self._session, self._entity(entity or organization), filter)

    def registry(
        self, name: str, organization: str | None = None, *, entity: str | None = None
    ) -> Registry:
        """The registry ``name`` (``model``, ``dataset``...; a ``wandb-registry-`` prefix is
        accepted). Raises ``cairn.errors.NotFoundError`` when there is none."""
        short = name.removeprefix("wandb-registry-")
        owner = self._entity(entity or organization)
        doc = remote.get_registry(self._session, owner, check_registry_name(short))
        return Registry(self._session, owner, doc)

    def create_registry(
        self,
        name: str,
        visibility: str = "organization",
        organization: str | None = None,
        description: str | None = None,
        artifact_types: Sequence[str] | None = None,
        *,
        entity: str | None = None,
        protected_aliases: Sequence[str] | None = None,
    ) -> Registry:
        """Create a registry (an admin of the entity may). ``artifact_types`` are glob patterns
        (``["*model*"]``; default: any type); ``visibility`` is accepted for W&B and ignored."""
        del visibility  # an entity's members see its registries
        owner = self._entity(entity or organization)
        body: dict[str, Any] = {
            "name": check_registry_name(name.removeprefix("wandb-registry-")),
            "artifact_types": list(artifact_types or ["*"]),
            "description": description or "",
        }
        if protected_aliases is not None:
            body["protected_aliases"] = list(protected_aliases)
        return Registry(self._session, owner, remote.create_registry(self._session, owner, body))

    def artifact_collection(
        self, type_name: str, name: str
    ) -> RegistryCollection | ArtifactCollection:
        """A collection: ``[entity/]model-registry/<name>`` or
        ``[entity/]wandb-registry-<registry>/<name>`` (a registered model, its versions linked),
        or ``[[entity/]project/]name`` (an artifact of a project, of type ``type_name``)."""
        if is_registry_path(name):
            ref = parse_collection_path(name, allow_ref=False).with_entity(self._entity(None))
            doc = remote.get_collection(self._session, ref)
            return RegistryCollection(self._session, ref, doc)
        path = ArtifactPath.parse(name)
        place = artifacts_remote.Place(
            self._entity(path.entity),
            check_project_name(path.project) if path.project else self.default_project,
        )
        doc = artifacts_remote.read_collection(self._session, place, path.name)
        if doc.get("type") != type_name:
            raise ValueError(
                f"artifact {path.name!r} has type {doc.get('type')!r}, not {type_name!r}"
            )
        return ArtifactCollection(self._session, place, doc)

    def _linked_artifact(self, name: str, type: str | None) -> LinkedArtifact:
        """``artifact("[entity/]model-registry/<name>:alias")``: the linked version, whose
        files are its source version's."""
        ref = parse_collection_path(name).with_entity(self._entity(None))
        link = remote.get_version(self._session, ref, ref.ref)
        artifact = LinkedArtifact._from_link(self._session, ref, link)
        if type is not None and artifact.type != type:
            raise ValueError(
                f"artifact {artifact.qualified_name} has type {artifact.type!r}, not {type!r}"
            )
        return artifact
