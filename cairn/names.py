"""Rules for names, aliases and paths, checked before anything is sent.

A copy of the server's rules in ``shared/cairn_shared/names.py`` (and the run id rule of
``services/ingest/cairn_ingest/domain/runs.py``): the SDK may not import the server's library,
and checking here turns a round trip and a 400 into an immediate ``ValueError``. Keep in sync.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENTITY_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PROJECT_NAME = re.compile(r"^[A-Za-z0-9_\-. ]{1,128}$")
ARTIFACT_NAME = re.compile(r"^[a-zA-Z0-9_\-.]+$")
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
VERSION_REF = re.compile(r"^v(\d+)$")
MAX_NAME_LENGTH = 128
MAX_METADATA_KEYS = 100


def check_entity_name(name: str) -> str:
    if not ENTITY_NAME.fullmatch(name):
        raise ValueError(
            f"invalid entity name {name!r}: use 1-64 lower-case letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_project_name(name: str) -> str:
    if not PROJECT_NAME.fullmatch(name) or name.strip() != name:
        raise ValueError(
            f"invalid project name {name!r}: use 1-128 letters, digits, spaces, '_', '-' or '.', "
            "with no leading or trailing space"
        )
    return name


def check_run_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise ValueError(f"invalid run id {run_id!r}: use 1-64 letters, digits, '_' or '-'")
    return run_id


def check_artifact_name(name: str) -> str:
    if not name or len(name) > MAX_NAME_LENGTH or not ARTIFACT_NAME.fullmatch(name):
        raise ValueError(
            f"invalid artifact name {name!r}: use at most {MAX_NAME_LENGTH} letters, digits, "
            "'-', '_' or '.'"
        )
    return name


def check_artifact_type(artifact_type: str) -> str:
    if not artifact_type or len(artifact_type) > MAX_NAME_LENGTH:
        raise ValueError(f"invalid artifact type {artifact_type!r}: use 1-128 characters")
    if "/" in artifact_type or ":" in artifact_type:
        raise ValueError(f"invalid artifact type {artifact_type!r}: it may not contain '/' or ':'")
    return artifact_type


def check_alias(alias: str) -> str:
    if not alias or len(alias) > MAX_NAME_LENGTH:
        raise ValueError(f"invalid alias {alias!r}: use 1-128 characters")
    if "/" in alias or ":" in alias:
        raise ValueError(f"invalid alias {alias!r}: aliases may not contain '/' or ':'")
    if VERSION_REF.fullmatch(alias):
        raise ValueError(f"invalid alias {alias!r}: it would shadow the version {alias}")
    return alias


def check_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    if len(metadata) > MAX_METADATA_KEYS:
        raise ValueError(
            f"artifact metadata has {len(metadata)} keys: at most {MAX_METADATA_KEYS} are allowed"
        )
    if not all(isinstance(key, str) for key in metadata):
        raise ValueError("artifact metadata keys must be strings")
    return dict(metadata)


def check_entry_path(path: str) -> str:
    """A path inside an artifact: relative, POSIX, and never escaping the download root."""
    parts = path.split("/")
    if (
        not path
        or len(path) > 1024
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in {"", ".", ".."} for part in parts)
        or (len(parts[0]) == 2 and parts[0][1] == ":")  # a Windows drive
    ):
        raise ValueError(
            f"invalid entry path {path!r}: use a relative path with '/' separators and no "
            "'.', '..' or empty segments"
        )
    return path


@dataclass(frozen=True)
class ArtifactPath:
    """``[[entity/]project/]name[:alias|:vN]``, parsed; ``ref`` defaults to ``latest``."""

    name: str
    ref: str = "latest"
    project: str | None = None
    entity: str | None = None

    @classmethod
    def parse(cls, text: str) -> ArtifactPath:
        head, sep, ref = text.rpartition(":")
        if not sep or "/" in ref:
            head, ref = text, "latest"
        if not ref:
            raise ValueError(f"invalid artifact path {text!r}: nothing after ':'")
        parts = head.split("/")
        if len(parts) > 3:
            raise ValueError(
                f"invalid artifact path {text!r}: use [[entity/]project/]name[:alias or :vN]"
            )
        name = check_artifact_name(parts[-1])
        project = check_project_name(parts[-2]) if len(parts) >= 2 else None
        entity = check_entity_name(parts[0]) if len(parts) == 3 else None
        if not VERSION_REF.fullmatch(ref):
            check_alias(ref)
        return cls(name=name, ref=ref, project=project, entity=entity)
