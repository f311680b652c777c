"""Registries, W&B's ``Registry`` and ``Registries``: ``api.registry("model")`` and
``api.registries(filter=...)``, and their collections and versions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from cairn.registry import remote
from cairn.registry.collection import RegistryCollection
from cairn.registry.filters import matches
from cairn.registry.linked import LinkedArtifact
from cairn.registry.paths import CollectionRef, check_collection_name, registry_project
from cairn.session import Session

Filter = Mapping[str, Any] | None


class Registry:
    """A registry of an entity: ``model`` (the Model Registry) and ``dataset`` always exist.

    ``description``, ``artifact_types`` and ``protected_aliases`` may be changed, then
    ``save()``d (an admin of the entity may).
    """

    def __init__(self, session: Session, entity: str, doc: Mapping[str, Any]) -> None:
        self._session = session
        self._entity = entity
        self._set(doc)

    def _set(self, doc: Mapping[str, Any]) -> None:
        self._attrs = dict(doc)
        self.description: str = str(doc.get("description") or "")
        self.artifact_types: list[str] = list(doc.get("artifact_types") or [])
        self.protected_aliases: list[str] = list(doc.get("protected_aliases") or [])

    def __repr__(self) -> str:
        return f"<Registry {self._entity}/{self.full_name}>"

    @property
    def name(self) -> str:
        """The name without the ``wandb-registry-`` prefix (``model``, ``dataset``...)."""
        return str(self._attrs["name"])

    @property
    def full_name(self) -> str:
        """``wandb-registry-<name>`` (``model-registry`` for the legacy Model Registry)."""
        return registry_project(self.name)

    @property
    def entity(self) -> str:
        return self._entity

    @property
    def organization(self) -> str:
        """The entity: Cairn has no organizations above entities."""
        return self._entity

    @property
    def path(self) -> list[str]:
        return [self._entity, self.full_name]

    @property
    def created_at(self) -> str | None:
        return self._attrs.get("created_at")

    @property
    def updated_at(self) -> str | None:
        return self._attrs.get("updated_at")

    def collections(self, filter: Filter = None) -> Iterator[RegistryCollection]:
        """The registry's collections, by name; ``filter`` is W&B's Mongo-like dict over
        ``name``, ``description``, ``tag``, ``created_at``, ``updated_at``."""
        for doc in remote.iter_collections(self._session, self._entity, self.name, filter):
            ref = CollectionRef(self._entity, self.name, str(doc["name"]))
            yield RegistryCollection(self._session, ref, doc)

    def collection(self, name: str) -> RegistryCollection:
        """One collection (registered model) by name."""
        ref = CollectionRef(self._entity, self.name, check_collection_name(name))
        return RegistryCollection(self._session, ref, remote.get_collection(self._session, ref))

    def versions(self, filter: Filter = None) -> Iterator[LinkedArtifact]:
        """The linked versions of every collection; ``filter`` as ``collection.versions``."""
        for collection in self.collections():
            yield from collection.versions(filter)

    def load(self) -> Registry:
        self._set(remote.get_registry(self._session, self._entity, self.name))
        return self

    def save(self) -> None:
        """Store changes to ``description``, ``artifact_types`` and ``protected_aliases``."""
        changes: dict[str, Any] = {}
        for key in ("description", "artifact_types", "protected_aliases"):
            value = getattr(self, key)
            if value != (self._attrs.get(key) or ("" if key == "description" else [])):
                changes[key] = value
        if changes:
            self._set(remote.patch_registry(self._session, self._entity, self.name, changes))


class Registries:
    """The registries matching a filter: iterate, or search their collections and versions."""

    def __init__(self, registries: Iterable[Registry]) -> None:
        self._items = list(registries)
        self._iter = iter(self._items)

    @classmethod
    def find(cls, session: Session, entity: str, filter: Filter = None) -> Registries:
        docs = remote.list_registries(session, entity)
        return cls(Registry(session, entity, d) for d in docs if matches(_searchable(d), filter))

    def __iter__(self) -> Iterator[Registry]:
        return iter(self._items)

    def __next__(self) -> Registry:
        return next(self._iter)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Registry:
        return self._items[index]

    def collections(self, filter: Filter = None) -> Iterator[RegistryCollection]:
        """The matching collections of every registry."""
        for registry in self._items:
            yield from registry.collections(filter)

    def versions(self, filter: Filter = None) -> Iterator[LinkedArtifact]:
        """The matching linked versions of every collection of every registry."""
        for registry in self._items:
            yield from registry.versions(filter)


def _searchable(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a registry filter may name: W&B's ``name`` is the name without the prefix."""
    return {
        "name": doc.get("name"),
        "full_name": registry_project(str(doc.get("name"))),
        "description": doc.get("description", ""),
        "artifact_types": list(doc.get("artifact_types") or []),
        "created_at": doc.get("created_at"),
        "updated_at": doc.get("updated_at"),
    }
