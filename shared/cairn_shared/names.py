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
