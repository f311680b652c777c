"""Payload templates: JSON whose strings hold ``${variable}`` and ``${SECRET_NAME}`` references.

Substitution works on the parsed JSON values, never on the JSON text, so no value can break the
document: a string that is exactly one reference takes the variable's value with its JSON type
(``"${artifact_metadata.accuracy}"`` → ``0.93``); a reference inside longer text takes its text
form. Rendering is a single pass: a substituted value is never scanned again, so an alias or a
metadata value that reads ``${API_TOKEN}`` cannot pull a secret into the payload.
``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

REFERENCE = re.compile(r"\$(\$?)\{([^{}]*)\}")
SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
METADATA_PREFIX = "artifact_metadata."
MAX_TEMPLATE_BYTES = 64 * 1024

# The variables an event offers (docs/http-api.md lists what each holds).
VARIABLES = frozenset(
    {
        "event_type",
        "event_id",
        "event_time",
        "event_author",
        "entity_name",
        "project_name",
        "registry_name",
        "artifact_collection_name",
        "artifact_type",
        "artifact_version",
        "artifact_version_index",
        "artifact_version_string",
        "artifact_version_id",
        "source_artifact_version_string",
        "alias",
        "aliases",
        "artifact_metadata",
    }
)


class TemplateError(ValueError):
    """The template refers to something that does not exist, or is too large."""


class MissingSecretError(LookupError):
    """A referenced secret is not (or no longer) stored."""


@dataclass
class References:
    variables: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)

    @property
    def uses_metadata(self) -> bool:
        return any(
            v == "artifact_metadata" or v.startswith(METADATA_PREFIX) for v in self.variables
        )


def check_secret_name(name: str) -> str:
    if not SECRET_NAME.fullmatch(name):
        raise ValueError(
            f"invalid secret name {name!r}: use 1-64 upper-case letters, digits or '_', "
            "starting with a letter (it is referenced as ${NAME})"
        )
    return name


def references(template: JsonValue, *, secrets_only: bool = False) -> References:
    """Every reference in ``template``; ``TemplateError`` names the first unknown one."""
    if len(json.dumps(template)) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"the template is larger than {MAX_TEMPLATE_BYTES} bytes")
    found = References()
    for text in _strings(template):
        for match in REFERENCE.finditer(text):
            if match.group(1):
                continue  # $${...} is a literal
            _classify(match.group(2), found, secrets_only=secrets_only)
    return found


def render(
    template: JsonValue, variables: Mapping[str, Any], secrets: Mapping[str, str]
) -> JsonValue:
    """``template`` with every reference replaced; ``MissingSecretError`` if a secret is gone.

    A variable the event does not carry (``${alias}`` of a commit, an absent metadata key)
    renders as ``null`` alone and as empty text inside a string.
    """
    if isinstance(template, str):
        rendered: JsonValue = _render_string(template, variables, secrets)
        return rendered
    if isinstance(template, list):
        return [render(item, variables, secrets) for item in template]
    if isinstance(template, dict):
        return {key: render(value, variables, secrets) for key, value in template.items()}
    return template


def render_text(text: str, variables: Mapping[str, Any], secrets: Mapping[str, str]) -> str:
    """A template string rendered as text (for headers): every reference in its text form."""
    return REFERENCE.sub(lambda m: _text_of(m, variables, secrets), text)


def _render_string(text: str, variables: Mapping[str, Any], secrets: Mapping[str, str]) -> Any:
    whole = REFERENCE.fullmatch(text)
    if whole is not None and not whole.group(1):
        return _lookup(whole.group(2), variables, secrets)
    return render_text(text, variables, secrets)


def _text_of(match: re.Match[str], variables: Mapping[str, Any], secrets: Mapping[str, str]) -> str:
    if match.group(1):
        return "${" + match.group(2) + "}"
    value = _lookup(match.group(2), variables, secrets)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def _lookup(name: str, variables: Mapping[str, Any], secrets: Mapping[str, str]) -> Any:
    if SECRET_NAME.fullmatch(name):
        try:
            return secrets[name]
        except KeyError:
            raise MissingSecretError(f"secret {name!r} is not stored in this entity") from None
    if name.startswith(METADATA_PREFIX):
        metadata = variables.get("artifact_metadata")
        if not isinstance(metadata, Mapping):
            return None
        return metadata.get(name[len(METADATA_PREFIX) :])
    return variables.get(name)


def _classify(name: str, found: References, *, secrets_only: bool) -> None:
    if SECRET_NAME.fullmatch(name):
        found.secrets.add(name)
        return
    if secrets_only:
        raise TemplateError(f"${{{name}}}: only secrets (${{SECRET_NAME}}) may be used here")
    if name in VARIABLES or (name.startswith(METADATA_PREFIX) and len(name) > len(METADATA_PREFIX)):
        found.variables.add(name)
        return
    known = ", ".join(f"${{{v}}}" for v in sorted(VARIABLES))
    raise TemplateError(
        f"unknown variable ${{{name}}}: use one of {known}, ${{artifact_metadata.KEY}}, "
        "or ${SECRET_NAME} for a stored secret (upper-case)"
    )


def _strings(value: JsonValue) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []
