"""Reading the blob index: existence checks, presigned downloads, per-entity totals."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.blobstore import PresignRequest
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import ApiError
from cairn_shared.http.keys import SETTINGS
from cairn_shared.http.requests import entity_param, read_json
from cairn_shared.manifests import blob_key

from cairn_storage.domain.blobs import unique_digests
from cairn_storage.entrypoints.http.app_keys import BLOBS, INDEX
from cairn_storage.entrypoints.http.models import CheckRequest, DownloadsRequest

routes = web.RouteTableDef()
ENTITY_URL = "/v1/entities/{entity}"


@routes.post(ENTITY_URL + "/blobs/check")
async def check(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    body = await read_json(request, CheckRequest)
    digests = unique_digests(body.digests)
    present = await request.app[INDEX].sizes(entity, digests)
    return web.json_response({"missing": [d for d in digests if d not in present]})


@routes.post(ENTITY_URL + "/downloads")
async def downloads(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.VIEWER)
    body = await read_json(request, DownloadsRequest)
    digests = unique_digests(body.digests)
    present = await request.app[INDEX].sizes(entity, digests)
    missing = [d for d in digests if d not in present]
    if missing:
        raise ApiError(
            404,
            "missing_blobs",
            f"{len(missing)} of the blobs asked for are not stored in {entity!r}",
            details={"missing": missing},
        )
    expires = timedelta(seconds=request.app[SETTINGS].presign_expiry_s)
    urls = await request.app[BLOBS].presign_many(
        [PresignRequest("GET", blob_key(entity, d), expires) for d in digests]
    )
    return web.json_response({"urls": dict(zip(digests, urls, strict=True))})


@routes.get(ENTITY_URL + "/stats")
async def stats(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    totals = await request.app[INDEX].stats(entity)
    return web.json_response({"blobs": totals.blobs, "bytes": totals.bytes})
