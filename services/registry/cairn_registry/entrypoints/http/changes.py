"""Changing a collection: tags and description, unlinking, moving and removing aliases.

Each route checks the role and the names at the edge, then publishes a command keyed by the
collection and waits for its result (``common.submit``); the collection's owner checks the rest
against the state it applies the command to, and its rejection answers as a 403 or 404. Most
routes also read the collection first, to refuse at once (and publish nothing) what the owner
would refuse. Moving an alias does not: it drives deployments, so its latency counts, and the
owner's checks are the same (registry, collection, active version, protected alias).
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.events.registry import (
    ModelAliasChangeRequested,
    ModelCollectionUpdateRequested,
    ModelUnlinkRequested,
)
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import ApiError, bad_request, not_found
from cairn_shared.http.requests import entity_param, read_json
from cairn_shared.mongo import Document
from cairn_shared.names import check_alias
from cairn_shared.registry_paths import collection_id, parse_version
from pydantic import BaseModel, ConfigDict

from cairn_registry.adapters.collections import command_result
from cairn_registry.domain.commands import check_tags
from cairn_registry.domain.plans import head_aliases
from cairn_registry.domain.registries import LATEST, RegistrySettings, check_description
from cairn_registry.entrypoints.http.app_keys import READS
from cairn_registry.entrypoints.http.common import (
    COLLECTION_URL,
    ENTITY_URL,
    collection_or_404,
    collection_param,
    is_admin,
    registry_or_404,
    registry_param,
    submit,
)

routes = web.RouteTableDef()


class CollectionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    tags: list[str] | None = None


class AliasTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str


class _Target:
    """The collection a change route is about, after the edge checks."""

    def __init__(
        self,
        entity: str,
        registry: RegistrySettings,
        collection: str,
        document: Document,
        link_index: int | None,
    ) -> None:
        self.entity = entity
        self.registry = registry
        self.collection = collection
        self.id = collection_id(entity, registry.name, collection)
        self.aliases = head_aliases(document)  # as of the edge check; the writer checks again
        self.link_index = link_index  # the version the route names, checked active

    def fields(self) -> dict[str, str]:
        return {
            "collection_id": self.id,
            "registry": self.registry.name,
            "collection": self.collection,
        }


async def _target(request: web.Request, *, version: str | None = None) -> _Target:
    """The checked target; with ``version`` (``vN``), also a 404 unless that link is active.
    Every read goes out at once; the errors keep their order: registry, collection, version."""
    entity = _member_entity(request)
    name, collection = registry_param(request), collection_param(request)
    cid = collection_id(entity, name, collection)
    index = None if version is None else _version_index(version)
    reads = request.app[READS]
    registry, document, link = await asyncio.gather(
        registry_or_404(request, entity, name),
        collection_or_404(request, cid),
        reads.link(cid, index) if index is not None else _nothing(),
        return_exceptions=True,
    )
    if isinstance(registry, BaseException):
        raise registry
    if isinstance(document, BaseException):
        raise document
    if isinstance(link, BaseException):
        raise link
    if index is not None and link is None:
        raise ApiError(404, "version_not_found", f"{cid} has no {version}")
    return _Target(entity, registry, collection, document, index)


def _version_index(version: str) -> int:
    index = parse_version(version)
    if index is None:
        raise bad_request(f"name a version such as v3, not {version!r}")
    return index


def _member_entity(request: web.Request) -> str:
    entity = entity_param(request)
    require_role(request, entity, Role.MEMBER)
    return entity


async def _nothing() -> None:
    return None


@routes.patch(COLLECTION_URL)
async def change_collection(request: web.Request) -> web.Response:
    target = await _target(request)
    body = await read_json(request, CollectionChange)
    try:
        description = None if body.description is None else check_description(body.description)
        tags = None if body.tags is None else check_tags(body.tags)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    command = ModelCollectionUpdateRequested(**target.fields(), description=description, tags=tags)
    return await submit(request, entity=target.entity, collection_id=target.id, command=command)


@routes.delete(COLLECTION_URL + "/versions/{version}")
async def unlink(request: web.Request) -> web.Response:
    ref = request.match_info["version"]
    target = await _target(request, version=ref)
    held = [a for a, i in target.aliases.items() if i == target.link_index]
    _guard(request, target, held, "unlink a version that holds")
    command = ModelUnlinkRequested(
        **target.fields(),
        link_index=target.link_index,
        requested_by_admin=is_admin(request, target.entity),
    )
    return await submit(request, entity=target.entity, collection_id=target.id, command=command)


@routes.put(COLLECTION_URL + "/aliases/{alias}")
async def put_alias(request: web.Request) -> web.Response:
    entity = _member_entity(request)  # the role first, then what is wrong with the request
    alias = _alias(request)
    body = await read_json(request, AliasTarget)
    name, collection = registry_param(request), collection_param(request)
    cid = collection_id(entity, name, collection)
    command = ModelAliasChangeRequested(
        collection_id=cid,
        registry=name,
        collection=collection,
        alias=alias,
        link_index=_version_index(body.version),
        requested_by_admin=is_admin(request, entity),
    )
    return await submit(request, entity=entity, collection_id=cid, command=command)


@routes.delete(COLLECTION_URL + "/aliases/{alias}")
async def delete_alias(request: web.Request) -> web.Response:
    target = await _target(request)
    alias = _alias(request)
    if alias not in target.aliases:
        raise not_found(f"no version of {target.id} holds the alias {alias!r}")
    _guard(request, target, [alias], "remove")
    command = ModelAliasChangeRequested(
        **target.fields(),
        alias=alias,
        link_index=None,
        requested_by_admin=is_admin(request, target.entity),
    )
    return await submit(request, entity=target.entity, collection_id=target.id, command=command)


@routes.get(ENTITY_URL + "/commands/{command_id}")
async def get_command(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    command_id = request.match_info["command_id"]
    if not 1 <= len(command_id) <= 64:
        raise bad_request("invalid command id")
    doc = await request.app[READS].command(command_id)
    if doc is not None and doc.get("entity") != entity:
        raise not_found(f"no command {command_id!r} in {entity!r}")
    return web.json_response({"command_id": command_id, **command_result(doc)})


def _alias(request: web.Request) -> str:
    alias = request.match_info["alias"]
    try:
        check_alias(alias)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    if alias == LATEST:
        raise bad_request("'latest' moves by itself to the newest linked version")
    return alias


def _guard(request: web.Request, target: _Target, aliases: list[str], action: str) -> None:
    protected = sorted(a for a in aliases if target.registry.is_protected(a))
    if protected and not is_admin(request, target.entity):
        raise ApiError(
            403,
            "alias_protected",
            f"only an admin may {action} the protected alias(es) {', '.join(protected)} "
            f"in the {target.registry.name!r} registry",
        )
