"""Registries: named sets of collections, the artifact types they accept, protected aliases."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from fnmatch import fnmatchcase

from cairn_shared.names import check_alias

LATEST = "latest"
DEFAULT_PROTECTED = ("production",)
MAX_PATTERNS = 32
MAX_PROTECTED = 64
MAX_DESCRIPTION = 65_536

# Every entity has these two, created on first use. W&B: "a registered model accepts only
# artifact types containing model"; the dataset registry mirrors it.
DEFAULT_TYPES: dict[str, tuple[str, ...]] = {
    "model": ("*model*",),
    "dataset": ("*dataset*",),
}


@dataclass(frozen=True)
class RegistrySettings:
    entity: str
    name: str
    artifact_types: tuple[str, ...]
    protected_aliases: tuple[str, ...] = DEFAULT_PROTECTED
    description: str = ""
    revision: int = 0
    created_at: datetime | None = None
    created_by: str = ""
    updated_at: datetime | None = None
    updated_by: str = ""

    def accepts(self, artifact_type: str) -> bool:
        # Case-sensitive, as the artifact type is: "Model" is not "model".
        return any(fnmatchcase(artifact_type, pattern) for pattern in self.artifact_types)

    def is_protected(self, alias: str) -> bool:
        return alias in self.protected_aliases

    def patched(
        self,
        *,
        description: str | None,
        artifact_types: tuple[str, ...] | None,
        protected_aliases: tuple[str, ...] | None,
        at: datetime,
        by: str,
    ) -> RegistrySettings:
        """The next revision: what is None stays as it is."""
        return replace(
            self,
            description=self.description if description is None else description,
            artifact_types=self.artifact_types if artifact_types is None else artifact_types,
            protected_aliases=(
                self.protected_aliases if protected_aliases is None else protected_aliases
            ),
            revision=self.revision + 1,
            updated_at=at,
            updated_by=by,
        )


def default_registry(entity: str, name: str, *, at: datetime) -> RegistrySettings | None:
    """``model`` and ``dataset`` exist in every entity; None for any other name."""
    types = DEFAULT_TYPES.get(name)
    if types is None:
        return None
    return RegistrySettings(
        entity=entity,
        name=name,
        artifact_types=types,
        description=f"The {name} registry",
        created_at=at,
        created_by="",
        updated_at=at,
    )


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """Glob patterns of accepted artifact types (``*model*``, ``dataset``, ``[a-z]*``)."""
    checked: list[str] = []
    for pattern in patterns:
        if not pattern or len(pattern) > 128 or "/" in pattern or ":" in pattern:
            raise ValueError(
                f"invalid artifact type pattern {pattern!r}: use 1-128 characters, no '/' or ':'"
            )
        if pattern not in checked:
            checked.append(pattern)
    if not checked:
        raise ValueError("artifact_types may not be empty: a registry must accept some type")
    if len(checked) > MAX_PATTERNS:
        raise ValueError(f"at most {MAX_PATTERNS} artifact type patterns")
    return tuple(checked)


def check_protected(aliases: Iterable[str]) -> tuple[str, ...]:
    checked: list[str] = []
    for alias in aliases:
        check_alias(alias)
        if alias == LATEST:
            # latest moves by itself on every link: protecting it would let no member link.
            raise ValueError("'latest' cannot be protected: it moves by itself on every link")
        if alias not in checked:
            checked.append(alias)
    if len(checked) > MAX_PROTECTED:
        raise ValueError(f"at most {MAX_PROTECTED} protected aliases")
    return tuple(checked)


def check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise ValueError(f"description is longer than {MAX_DESCRIPTION} characters")
    return description
