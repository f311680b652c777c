"""Registry paths: ``[entity/]model-registry/<name>`` and ``[entity/]wandb-registry-<r>/<name>``.

W&B names the legacy Model Registry as the project ``model-registry`` and each newer registry as
the project ``wandb-registry-<registry>``; both name a registry of the entity (``model-registry``
is the ``model`` registry). A copy of the rules of ``shared/cairn_shared/registry_paths.py``: the
SDK may not import the server's library. Keep in sync.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from cairn.names import ENTITY_NAME, VERSION_REF, check_alias, check_entity_name

LEGACY_MODEL_REGISTRY = "model-registry"
REGISTRY_PROJECT_PREFIX = "wandb-registry-"
MODEL_REGISTRY = "model"
REGISTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_COLLECTION_NAME = 128


def check_registry_name(name: str) -> str:
    if not REGISTRY_NAME.fullmatch(name):
        raise ValueError(
            f"invalid registry name {name!r}: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_collection_name(name: str) -> str:
    """A registered model's name: spaces are fine, ``/``, ``:`` and control characters not."""
    if not name or len(name) > MAX_COLLECTION_NAME:
        raise ValueError(
            f"invalid registered model name {name!r}: use 1-{MAX_COLLECTION_NAME} characters"
        )
    if "/" in name or ":" in name:
        raise ValueError(f"invalid registered model name {name!r}: it may not contain '/' or ':'")
    if name.strip() != name:
        raise ValueError(f"invalid registered model name {name!r}: no leading or trailing spaces")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValueError(f"invalid registered model name {name!r}: no control characters")
    return name


def registry_of_project(project: str) -> str | None:
    """The registry a W&B project name stands for, or None for an ordinary project."""
    if project == LEGACY_MODEL_REGISTRY:
        return MODEL_REGISTRY
    if project.startswith(REGISTRY_PROJECT_PREFIX):
        return check_registry_name(project[len(REGISTRY_PROJECT_PREFIX) :])
    return None


def registry_project(registry: str) -> str:
    """The W&B project name of a registry (``model`` is the legacy ``model-registry``)."""
    if registry == MODEL_REGISTRY:
        return LEGACY_MODEL_REGISTRY
    return REGISTRY_PROJECT_PREFIX + registry


@dataclass(frozen=True)
class CollectionRef:
    """A collection of a registry (a registered model), and optionally a version or alias."""

    entity: str | None
    registry: str
    collection: str
    ref: str = "latest"

    @property
    def project(self) -> str:
        return registry_project(self.registry)

    def path(self, entity: str | None = None) -> str:
        """``entity/model-registry/<name>`` (or ``wandb-registry-<r>/<name>``)."""
        owner = self.entity or entity
        return f"{owner + '/' if owner else ''}{self.project}/{self.collection}"

    def with_entity(self, entity: str) -> CollectionRef:
        return CollectionRef(self.entity or entity, self.registry, self.collection, self.ref)


def is_registry_path(text: str) -> bool:
    """Whether ``[entity/]<registry project>/<name>[:ref]`` names a registry collection."""
    parts = text.split("/")
    if len(parts) not in (2, 3):
        return False
    project = parts[-2]
    return project == LEGACY_MODEL_REGISTRY or project.startswith(REGISTRY_PROJECT_PREFIX)


def parse_collection_path(text: str, *, allow_ref: bool = True) -> CollectionRef:
    """``[entity/]model-registry/<name>[:alias|:vN]`` or ``[entity/]wandb-registry-<r>/<name>``.

    Raises ``ValueError`` with what a valid path looks like.
    """
    head, ref = text, "latest"
    if allow_ref and ":" in text:
        head, _, ref = text.rpartition(":")
        if not ref:
            raise ValueError(f"invalid registry path {text!r}: nothing after ':'")
        if not VERSION_REF.fullmatch(ref):
            check_alias(ref)
    parts = head.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(
            f"invalid registry path {text!r}: use 'model-registry/<name>' or "
            "'wandb-registry-<registry>/<name>', optionally preceded by 'entity/'"
        )
    entity = None
    if len(parts) == 3:
        if not ENTITY_NAME.fullmatch(parts[0]):
            raise ValueError(f"invalid registry path {text!r}: {parts[0]!r} is not an entity")
        entity = check_entity_name(parts[0])
    project, name = parts[-2], parts[-1]
    registry = registry_of_project(project)
    if registry is None:
        raise ValueError(
            f"invalid registry path {text!r}: {project!r} is not a registry; use "
            f"'{LEGACY_MODEL_REGISTRY}' or '{REGISTRY_PROJECT_PREFIX}<registry>'"
        )
    return CollectionRef(entity, registry, check_collection_name(name), ref)


def collection_ref(name: str, registry: str | None = None) -> CollectionRef:
    """A CLI or API argument: a registry path, or a bare name in ``registry`` (default model)."""
    if "/" in name:
        return parse_collection_path(name)
    head, sep, ref = name.rpartition(":")
    if not sep:
        head, ref = name, "latest"
    elif not VERSION_REF.fullmatch(ref):
        check_alias(ref)
    return CollectionRef(
        None, check_registry_name(registry or MODEL_REGISTRY), check_collection_name(head), ref
    )


def version_name(ref: str | int) -> str:
    """``3``, ``"3"`` or ``"v3"`` → ``"v3"``."""
    text = str(ref)
    if text.isdigit():
        return f"v{int(text)}"
    if not VERSION_REF.fullmatch(text):
        raise ValueError(f"invalid version {ref!r}: use a version such as v3")
    return text
