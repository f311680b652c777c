"""The registry routes of the server (``docs/http-api.md``, section registry): links, commands,
registries, collections, linked versions, aliases and history."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from cairn.errors import CommError, WaitTimeoutError
from cairn.http import segment
from cairn.registry.paths import CollectionRef
from cairn.session import Session

PAGE = 100
COMMAND_WAIT_SECONDS = 300.0


class RegistryRejectedError(CommError):
    """The registry refused a change (``code``: ``type_not_accepted``, ``alias_protected``...)."""


def entity_url(entity: str) -> str:
    return f"/registry/v1/entities/{segment(entity)}"


def registry_url(entity: str, registry: str) -> str:
    return f"{entity_url(entity)}/registries/{segment(registry)}"


def collection_url(ref: CollectionRef) -> str:
    if ref.entity is None:  # pragma: no cover - callers resolve the entity first
        raise ValueError("a collection needs an entity")
    return f"{registry_url(ref.entity, ref.registry)}/collections/{segment(ref.collection)}"


def _query(**params: Any) -> str:
    kept = {k: v for k, v in params.items() if v is not None}
    return f"?{urlencode(kept)}" if kept else ""


def filter_text(spec: Mapping[str, Any] | str | None) -> str | None:
    """W&B's filter dict as the JSON the server takes (a string is sent as it is)."""
    if spec is None or isinstance(spec, str):
        return spec
    return json.dumps(spec, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return time_text(value)
    raise TypeError(f"cannot put {type(value).__name__} in a registry filter")


def time_text(value: datetime | str) -> str:
    """ISO 8601; a naive datetime is UTC, as the server reads it."""
    if isinstance(value, str):
        return value
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


# -- links and commands ------------------------------------------------------------------------


def request_link(session: Session, entity: str, body: dict[str, Any]) -> str:
    """``POST /ingest/v1/entities/{entity}/links``; returns the command id to poll."""
    answer = session.api.post(f"/ingest/v1/entities/{segment(entity)}/links", body)
    return str(answer["command_id"])


def get_command(session: Session, entity: str, command_id: str) -> dict[str, Any]:
    return dict(session.api.get(f"{entity_url(entity)}/commands/{segment(command_id)}"))


def wait_command(
    session: Session,
    entity: str,
    command_id: str,
    *,
    what: str,
    timeout: float | None = COMMAND_WAIT_SECONDS,
    still_pending: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Poll a registry command until it is done; returns its result.

    A rejection raises ``RegistryRejectedError`` with the registry's reason. ``still_pending``
    runs between polls (it may raise: a link's artifact that the server refused, say).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.1
    while True:
        result = get_command(session, entity, command_id)
        status = result.get("status")
        if status == "done":
            return result
        if status == "rejected":
            code = str(result.get("code") or "rejected")
            reason = result.get("reason") or "no reason given"
            raise RegistryRejectedError(
                f"the registry refused to {what}: {reason}",
                code=code,
                details={"command_id": command_id},
            )
        if still_pending is not None:
            still_pending()
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeoutError(
                f"the registry has not finished ({what}) after {timeout:.0f}s; its command "
                f"{command_id} is still pending (is the registry service running?)"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)


def _changed(session: Session, entity: str, answer: Any, what: str) -> dict[str, Any]:
    """A change route answers 200 when applied, 202 while pending: then wait for it."""
    result = dict(answer or {})
    if result.get("status") == "pending" and result.get("command_id"):
        return wait_command(session, entity, str(result["command_id"]), what=what)
    return result


# -- registries --------------------------------------------------------------------------------


def list_registries(session: Session, entity: str) -> list[dict[str, Any]]:
    return list(session.api.get(f"{entity_url(entity)}/registries")["registries"])


def get_registry(session: Session, entity: str, registry: str) -> dict[str, Any]:
    return dict(session.api.get(registry_url(entity, registry)))


def create_registry(session: Session, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    return dict(session.api.post(f"{entity_url(entity)}/registries", body))


def patch_registry(
    session: Session, entity: str, registry: str, body: dict[str, Any]
) -> dict[str, Any]:
    return dict(session.api.request("PATCH", registry_url(entity, registry), json=body))


# -- collections and linked versions -------------------------------------------------------------


def _pages(session: Session, url: str, key: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
    after: str | None = None
    while True:
        page = session.api.get(url + _query(**query, limit=PAGE, after=after))
        yield from page.get(key, [])
        cursor = page.get("next")
        if cursor is None or cursor == "":
            return
        after = str(cursor)


def iter_collections(
    session: Session, entity: str, registry: str, spec: Mapping[str, Any] | str | None = None
) -> Iterator[dict[str, Any]]:
    url = f"{registry_url(entity, registry)}/collections"
    return _pages(session, url, "collections", {"filter": filter_text(spec)})


def get_collection(session: Session, ref: CollectionRef) -> dict[str, Any]:
    return dict(session.api.get(collection_url(ref)))


def patch_collection(session: Session, ref: CollectionRef, body: dict[str, Any]) -> dict[str, Any]:
    answer = session.api.request("PATCH", collection_url(ref), json=body)
    return _changed(session, str(ref.entity), answer, f"update {ref.collection!r}")


def iter_versions(
    session: Session, ref: CollectionRef, spec: Mapping[str, Any] | str | None = None
) -> Iterator[dict[str, Any]]:
    url = f"{collection_url(ref)}/versions"
    return _pages(session, url, "versions", {"filter": filter_text(spec)})


def get_version(session: Session, ref: CollectionRef, version: str) -> dict[str, Any]:
    return dict(session.api.get(f"{collection_url(ref)}/versions/{segment(version)}"))


def unlink(session: Session, ref: CollectionRef, version: str) -> dict[str, Any]:
    answer = session.api.request("DELETE", f"{collection_url(ref)}/versions/{segment(version)}")
    return _changed(session, str(ref.entity), answer, f"unlink {version}")


def put_alias(session: Session, ref: CollectionRef, alias: str, version: str) -> dict[str, Any]:
    url = f"{collection_url(ref)}/aliases/{segment(alias)}"
    answer = session.api.request("PUT", url, json={"version": version})
    return _changed(session, str(ref.entity), answer, f"move {alias!r} to {version}")


def delete_alias(session: Session, ref: CollectionRef, alias: str) -> dict[str, Any]:
    answer = session.api.request("DELETE", f"{collection_url(ref)}/aliases/{segment(alias)}")
    return _changed(session, str(ref.entity), answer, f"remove {alias!r}")


def iter_history(
    session: Session, ref: CollectionRef, alias: str | None = None
) -> Iterator[dict[str, Any]]:
    return _pages(session, f"{collection_url(ref)}/history", "entries", {"alias": alias})


def alias_holder_at(
    session: Session, ref: CollectionRef, alias: str, at: datetime | str
) -> str | None:
    """The version (``vN``) that held ``alias`` at ``at``, or None if none did."""
    url = f"{collection_url(ref)}/history" + _query(alias=alias, at=time_text(at))
    version = session.api.get(url).get("version")
    return None if version is None else str(version)
