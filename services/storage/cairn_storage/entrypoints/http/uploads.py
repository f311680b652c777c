"""Upload routes: open sessions (presigned PUTs), then complete them (verify and record)."""

from __future__ import annotations

import time

import structlog
from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.blobstore import UploadedPart
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import ApiError, bad_request
from cairn_shared.http.keys import PUBLISHER
from cairn_shared.http.requests import cause, entity_param, read_json

from cairn_storage.domain.blobs import Blob, unique_blobs
from cairn_storage.domain.packs import Pack
from cairn_storage.domain.verification import Failure, error_code
from cairn_storage.entrypoints.http.app_keys import BLOBS, INDEX, POLICY, STORAGE_METRICS
from cairn_storage.entrypoints.http.models import (
    CompletedSpec,
    CompleteRequest,
    PackSpec,
    UploadsRequest,
)
from cairn_storage.service_layer.completion import Completed, complete_uploads
from cairn_storage.service_layer.uploads import TooManyPartsError, open_uploads

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()
ENTITY_URL = "/v1/entities/{entity}"


@routes.post(ENTITY_URL + "/uploads")
async def uploads(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.MEMBER)
    body = await read_json(request, UploadsRequest)
    try:
        blobs = unique_blobs(Blob(b.digest, b.size) for b in body.blobs)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    app = request.app
    try:
        sessions = await open_uploads(
            entity,
            blobs,
            index=app[INDEX],
            store=app[BLOBS],
            policy=app[POLICY],
            packable={b.digest for b in body.blobs if b.packable},
        )
    except TooManyPartsError as exc:
        raise bad_request(str(exc)) from None
    if sessions.conflicts:
        raise _mismatch(sessions.conflicts, "the index holds these blobs with other sizes")
    return web.json_response(
        {"present": sessions.present, "uploads": sessions.uploads, "packs": sessions.packs}
    )


@routes.post(ENTITY_URL + "/uploads/complete")
async def complete(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.MEMBER)
    body = await read_json(request, CompleteRequest)
    completed = _unique_completions(body.blobs)
    packs = _packs(body.packs, already={c.blob.digest for c in completed})
    app = request.app
    started = time.perf_counter()
    result = await complete_uploads(
        entity,
        completed,
        packs=packs,
        index=app[INDEX],
        store=app[BLOBS],
        publisher=app[PUBLISHER],
        cause=cause(request),
        concurrency=app[POLICY].concurrency,
    )
    metrics = app[STORAGE_METRICS]
    metrics.completed(newly_stored=result.newly_stored, bytes_verified=result.bytes_verified)
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    blob_count = len(completed) + sum(len(p.members) for p in packs)
    if result.failures:
        metrics.failed(result.failures)
        log.warning(
            "uploads.rejected",
            entity=entity,
            blobs=blob_count,
            packs=len(packs),
            failed=len(result.failures),
            first=result.failures[0].as_json(),
            duration_ms=elapsed_ms,
            **result.laps,
        )
        raise _mismatch(result.failures, "some uploads are not the blobs declared")
    log.info(
        "uploads.completed",
        entity=entity,
        blobs=blob_count,
        packs=len(packs),
        new=result.newly_stored,
        bytes_verified=result.bytes_verified,
        duration_ms=elapsed_ms,
        **result.laps,
    )
    return web.json_response({"stored": result.stored})


def _unique_completions(specs: list[CompletedSpec]) -> list[Completed]:
    """One completion per digest; the same digest twice must say the same thing."""
    seen: dict[str, Completed] = {}
    for spec in specs:
        parts = tuple(UploadedPart(p.part_number, p.etag) for p in spec.parts or ())
        item = Completed(Blob(spec.digest, spec.size), spec.upload_id, parts)
        if seen.setdefault(spec.digest, item) != item:
            raise bad_request(f"blob {spec.digest} is listed twice, differently")
    return list(seen.values())


def _packs(specs: list[PackSpec], *, already: set[str]) -> list[Pack]:
    """The packs, each named by the id of its member list; a blob is completed once."""
    packs: list[Pack] = []
    seen = set(already)
    for spec in specs:
        pack = Pack.of(Blob(m.digest, m.size) for m in spec.members)
        if pack.id != spec.pack_id:
            raise bad_request(f"pack {spec.pack_id} was opened with other members")
        for blob in pack.blobs:
            if blob.digest in seen:
                raise bad_request(f"blob {blob.digest} is listed twice")
            seen.add(blob.digest)
        packs.append(pack)
    return packs


def _mismatch(failures: list[Failure], message: str) -> ApiError:
    return ApiError(
        409,
        error_code(failures),
        f"{message}: nothing was recorded; see details.failed",
        details={"failed": [f.as_json() for f in failures]},
    )
