"""Reading collections, linked versions and the action history (restricted viewer and up)."""

from __future__ import annotations

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import ApiError, bad_request
from cairn_shared.http.requests import entity_param
from cairn_shared.mongo import Document
from cairn_shared.names import check_alias
from cairn_shared.registry_paths import collection_id, parse_version, version_name

from cairn_registry.domain.aliases import aliases_by_version
from cairn_registry.domain.history import Entry, holder_at, parse_time
from cairn_registry.entrypoints.http.app_keys import READS
from cairn_registry.entrypoints.http.common import (
    COLLECTION_URL,
    REGISTRY_URL,
    collection_or_404,
    collection_param,
    filter_param,
    limit_param,
    page,
    registry_or_404,
    registry_param,
)
from cairn_registry.entrypoints.http.views import (
    COLLECTION_FIELDS,
    VERSION_FIELDS,
    collection_searchable,
    collection_view,
    history_view,
    version_searchable,
    version_view,
)

routes = web.RouteTableDef()


@routes.get(REGISTRY_URL + "/collections")
async def list_collections(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    registry = registry_param(request)
    matches = filter_param(request, COLLECTION_FIELDS)
    limit = limit_param(request)
    await registry_or_404(request, entity, registry)
    docs = request.app[READS].collections(entity, registry, after=request.query.get("after"))
    found, cursor = await page(
        docs,
        matches=lambda d: matches(collection_searchable(d)),
        limit=limit,
        cursor=lambda d: str(d["name"]),
    )
    return web.json_response({"collections": [collection_view(d) for d in found], "next": cursor})


@routes.get(COLLECTION_URL)
async def get_collection(request: web.Request) -> web.Response:
    cid = _collection_id(request)
    doc = await collection_or_404(request, cid)
    aliases = await request.app[READS].aliases(cid)
    return web.json_response(collection_view(doc, aliases))


@routes.get(COLLECTION_URL + "/versions")
async def list_versions(request: web.Request) -> web.Response:
    cid = _collection_id(request)
    matches = filter_param(request, VERSION_FIELDS)
    limit = limit_param(request)
    after = request.query.get("after")
    before = parse_version(after) if after is not None else None
    if after is not None and before is None:
        raise bad_request(f"after must be a version such as v3, not {after!r}")
    await collection_or_404(request, cid)
    reads = request.app[READS]
    by_version = aliases_by_version(await reads.aliases(cid))
    found, cursor = await page(
        reads.links(cid, before=before),
        matches=lambda d: matches(version_searchable(d, by_version.get(d["link_index"], []))),
        limit=limit,
        cursor=lambda d: version_name(d["link_index"]),
    )
    versions = [version_view(d, by_version.get(d["link_index"], [])) for d in found]
    return web.json_response({"versions": versions, "next": cursor})


@routes.get(COLLECTION_URL + "/versions/{ref}")
async def get_version(request: web.Request) -> web.Response:
    cid = _collection_id(request)
    await collection_or_404(request, cid)
    link = await resolve_ref(request, cid, request.match_info["ref"])
    aliases = aliases_by_version(await request.app[READS].aliases(cid))
    return web.json_response(version_view(link, aliases.get(link["link_index"], [])))


@routes.get(COLLECTION_URL + "/history")
async def get_history(request: web.Request) -> web.Response:
    cid = _collection_id(request)
    alias = request.query.get("alias")
    if alias is not None:
        _check_alias(alias)
    at_text = request.query.get("at")
    await collection_or_404(request, cid)
    reads = request.app[READS]
    if at_text is not None:
        if alias is None:
            raise bad_request("'at' asks who held an alias then: give 'alias' too")
        try:
            at = parse_time(at_text)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        entries = [_entry(d) for d in await reads.last_alias_change(cid, alias, at)]
        index = holder_at(entries, alias, at)
        version = version_name(index) if index is not None else None
        return web.json_response({"alias": alias, "at": at.isoformat(), "version": version})
    limit = limit_param(request)
    after = request.query.get("after", "0")
    if not after.isdigit():
        raise bad_request(f"after must be an entry's seq, not {after!r}")
    entries_docs = await reads.history(cid, alias=alias, after=int(after), limit=limit)
    cursor = str(entries_docs[-1]["seq"]) if len(entries_docs) == limit else None
    return web.json_response({"entries": [history_view(d) for d in entries_docs], "next": cursor})


async def resolve_ref(request: web.Request, cid: str, ref: str) -> Document:
    """``vN`` or an alias → the active linked version, or 404."""
    reads = request.app[READS]
    index = parse_version(ref)
    if index is None:
        _check_alias(ref)
        index = (await reads.aliases(cid)).get(ref)
    link = await reads.link(cid, index) if index is not None else None
    if link is None:
        raise ApiError(404, "version_not_found", f"{cid} has no version or alias {ref!r}")
    return link


def _collection_id(request: web.Request) -> str:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    return collection_id(entity, registry_param(request), collection_param(request))


def _check_alias(alias: str) -> None:
    try:
        check_alias(alias)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def _entry(doc: Document) -> Entry:
    return Entry(
        seq=doc["seq"],
        at=doc["at"],
        action=doc["action"],
        link_index=doc.get("link_index"),
        alias=doc.get("alias", ""),
    )
