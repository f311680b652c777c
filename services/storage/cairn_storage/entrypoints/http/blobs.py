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
    located = await request.app[INDEX].locations(entity, digests)
    missing = [d for d in digests if d not in located]
    if missing:
        raise ApiError(
            404,
            "missing_blobs",
            f"{len(missing)} of the blobs asked for are not stored in {entity!r}",
            details={"missing": missing},
        )
    expires = timedelta(seconds=request.app[SETTINGS].presign_expiry_s)
    keys = list(dict.fromkeys(located[d].key for d in digests))  # a pack's URL serves all
    signed = await request.app[BLOBS].presign_many(
        [PresignRequest("GET", key, expires) for key in keys]
    )
    url_of = dict(zip(keys, signed, strict=True))
    # A packed blob is a byte range of its URL's object: GET it with a Range header.
    ranges = {
        d: {"offset": where.offset, "size": where.size}
        for d in digests
        if (where := located[d]).offset is not None
    }
    return web.json_response(
        {"urls": {d: url_of[located[d].key] for d in digests}, "ranges": ranges}
    )


@routes.get(ENTITY_URL + "/stats")
async def stats(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    totals = await request.app[INDEX].stats(entity)
    return web.json_response({"blobs": totals.blobs, "bytes": totals.bytes})
