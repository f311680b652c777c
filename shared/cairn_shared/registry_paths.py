"""Names in the registry and the target paths that name a collection.

Ingest parses the ``target`` of a link request and registry checks its own paths with these
same rules.

A collection is addressed as ``entity/registry/collection``: that string is its id, its Kafka
key and the prefix of its documents' ids, so neither a registry nor a collection name may hold
``/`` (the separator) or ``:`` (``name:alias`` and ``<id>:vN`` use it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from cairn_shared.names import ENTITY_NAME

# W&B's legacy Model Registry is the project ``model-registry``; the newer registries are the
# projects ``wandb-registry-<registry>``. Both name a registry of the entity.
LEGACY_MODEL_REGISTRY = "model-registry"
REGISTRY_PROJECT_PREFIX = "wandb-registry-"
MODEL_REGISTRY = "model"

REGISTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_COLLECTION_NAME = 128
MAX_TAG = 128


@dataclass(frozen=True)
class Target:
    """A collection of a registry; ``entity`` is None when the path did not name one."""

    entity: str | None
    registry: str
    collection: str

    def collection_id(self, default_entity: str) -> str:
        return collection_id(self.entity or default_entity, self.registry, self.collection)


def check_registry_name(name: str) -> str:
    if not REGISTRY_NAME.fullmatch(name):
        raise ValueError(
            f"invalid registry name {name!r}: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_collection_name(name: str) -> str:
    """Spaces are allowed ("Quickstart Model Registry"); separators and control characters not."""
    if not name or len(name) > MAX_COLLECTION_NAME:
        raise ValueError(
            f"invalid collection name {name!r}: use 1-{MAX_COLLECTION_NAME} characters"
        )
    if "/" in name or ":" in name:
        raise ValueError(
            f"invalid collection name {name!r}: it may not contain '/' or ':' "
            "(pass a registered model name, not a path)"
        )
    if name.strip() != name:
        raise ValueError(f"invalid collection name {name!r}: no leading or trailing spaces")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValueError(f"invalid collection name {name!r}: no control characters")
    return name


def check_tag(tag: str) -> str:
    if not tag or len(tag) > MAX_TAG or tag.strip() != tag:
        raise ValueError(f"invalid tag {tag!r}: use 1-{MAX_TAG} characters, no outer spaces")
    if any(unicodedata.category(ch).startswith("C") for ch in tag):
        raise ValueError(f"invalid tag {tag!r}: no control characters")
    return tag


def registry_of_project(project: str) -> str | None:
    """The registry a W&B project name stands for, or None if it is an ordinary project."""
    if project == LEGACY_MODEL_REGISTRY:
        return MODEL_REGISTRY
    if project.startswith(REGISTRY_PROJECT_PREFIX):
        return check_registry_name(project[len(REGISTRY_PROJECT_PREFIX) :])
    return None


def parse_target(target: str) -> Target:
    """``[entity/]model-registry/<name>`` or ``[entity/]wandb-registry-<registry>/<name>``.

    Raises ValueError with a message fit for a 400 answer.
    """
    parts = target.split("/")
    if len(parts) == 2:
        entity, (project, name) = None, parts
    elif len(parts) == 3:
        entity, project, name = parts
        if not ENTITY_NAME.fullmatch(entity):
            raise ValueError(f"invalid target {target!r}: {entity!r} is not an entity name")
    else:
        raise ValueError(
            f"invalid target {target!r}: use 'model-registry/<name>' or "
            "'wandb-registry-<registry>/<name>', optionally preceded by 'entity/'"
        )
    try:
        registry = registry_of_project(project)
    except ValueError as exc:
        raise ValueError(f"invalid target {target!r}: {exc}") from None
    if registry is None:
        raise ValueError(
            f"invalid target {target!r}: {project!r} is not a registry; use "
            f"'{LEGACY_MODEL_REGISTRY}' or '{REGISTRY_PROJECT_PREFIX}<registry>'"
        )
    try:
        check_collection_name(name)
    except ValueError as exc:
        raise ValueError(f"invalid target {target!r}: {exc}") from None
    return Target(entity, registry, name)


def collection_id(entity: str, registry: str, collection: str) -> str:
    """The aggregate id: the Kafka key of every command and event about the collection."""
    return f"{entity}/{registry}/{collection}"


def split_collection_id(value: str) -> tuple[str, str, str]:
    """The inverse of ``collection_id``, checking every part."""
    parts = value.split("/")
    if len(parts) != 3:
        raise ValueError(f"invalid collection id {value!r}: use 'entity/registry/collection'")
    entity, registry, collection = parts
    if not ENTITY_NAME.fullmatch(entity):
        raise ValueError(f"invalid collection id {value!r}: bad entity {entity!r}")
    return entity, check_registry_name(registry), check_collection_name(collection)


def version_name(link_index: int) -> str:
    return f"v{link_index}"


VERSION_REF = re.compile(r"^v(0|[1-9][0-9]{0,9})$")


def parse_version(ref: str) -> int | None:
    """The link index of ``vN``, or None when ``ref`` is not of that form (an alias, maybe)."""
    match = VERSION_REF.fullmatch(ref)
    return int(match.group(1)) if match else None
