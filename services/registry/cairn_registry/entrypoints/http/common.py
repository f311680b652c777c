"""What the registry routes share: path and query parameters, paging, and commands.

A route that changes a collection publishes a command keyed by the collection and waits for the
collection's owner to write its result; the route itself writes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.events.envelope import Envelope, EventData
from cairn_shared.http.errors import ApiError, bad_request, not_found
from cairn_shared.http.keys import PUBLISHER, principal
from cairn_shared.http.requests import cause, path_param
from cairn_shared.ids import new_id
from cairn_shared.mongo import Document
from cairn_shared.registry_paths import check_collection_name, check_registry_name

from cairn_registry.domain.filters import Fields, FilterError, Predicate, parse_filter
from cairn_registry.domain.plans import SOURCE
from cairn_registry.domain.registries import RegistrySettings
from cairn_registry.entrypoints.http.app_keys import READS, REGISTRIES, WAITER

ENTITY_URL = "/v1/entities/{entity}"
REGISTRY_URL = ENTITY_URL + "/registries/{registry}"
COLLECTION_URL = REGISTRY_URL + "/collections/{collection}"

WAIT_S = 10.0
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# A filter that matches little must not read a whole registry in one request: the page ends
# early (with ``next``) after this many documents were looked at.
MAX_SCAN = 5000

# A rejected command's code → the HTTP status it answers with.
REJECTION_STATUS = {
    "invalid": 400,
    "alias_protected": 403,
    "registry_not_found": 404,
    "collection_not_found": 404,
    "version_not_found": 404,
    "type_not_accepted": 409,
}


def registry_param(request: web.Request) -> str:
    return path_param(request, "registry", check_registry_name)


def collection_param(request: web.Request) -> str:
    return path_param(request, "collection", check_collection_name)


async def registry_or_404(request: web.Request, entity: str, name: str) -> RegistrySettings:
    registry = await request.app[REGISTRIES].get(entity, name)
    if registry is None:
        raise not_found(f"entity {entity!r} has no registry {name!r}")
    return registry


async def collection_or_404(request: web.Request, collection_id: str) -> Document:
    doc = await request.app[READS].collection(collection_id)
    if doc is None:
        raise ApiError(404, "collection_not_found", f"no collection {collection_id!r}")
    return doc


def is_admin(request: web.Request, entity: str) -> bool:
    role = principal(request).role_in(entity)
    return role is not None and role >= Role.ADMIN


def limit_param(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad_request(f"limit must be an integer from 1 to {MAX_LIMIT}", limit=raw)
    return int(raw)


def filter_param(request: web.Request, fields: Fields) -> Predicate:
    try:
        return parse_filter(request.query.get("filter", ""), fields)
    except FilterError as exc:
        raise ApiError(400, "invalid_filter", str(exc)) from None


async def page(
    docs: AsyncGenerator[Document, None],
    *,
    matches: Callable[[Document], bool],
    limit: int,
    cursor: Callable[[Document], str],
) -> tuple[list[Document], str | None]:
    """Up to ``limit`` matching documents and the cursor of the next page (None at the end)."""
    found: list[Document] = []
    scanned = 0
    last: Document | None = None
    async with contextlib.aclosing(docs):
        async for doc in docs:
            scanned += 1
            last = doc
            if matches(doc):
                found.append(doc)
            if len(found) >= limit or scanned >= MAX_SCAN:
                return found, cursor(last)
    return found, None


async def submit(
    request: web.Request, *, entity: str, collection_id: str, command: EventData
) -> web.Response:
    """Publish ``command`` keyed by the collection and answer with its result: 200 when done,
    the rejection as an error, 202 with the command id if it is still pending after 10 s."""
    envelope = Envelope.wrap(
        command,
        id=new_id(),
        source=SOURCE,
        subject=collection_id,
        cause=cause(request),
        entity=entity,
    )
    await request.app[PUBLISHER].publish(envelope, key=collection_id)
    result = await request.app[WAITER].wait(envelope.id, WAIT_S)
    body: dict[str, Any] = {"command_id": envelope.id, "collection_id": collection_id, **result}
    if result["status"] == "pending":
        return web.json_response(body, status=202)
    if result["status"] == "rejected":
        raise rejection_error(envelope.id, result)
    return web.json_response(body)


def rejection_error(command_id: str, result: Mapping[str, Any]) -> ApiError:
    code = str(result.get("code", "rejected"))
    return ApiError(
        REJECTION_STATUS.get(code, 409),
        code,
        str(result.get("reason", "the command was rejected")),
        details={"command_id": command_id},
    )
