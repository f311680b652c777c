"""Rules for the names users choose, checked at the edge of every service."""

from __future__ import annotations

import re

ENTITY_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PROJECT_NAME = re.compile(r"^[A-Za-z0-9_\-. ]{1,128}$")


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


ARTIFACT_NAME = re.compile(r"^[a-zA-Z0-9_\-.]+$")
MAX_NAME_LENGTH = 128
MAX_METADATA_KEYS = 100
VERSION_REF = re.compile(r"^v(\d+)$")


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
